/**
 * The stream lifecycle on real sockets: byte budget and lifetime end a
 * stream cleanly and the client resumes without loss; a reader that never
 * reads is cut off and its memory released; a client leaving frees its
 * subscription at once.
 */
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { type RawResponse, rawGet } from './raw-http.js';
import { CHANNEL, type Harness, startHarness, until } from './stream-harness.js';

let harness: Harness | undefined;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0)) clean();
  await harness?.close();
  harness = undefined;
});

async function start(options?: Parameters<typeof startHarness>[0]): Promise<Harness> {
  harness = await startHarness(options);
  return harness;
}

describe('byte budget', () => {
  it('ends the stream cleanly; eventsource resumes with Last-Event-ID and misses nothing', async () => {
    const h = await start({ session: { maxBytes: 400 } });
    const es = new EventSource(h.url);
    cleanups.push(() => es.close());
    const got: number[] = [];
    es.onmessage = (e) => got.push(JSON.parse(e.data).data);
    await new Promise((resolve) => {
      es.onopen = resolve;
    });
    for (let i = 0; i < 60; i++) {
      await h.publish(i);
      if (i % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await until(() => got.length >= 60);
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(h.ends.filter((r) => r === 'budget').length).toBeGreaterThanOrEqual(3);
  });
});

describe('lifetime', () => {
  it('ends the response cleanly (chunked terminator) when the lifetime is over', async () => {
    const h = await start({ session: { maxLifetimeMs: 50 } });
    const r = await rawGet(h.url, '/live?transport=ndjson');
    cleanups.push(() => r.socket.destroy());
    await r.waitFor(() => r.complete);
    expect(h.ends).toEqual(['lifetime']);
    expect(h.bus.subscriberCount(CHANNEL)).toBe(0);
    expect(h.wheel.size).toBe(0);
  });
});

describe('slow reader', () => {
  it('closes a socket that never reads once 1 MiB is queued, and releases it', async () => {
    const h = await start();
    const r: RawResponse = await rawGet(h.url, '/live?transport=ndjson');
    cleanups.push(() => r.socket.destroy());
    r.socket.pause(); // never read again: the kernel buffers fill, then Node's
    const big = 'x'.repeat(60 * 1024);
    for (let i = 0; i < 2000 && !h.ends.includes('slow'); i++) {
      await h.publish(big);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(h.ends).toEqual(['slow']);
    expect(h.sessions.size).toBe(0);
    expect(h.bus.subscriberCount(CHANNEL)).toBe(0);
    expect(h.wheel.size).toBe(0);
    // The server dropped the connection and everything queued on it.
    const connections = () =>
      new Promise<number>((resolve, reject) =>
        h.server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
      );
    for (let i = 0; i < 200 && (await connections()) > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await connections()).toBe(0);
  });
});

describe('disconnect', () => {
  it('frees the subscription and timers as soon as the client leaves', async () => {
    const h = await start();
    const controller = new AbortController();
    const res = await fetch(`${h.url}?transport=ndjson`, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(h.bus.subscriberCount(CHANNEL)).toBe(1);
    expect(h.wheel.size).toBe(1); // heartbeat and lifetime share one entry
    controller.abort();
    await until(() => h.ends.length === 1);
    expect(h.ends).toEqual(['disconnect']);
    expect(h.bus.subscriberCount(CHANNEL)).toBe(0);
    expect(h.wheel.size).toBe(0);
  });
});
