/**
 * The Prometheus metrics: a scripted sequence (publish, hold, deliver, drop a
 * stream at its byte budget, serve a gap, refuse a cursor, close) moves each
 * counter and gauge as docs/guides/operations.md says, read back through a
 * prom-client registry; the exposition passes `promtool check metrics`
 * (Prometheus's own parser) when it is installed, and no label value comes
 * from request data.
 */
import { spawnSync } from 'node:child_process';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus, longpoll, type MemoryBus, stream } from '../../index.js';
import { closeAll, listen, type Running } from './helpers/server.js';
import { rawGet } from './raw-http.js';

afterEach(closeAll);

class Rooms {
  @longpoll('/rooms/:room/messages')
  messages(ctx: RouterContext) {
    return `room:${ctx.params.room}`;
  }

  @stream('/rooms/:room/live', { maxBytes: 300 })
  live(ctx: RouterContext) {
    return `room:${ctx.params.room}`;
  }

  @stream('/rooms/:room/slow', { maxQueuedBytes: 256 * 1024 })
  slow(ctx: RouterContext) {
    return `room:${ctx.params.room}`;
  }
}

async function start(registry: Registry, bus: MemoryBus = createMemoryBus()): Promise<Running> {
  const app = new Koa();
  const push = comet({ bus, controllers: [Rooms], channelLinger: 0, metrics: { registry } });
  app.use(push);
  return listen(app, push, bus);
}

