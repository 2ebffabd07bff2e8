/**
 * Tutorial step 2: a POST route that publishes what it receives, next to
 * the step-1 long-poll route — written by hand (`start`), then as a
 * `@publish` route (`startDecorated`).
 */
import Router, { type RouterContext } from '@koa/router';
import Koa from 'koa';
import { comet, createMemoryBus, longpoll, publish, readJsonBody } from '../../index.js';
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

// #region decorated
class Room {
  @longpoll('/rooms/:room/messages')
  messages(ctx: RouterContext) {
    return `room:${ctx.params.room}`;
  }

  // POST /rooms/lobby/messages → 201 {"id"}: the same checks, limits and
  // Idempotency-Key as the route above, answered before Koa's stack.
  @publish('/rooms/:room/messages')
  post(ctx: RouterContext) {
    return `room:${ctx.params.room}`;
  }
}
// #endregion decorated

/** Starts the step-2 app with the `@publish` route instead of the hand-written one. */
export async function startDecorated(port = 0) {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({ bus, controllers: [Room] });
  app.use(push);
  return listenExample(app, push, bus, port);
}
