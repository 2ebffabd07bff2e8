/**
 * The demo app on a Redis bus under faults, seen by real clients: a Pub/Sub
 * connection cut for overflowing its output buffer while history is trimmed
 * (every stream transport gets its `reset` frame, then live messages), a
 * slow first read of the head (a "from now" long-poll keeps its place), a
 * stalled Redis (503 in time, an idempotent retry stores once), and the
 * health and readiness routes. Each test starts its OWN `redis-server`.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRedisBus, type RedisBus, type RedisBusOptions } from '../../lib/bus/redis.js';
import type { CometMiddleware } from '../../middleware/comet.js';
import {
  adminClient,
  hasRedisServer,
  type RedisServer,
  startRedisServer,
  waitFor,
} from '../helpers/redis-server.js';
import { whenMet } from '../helpers/requirement.js';
import { createTestApp } from './helpers/app.js';

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(flags: readonly string[] = []): Promise<RedisServer> {
  const started = await startRedisServer(flags);
  cleanups.push(() => started.stop());
  return started;
}

function bus(on: RedisServer, options: RedisBusOptions = {}): RedisBus {
  const created = createRedisBus({
    url: on.url,
    keyPrefix: 'http-faults:',
    readyTimeout: 200,
    reconnect: { baseDelay: 20, maxDelay: 200 },
    ...options,
  });
  cleanups.push(() => created.close());
  return created;
}

/** The demo app on `appBus`, listening on 127.0.0.1:0. */
async function demo(appBus: RedisBus): Promise<{ base: string; push: CometMiddleware }> {
  await appBus.ready();
  const { app, push } = createTestApp({ bus: appBus, channelLinger: 50 });
  const http: Server = app.listen(0, '127.0.0.1');
  await once(http, 'listening');
  push.attach(http, app);
  cleanups.push(async () => {
    const done = push.close();
    http.closeAllConnections();
    await done;
    if (http.listening) await new Promise((resolve) => http.close(resolve));
  });
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { base: `http://127.0.0.1:${port}`, push };
}

/** Reads a streamed response into `text` until cancelled at clean-up. */
async function follow(url: string, accept: string): Promise<{ text: () => string }> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { Accept: accept }, signal: abort.signal });
  expect(res.status).toBe(200);
  let text = '';
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (chunk.done) return;
      text += decoder.decode(chunk.value, { stream: true });
    }
  })();
  cleanups.push(() => {
    abort.abort();
    return undefined;
  });
  return { text: () => text };
}

async function followWebSocket(url: string): Promise<{ text: () => string }> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(String(data)));
  await once(ws, 'open');
  cleanups.push(() => {
    ws.terminate();
    return undefined;
  });
  return { text: () => frames.join('\n') };
}

