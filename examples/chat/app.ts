/**
 * The demo chat app: rooms you can publish to and follow by long-poll,
 * JSONP, poll or stream, and the demo page at `GET /`. `createChatApp()`
 * builds it; `server.ts` runs it.
 */
import '../../lib/base/symbol-metadata.js';
import { readFile } from 'node:fs/promises';
import Router, { type RouterContext } from '@koa/router';
import Koa from 'koa';
import {
  type Bus,
  CometError,
  type CometMiddleware,
  type CorsOptions,
  comet,
  longpoll,
  type MetricsRegistry,
  poll,
  publish,
  stream,
} from '../../index.js';

const ROOM = /^[\w-]{1,64}$/;

function room(ctx: RouterContext): string {
  const name = ctx.params.room ?? '';
  if (!ROOM.test(name)) ctx.throw(404, 'No such room');
  return `room:${name}`;
}

/** The rooms controller: one channel per room. */
export class Rooms {
  @longpoll('/rooms/:room/messages')
  messages(ctx: RouterContext) {
    return room(ctx);
  }

  // POST a JSON body here to publish it to the room (201 {"id"}); 64 KiB
  // at most, and a retry with the same Idempotency-Key stores it once.
  @publish('/rooms/:room/messages')
  post(ctx: RouterContext) {
    return room(ctx);
  }

  @poll('/rooms/:room/unread')
  unread(ctx: RouterContext) {
    return room(ctx);
  }

  // WebSocket clients may publish on the socket too, acked with the id;
  // the same 64 KiB limit as POST /rooms/:room/messages.
  @stream('/rooms/:room/live', { publish: { allow: () => true, limit: 65_536 } })
  live(ctx: RouterContext) {
    return room(ctx);
  }
}

/** Options of {@link createChatApp}. */
export interface ChatAppOptions {
  bus: Bus;
  cors?: CorsOptions;
  /** See `CometOptions.channelLinger`. */
  channelLinger?: number;
  /**
   * See `CometOptions.direct`. The default, `'auto'`, answers the room
   * routes directly: `comet()` is this app's first middleware.
   */
  direct?: boolean | 'auto';
  /**
   * A prom-client `Registry`: the comet metrics are registered on it and
   * served as text at `GET /metrics` (see `docs/guides/operations.md`).
   */
  metrics?: MetricsRegistry & { metrics(): Promise<string>; readonly contentType: string };
}

/** Builds the demo Koa app and its comet middleware. */
export function createChatApp(options: ChatAppOptions): { app: Koa; push: CometMiddleware } {
  const app = new Koa();
  const push = comet({
    bus: options.bus,
    controllers: [Rooms],
    ...(options.cors ? { cors: options.cors } : {}),
    ...(options.channelLinger !== undefined ? { channelLinger: options.channelLinger } : {}),
    ...(options.direct !== undefined ? { direct: options.direct } : {}),
    ...(options.metrics ? { metrics: { registry: options.metrics } } : {}),
  });
  const router = new Router();
  // The demo page (public/index.html); read per request so edits show on reload.
  router.get('/', async (ctx) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await readFile(new URL('./public/index.html', import.meta.url));
  });
  // Liveness: the process answers (200), and says how its bus is doing.
  router.get('/health', (ctx) => {
    const bus = options.bus.state?.() ?? { status: 'ready' };
    ctx.body = { ok: bus.status === 'ready' || bus.status === 'degraded', bus, ...push.stats() };
  });
  // Readiness: 503 while the bus cannot reach its backend, so a load
  // balancer sends traffic elsewhere.
  router.get('/ready', (ctx) => {
    const bus = options.bus.state?.() ?? { status: 'ready' };
    if (bus.status === 'down' || bus.status === 'closed') {
      throw new CometError('COMET_ERR_BUS_UNAVAILABLE');
    }
    ctx.body = { ready: true, bus };
  });
  // The demo page's status panel: the same counts the metrics read.
  router.get('/status', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = push.stats();
  });
  const registry = options.metrics;
  if (registry) {
    router.get('/metrics', async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.type = registry.contentType;
      ctx.body = await registry.metrics();
    });
  }
  app.use(push);
  app.use(router.routes());
  return { app, push };
}
