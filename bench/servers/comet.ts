/**
 * The framework under test: a Koa app whose long-poll and stream routes are
 * koa-comet decorators, plus a small hand-written publish route. Same wire
 * contract and same http server settings as the raw servers.
 */
import '../../lib/symbol-metadata.js';
import { createServer } from 'node:http';
import type { Context } from 'koa';
import Koa from 'koa';
import { comet, createMemoryBus, longpoll, readJsonBody, stream } from '../../index.js';
import { attachControl } from '../lib/control.js';

class Rooms {
  @longpoll('/rooms/:room/messages')
  messages(ctx: Context) {
    return `room:${ctx.params['room']}`;
  }

  @stream('/rooms/:room/live')
  live(ctx: Context) {
    return `room:${ctx.params['room']}`;
  }
}

const bus = createMemoryBus();
const app = new Koa();

const PUBLISH = /^\/rooms\/([^/]+)\/messages$/;
app.use(comet({ bus, controllers: [Rooms] }));
// The publish route, hand-written as examples/chat does it (not what is measured).
app.use(async (ctx, next) => {
  const m = ctx.method === 'POST' ? PUBLISH.exec(ctx.path) : null;
  if (!m) return next();
  const data = await readJsonBody(ctx, { limit: 65_536 });
  const message = await bus.publish(`room:${decodeURIComponent(m[1]!)}`, data);
  ctx.body = { id: message.id };
});

const server = createServer(app.callback());
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
attachControl(server, { longpoll: true, stream: true });