/** The value of one sample, summed over the samples matching `labels`. */
async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const metric = registry.getSingleMetric(base);
  if (metric === undefined) throw new Error(`no metric ${base}`);
  const { values } = await metric.get();
  let sum = 0;
  for (const sample of values) {
    const sampleName = (sample as { metricName?: string }).metricName ?? base;
    if (sampleName !== name) continue;
    const l = sample.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, v]) => String(l[k]) === v)) sum += sample.value;
  }
  return sum;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('comet_* metrics', () => {
  it('move as documented through a scripted sequence', async () => {
    const registry = new Registry();
    const bus = createMemoryBus({ historyLimit: 3 });
    const r = await start(registry, bus);

    // Publish: the bus counts it.
    const first = await bus.publish('room:a', { n: 0 });
    expect(await value(registry, 'comet_publishes_total')).toBe(1);
    expect(await value(registry, 'comet_published_bytes_total')).toBe(
      JSON.stringify({ n: 0 }).length,
    );

    // Hold a long-poll: the held gauge goes up, the channel is followed.
    // A poller with a cursor before it is answered at once, without being held.
    await (await fetch(`${r.base}/rooms/a/messages?cursor=earliest`)).json();
    const held = fetch(`${r.base}/rooms/a/messages?timeout=20`);
    await eventually(
      async () => (await value(registry, 'comet_held_requests', { transport: 'long-poll' })) === 1,
      'held',
    );
    expect(await value(registry, 'comet_channels')).toBe(1);
    expect(await value(registry, 'comet_bus_subscriptions')).toBe(1);

    // Deliver: one response with one message; the held gauge falls back.
    await bus.publish('room:a', { n: 1 });
    const answer = (await (await held).json()) as { messages: unknown[] };
    expect(answer.messages).toHaveLength(1);
    expect(await value(registry, 'comet_held_requests', { transport: 'long-poll' })).toBe(0);
    expect(await value(registry, 'comet_deliveries_total', { transport: 'long-poll' })).toBe(2);
    expect(await value(registry, 'comet_responses_total', { transport: 'long-poll' })).toBe(2);
    expect(
      await value(registry, 'comet_longpoll_held_seconds_count', { transport: 'long-poll' }),
    ).toBe(1);
    expect(
      await value(registry, 'comet_delivery_latency_seconds_count', { transport: 'long-poll' }),
    ).toBe(1);
    expect(
      await value(registry, 'comet_written_bytes_total', { transport: 'long-poll' }),
    ).toBeGreaterThan(50);

    // A stream that reaches its 300-byte budget is closed, counted as such.
    const controller = new AbortController();
    const res = await fetch(`${r.base}/rooms/b/live?transport=ndjson`, {
      signal: controller.signal,
    });
    await eventually(
      async () => (await value(registry, 'comet_open_streams', { transport: 'ndjson' })) === 1,
      'stream open',
    );
    const body = res.text().catch(() => '');
    for (let i = 0; i < 6; i++) await bus.publish('room:b', { text: 'x'.repeat(60), i });
    await body;
    await eventually(
      async () => (await value(registry, 'comet_open_streams', { transport: 'ndjson' })) === 0,
      'stream closed',
    );
    expect(await value(registry, 'comet_slow_consumers_closed_total', { reason: 'budget' })).toBe(
      1,
    );
    expect(
      await value(registry, 'comet_streams_closed_total', {
        transport: 'ndjson',
        reason: 'budget',
      }),
    ).toBe(1);
    expect(
      await value(registry, 'comet_deliveries_total', { transport: 'ndjson' }),
    ).toBeGreaterThanOrEqual(3);
    expect(
      await value(registry, 'comet_delivery_latency_seconds_count', { transport: 'ndjson' }),
    ).toBeGreaterThanOrEqual(3);
    controller.abort();

    // A reader that never reads is dropped once its queue passes the bound.
    const slow = await rawGet(r.base, '/rooms/s/slow?transport=ndjson');
    slow.socket.pause();
    const big = 'x'.repeat(60 * 1024);
    const dropped = () => value(registry, 'comet_slow_consumers_closed_total', { reason: 'queue' });
    for (let i = 0; i < 2000 && (await dropped()) === 0; i++) {
      await bus.publish('room:s', big);
      await new Promise((resolve) => setImmediate(resolve));
    }
    slow.socket.destroy();
    expect(await dropped()).toBe(1);
    expect(
      await value(registry, 'comet_streams_closed_total', { transport: 'ndjson', reason: 'slow' }),
    ).toBe(1);

    // A gap: the first id is out of the 3-message history by now.
    for (let i = 0; i < 4; i++) await bus.publish('room:a', { n: 10 + i });
    const gap = (await (await fetch(`${r.base}/rooms/a/messages?cursor=${first.id}`)).json()) as {
      gap: boolean;
    };
    expect(gap.gap).toBe(true);
    expect(await value(registry, 'comet_gaps_total')).toBe(1);

    // A refused cursor.
    const refused = await fetch(`${r.base}/rooms/a/messages?cursor=%00`);
    expect(refused.status).toBe(400);
    await refused.body?.cancel();
    expect(await value(registry, 'comet_cursor_refusals_total')).toBe(1);
    expect(
      await value(registry, 'comet_errors_total', { code: 'COMET_ERR_CURSOR_MALFORMED' }),
    ).toBe(1);

    // Close with a request held: it is drained.
    const last = fetch(`${r.base}/rooms/c/messages?timeout=20`);
    await eventually(
      async () => (await value(registry, 'comet_held_requests', { transport: 'long-poll' })) === 1,
      'held again',
    );
    await r.close();
    expect((await last).status).toBe(200);
    expect(await value(registry, 'comet_shutdown_drains_total')).toBe(1);
  });

  it('exposes text Prometheus parses, with no label value taken from a request', async () => {
    const registry = new Registry();
    const r = await start(registry);
    const room = 'secret-room-name';
    await r.bus.publish(`room:${room}`, { text: 'hi' });
    const cursor = encodeURIComponent('not-a-cursor\u0001');
    await (await fetch(`${r.base}/rooms/${room}/messages?timeout=0`)).text();
    await (await fetch(`${r.base}/rooms/${room}/messages?cursor=${cursor}`)).text();
    const text = await registry.metrics();
    expect(text).toContain('comet_deliveries_total');
    expect(text).not.toContain(room);
    expect(text).not.toContain('not-a-cursor');
    expect(text).not.toContain('127.0.0.1');
    // Every label value is one of a closed set: transports, reasons, codes.
    const allowed =
      /^(long-poll|jsonp|poll|sse|ndjson|multipart|iframe|websocket|ended|lifetime|budget|slow|failed|disconnect|queue|peer|COMET_ERR_[A-Z_]+|\d+|[\d.e+-]+|\+Inf)$/;
    for (const [, label] of text.matchAll(/="([^"]*)"/g)) expect(label).toMatch(allowed);

    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (promtool.error && process.env.CI !== 'true') {
      console.warn("\n*** promtool not found: exposition not checked by Prometheus's parser ***\n");
      return;
    }
    expect(promtool.error).toBeUndefined();
    expect(promtool.stdout + promtool.stderr).not.toMatch(/error/i);
    expect(promtool.status).toBe(0);
  });

  it('sums several comet instances on one registry; a closed one keeps its counter totals', async () => {
    const registry = new Registry();
    const one = await start(registry);
    const two = await start(registry);
    await one.bus.publish('room:x', 1);
    await two.bus.publish('room:x', 2);
    await two.bus.publish('room:x', 3);
    expect(await value(registry, 'comet_publishes_total')).toBe(3);
    await two.close();
    await one.bus.publish('room:x', 4);
    expect(await value(registry, 'comet_publishes_total')).toBe(4);
    expect(await value(registry, 'comet_bus_subscriptions')).toBe(0);
  });
});
