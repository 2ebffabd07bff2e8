/**
 * Tutorial step 2: a POST route that publishes what it receives, next to
 * the step-1 long-poll route.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { comet, createMemoryBus, readJsonBody } from '../../index.js';
import { Chat } from './01-first-longpoll.js';
import { listenExample } from './support/listen.js';

/** Starts the step-2 app: `GET` (long-poll) and `POST /rooms/:room/messages`. */
export async function start(port = 0) {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({ bus, controllers: [Chat] });

  // #region publish
  const router = new Router();
  router.post('/rooms/:room/messages', async (ctx) => {
    // Any JSON value up to 64 KiB; 415 if not JSON, 413 if larger, 400 if malformed.
    const data = await readJsonBody(ctx);
    // A client retrying after a 503 sends the same Idempotency-Key: stored once.
    const idempotencyKey = ctx.get('Idempotency-Key') || undefined;
    const message = await bus.publish(`room:${ctx.params.room}`, data, { idempotencyKey });
    ctx.status = 201;
    ctx.body = { id: message.id };
  });

  app.use(push); // first: it answers the comet routes and renders coded errors
  app.use(router.routes());
  // #endregion publish

  return listenExample(app, push, bus, port);
}
