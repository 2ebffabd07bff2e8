/**
 * The framework under test: a Koa app whose long-poll and stream routes are
 * koa-comet decorators, plus a small hand-written publish route. Same wire
 * contract and same http server settings as the raw servers. As in
 * examples/chat, `comet()` is the first middleware, so the default
 * `direct: 'auto'` answers decorated routes by direct dispatch;
 * `BENCH_VIA_KOA=1` (`--via-koa`) sets `direct: false`, sending them through
 * Koa's middleware stack instead.
 *
 * `BENCH_METRICS=1` turns Prometheus metrics on (the metrics scenario).
 * `BENCH_H2=1` serves cleartext HTTP/2 (h2c, `http2.createServer`) instead
 * of HTTP/1.1: the fanout scenario's HTTP/2 figure.
 *
 * `BENCH_BUS=redis` swaps the memory bus for the Redis bus (`REDIS_URL`,
 * `BENCH_REDIS_PREFIX`, `BENCH_BUS_NAME`): the redis scenario runs two of
 * these processes on one Redis. The IPC message `bus` answers with the
 * bus's local listeners and Redis Pub/Sub subscriptions.
 */
import '../../lib/base/symbol-metadata.js';
import { createServer, type Server } from 'node:http';
import { createServer as createH2cServer } from 'node:http2';
import type { Context } from 'koa';
import Koa from 'koa';
import {
  type Bus,
  comet,
  createMemoryBus,
  createRedisBus,
  longpoll,
  type RedisBus,
  readJsonBody,
  stream,
} from '../../index.js';
import { serveBench } from '../lib/control.js';

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

/** The bus this process uses; a Redis bus is awaited so the first request finds it up. */
async function createBus(): Promise<{ bus: Bus; redis?: RedisBus }> {
  if (process.env['BENCH_BUS'] !== 'redis') return { bus: createMemoryBus() };
  const redis = createRedisBus({
    url: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    keyPrefix: process.env['BENCH_REDIS_PREFIX'] ?? 'comet-bench:',
    name: process.env['BENCH_BUS_NAME'] ?? 'comet-bench',
  });
  try {
    await redis.ready(5000);
  } catch (e) {
    process.send?.({ type: 'error', message: `Redis bus not ready: ${(e as Error).message}` });
    process.exit(1);
  }
  return { bus: redis, redis };
}

const { bus, redis } = await createBus();
const app = new Koa();

const PUBLISH = /^\/rooms\/([^/]+)\/messages$/;
const viaKoa = process.env['BENCH_VIA_KOA'] === '1';
// `BENCH_METRICS=1` (the metrics scenario): Prometheus metrics on, on a registry of its own.
const metrics =
  process.env['BENCH_METRICS'] === '1'
    ? { registry: new (await import('prom-client')).Registry() }
    : undefined;
const push = comet({
  bus,
  controllers: [Rooms],
  ...(viaKoa ? { direct: false } : {}),
  ...(metrics ? { metrics } : {}),
});
app.use(push);
// The publish route, hand-written as examples/chat does it (not what is measured).
app.use(async (ctx, next) => {
  const m = ctx.method === 'POST' ? PUBLISH.exec(ctx.path) : null;
  if (!m) return next();
  const data = await readJsonBody(ctx, { limit: 65_536 });
  const message = await bus.publish(`room:${decodeURIComponent(m[1]!)}`, data);
  ctx.body = { id: message.id };
});

const h2 = process.env['BENCH_H2'] === '1';
const server = h2 ? createH2cServer(app.callback()) : createServer(app.callback());
push.attach(server, app);
// serveBench's HTTP/1.1 timeouts are plain properties: harmless on an http2 server.
serveBench(server as Server, { longpoll: true, stream: true, h2, redis: redis !== undefined });
process.on('message', (m: { type: string }) => {
  if (m.type !== 'bus') return;
  process.send?.({
    type: 'bus',
    listeners: redis?.subscriberCount() ?? -1,
    subscriptions: redis?.redisSubscriptionCount() ?? -1,
  });
});
