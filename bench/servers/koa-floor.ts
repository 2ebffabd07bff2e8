/**
 * Koa's own floor for long-poll (`npm run bench -- churn --koa-floor`): the
 * raw server's exact logic (raw-longpoll-handler.ts) run as a `@koa/router`
 * route that hands `req`/`res` over (`ctx.respond = false`). No framework
 * code at all — what any Koa long-poll route costs before it does
 * anything, so a reader can tell Koa's share from koa-comet's.
 */
import { createServer } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import { serveBench } from '../lib/control.js';
import { handleRaw, startSweep } from './raw-longpoll-handler.js';

const app = new Koa();
const router = new Router();
const viaKoa = (ctx: Koa.Context) => {
  ctx.respond = false;
  handleRaw(ctx.req, ctx.res);
};
router.get('/rooms/:room/messages', viaKoa);
router.post('/rooms/:room/messages', viaKoa);
app.use(async (_ctx, next) => {
  await next();
});
app.use(router.routes());

const server = createServer(app.callback());
startSweep();
serveBench(server, { longpoll: true, stream: false });
