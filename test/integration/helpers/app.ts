/**
 * The integration tests' own small app: the same routes as the demo chat
 * (examples/chat/app.ts) — rooms followed by long-poll, poll and stream,
 * `POST /rooms/:room/messages` (`@publish`), `/health`, `/ready`, `/status`, `/metrics` —
 * built here so a change to the demo does not move the tests. The tests
 * that check the demo itself (its page, its process) still run the demo.
 */
import '../../../lib/base/symbol-metadata.js';
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
} from '../../../index.js';

const ROOM = /^[\w-]{1,64}$/;

/** The channel of `/rooms/:room/…`; 404 for a name out of shape. */
function room(ctx: RouterContext): string {
  const name = ctx.params.room ?? '';
  if (!ROOM.test(name)) ctx.throw(404, 'No such room');
  return `room:${name}`;
}

/** One channel per room, on every transport. */
export class TestRooms {
  @longpoll('/rooms/:room/messages')
  messages(ctx: RouterContext) {
    return room(ctx);
  }

  @publish('/rooms/:room/messages')
  post(ctx: RouterContext) {
    return room(ctx);
  }

  @poll('/rooms/:room/unread')
  unread(ctx: RouterContext) {
    return room(ctx);
  }

  @stream('/rooms/:room/live', { publish: { allow: () => true, limit: 65_536 } })
  live(ctx: RouterContext) {
    return room(ctx);
  }
}

/** Options of {@link createTestApp}. */
export interface TestAppOptions {
  bus: Bus;
  cors?: CorsOptions;
  channelLinger?: number;
  direct?: boolean | 'auto';
  metrics?: MetricsRegistry & { metrics(): Promise<string>; readonly contentType: string };
}

/** Builds the test app and its comet middleware (comet first, then the router). */
export function createTestApp(options: TestAppOptions): { app: Koa; push: CometMiddleware } {
  const { bus } = options;
  const app = new Koa();
  const push = comet({
    bus,
    controllers: [TestRooms],
    ...(options.cors ? { cors: options.cors } : {}),
    ...(options.channelLinger !== undefined ? { channelLinger: options.channelLinger } : {}),
    ...(options.direct !== undefined ? { direct: options.direct } : {}),
    ...(options.metrics ? { metrics: { registry: options.metrics } } : {}),
  });
  const router = new Router();
  router.get('/health', (ctx) => {
    const state = bus.state?.() ?? { status: 'ready' };
    ctx.body = {
      ok: state.status === 'ready' || state.status === 'degraded',
      bus: state,
      ...push.stats(),
    };
  });
  router.get('/ready', (ctx) => {
    const state = bus.state?.() ?? { status: 'ready' };
    if (state.status === 'down' || state.status === 'closed') {
      throw new CometError('COMET_ERR_BUS_UNAVAILABLE');
    }
    ctx.body = { ready: true, bus: state };
  });
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