whenMet(
  {
    met: hasRedisServer,
    tests: 'the demo-on-Redis fault tests',
    needs: 'a redis-server binary',
    hint: 'apt-get install redis-server',
  },
  () => {
    describe('the demo app on a Redis bus under faults', () => {
      it('Pub/Sub cut for output-buffer overflow while history is trimmed: SSE, NDJSON and WebSocket each get a reset, then live messages', async () => {
        const redis = await server();
        const { base } = await demo(bus(redis));
        const publisher = bus(redis, { maxLen: 3, exactTrim: true });
        await publisher.ready();
        const live = `${base}/rooms/cut/live`;
        const clients = {
          sse: await follow(live, 'text/event-stream'),
          ndjson: await follow(`${live}?transport=ndjson`, 'application/x-ndjson'),
          websocket: await followWebSocket(live.replace('http:', 'ws:')),
        };
        const all = Object.values(clients);
        // Connected and following: each sees a first message.
        await waitFor(async () => {
          await publisher.publish('room:cut', 'hello');
          return all.every((c) => c.text().includes('"hello"'));
        });

        const control = await adminClient(redis);
        await control.configSet('client-output-buffer-limit', 'pubsub 16kb 0 0');
        await control.close();
        // One wake-up bigger than the limit cuts the app's Pub/Sub connection;
        // the rest go out in the same pipeline, past maxLen, before it is back.
        await Promise.all([
          publisher.publish('room:cut', { big: 'x'.repeat(40_000) }),
          ...Array.from({ length: 10 }, (_, n) => publisher.publish('room:cut', `lost-${n}`)),
        ]);
        await waitFor(() => all.every((c) => c.text().includes('"gap":true')), 10_000);
        await publisher.publish('room:cut', 'after');
        await waitFor(() => all.every((c) => c.text().includes('"after"')));
        for (const client of all) {
          const text = client.text();
          expect(text.indexOf('"gap":true')).toBeLessThan(text.indexOf('"after"'));
          expect(text).not.toContain('lost-0');
        }
        expect(clients.sse.text()).toMatch(/event: reset\nid: [^\n]+\ndata: \{"gap":true,/);
      });

      it('a "from now" long-poll whose head read is slower than its hold answers with the head, and the next poll gets what was published between', async () => {
        const redis = await server(['--enable-debug-command', 'local']);
        const appBus = bus(redis);
        const { base } = await demo(appBus);
        const publisher = bus(redis);
        await publisher.ready();
        await publisher.publish('room:slow', 'before'); // scripts loaded
        const control = await adminClient(redis);
        cleanups.push(() => control.close());
        const sleeping = control.sendCommand(['DEBUG', 'SLEEP', '2']);
        await new Promise((resolve) => setTimeout(resolve, 200)); // let the sleep start
        const first = await fetch(`${base}/rooms/slow/messages?timeout=1`);
        await sleeping;
        expect(first.status).toBe(200);
        const answer = (await first.json()) as { messages: unknown[]; cursor: string };
        expect(answer.messages).toEqual([]);
        expect(answer.cursor).not.toBe('');
        const sent = await publisher.publish('room:slow', 'between');
        const next = await fetch(
          `${base}/rooms/slow/messages?timeout=5&cursor=${encodeURIComponent(answer.cursor)}`,
        );
        const body = (await next.json()) as { messages: { id: string }[] };
        expect(body.messages.map((m) => m.id)).toEqual([sent.id]);
      });

      it('a publish during a stall answers 503 COMET_ERR_BUS_TIMEOUT in time; its retry with the same Idempotency-Key stores it once', async () => {
        const redis = await server(['--enable-debug-command', 'local']);
        const { base } = await demo(bus(redis, { commandTimeout: 300 }));
        const post = (key: string) =>
          fetch(`${base}/rooms/orders/messages`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
            body: JSON.stringify({ order: 1 }),
          });
        expect((await post('warm-up')).status).toBe(201);
        const control = await adminClient(redis);
        cleanups.push(() => control.close());
        let stalled = true;
        const sleeping = control.sendCommand(['DEBUG', 'SLEEP', '2']).then(() => {
          stalled = false;
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
        const timedOut = await post('order-1');
        expect(timedOut.status).toBe(503);
        expect(((await timedOut.json()) as { error: { code: string } }).error.code).toBe(
          'COMET_ERR_BUS_TIMEOUT',
        );
        expect(stalled).toBe(true);
        await sleeping;
        const retried = await post('order-1');
        expect(retried.status).toBe(201);
        const entries = (await control.sendCommand([
          'XRANGE',
          'http-faults:{room:orders}:stream',
          '-',
          '+',
        ])) as unknown[];
        expect(entries).toHaveLength(2); // warm-up and order-1, once
        const bad = await post('has space');
        expect(bad.status).toBe(400);
      });

      it('/health reports the bus state and /ready fails with 503 while Redis is unreachable', async () => {
        const redis = await server();
        const { base } = await demo(bus(redis));
        const ready = await fetch(`${base}/ready`);
        expect(ready.status).toBe(200);
        const health = (await (await fetch(`${base}/health`)).json()) as {
          ok: boolean;
          bus: { status: string };
        };
        expect(health).toMatchObject({ ok: true, bus: { status: 'ready' } });

        await redis.stop();
        await waitFor(async () => (await fetch(`${base}/ready`)).status === 503);
        const down = await fetch(`${base}/ready`);
        expect(((await down.json()) as { error: { code: string } }).error.code).toBe(
          'COMET_ERR_BUS_UNAVAILABLE',
        );
        const sick = await fetch(`${base}/health`);
        expect(sick.status).toBe(200);
        expect(await sick.json()).toMatchObject({ ok: false, bus: { status: 'down' } });
      });
    });
  },
);
