/**
 * The streaming (07) and browser-client (08) tutorial examples, run against
 * real sockets: every stream transport of the monitoring route, and the
 * page, the bundles and the client's `subscribe()` of the client step.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as streaming from '../../docs/examples/07-streaming.js';
import * as browserClient from '../../docs/examples/08-browser-client.js';

/** The part of the browser client's API this test drives (client/index.ts). */
interface ClientModule {
  subscribe(
    url: string,
    options: {
      longpollUrl?: string;
      transports?: readonly string[];
      shareAcrossTabs?: boolean;
      cursor?: string;
      onMessage(envelope: { id: string; data: unknown }): void;
      onStatus?(status: { kind: string }): void;
    },
  ): { close(): void; readonly transport: string | null };
}

const running: { close(): Promise<unknown> }[] = [];
const aborts: AbortController[] = [];
afterEach(async () => {
  for (const abort of aborts.splice(0)) abort.abort();
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function started<T extends { close(): Promise<unknown> }>(app: Promise<T>): Promise<T> {
  const value = await app;
  running.push(value);
  return value;
}

function aborter(): AbortSignal {
  const abort = new AbortController();
  aborts.push(abort);
  return abort.signal;
}

/** Reads a streamed body until `done(text so far)`; returns the text. */
async function readUntil(response: Response, done: (text: string) => boolean): Promise<string> {
  if (!response.body) throw new Error('no body');
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of response.body) {
    text += decoder.decode(chunk, { stream: true });
    if (done(text)) return text;
  }
  throw new Error(`stream ended before the expected content: ${JSON.stringify(text)}`);
}

describe('07 streaming', () => {
  it('SSE: the envelope as data:, its id as id:, no-store and X-Accel-Buffering: no', async () => {
    const app = await started(streaming.start(0, 0));
    const { cursor } = await app.bus.read('metrics:web-1');
    const response = await fetch(`${app.url}/hosts/web-1/metrics?cursor=${cursor}`, {
      headers: { Accept: 'text/event-stream' },
      signal: aborter(),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    const m = await app.bus.publish('metrics:web-1', { rss: 1 });
    const text = await readUntil(response, (t) => t.includes('data: '));
    expect(text).toContain(`id: ${m.id}\n`);
    expect(text).toContain(`data: {"id":"${m.id}","channel":"metrics:web-1","data":{"rss":1}}\n`);
  });

  it('SSE: a stale cursor gets event: reset before any message', async () => {
    const other = await started(streaming.start(0, 0));
    const stale = (await other.bus.publish('metrics:web-1', 0)).id;
    const app = await started(streaming.start(0, 0));
    const response = await fetch(`${app.url}/hosts/web-1/metrics?cursor=${stale}`, {
      signal: aborter(),
    });
    const text = await readUntil(response, (t) => t.includes('event: reset'));
    expect(text).toMatch(/event: reset\n(id: [^\n]*\n)?data: \{"gap":true,"cursor":"[^"]+"\}\n/);
  });

  it('NDJSON: followNdjson() gets the sampler output from cursor=earliest', async () => {
    const app = await started(streaming.start(0, 20));
    const frames: { id?: string; data?: unknown }[] = [];
    const signal = aborter();
    const abort = aborts.at(-1)!;
    await streaming
      .followNdjson(
        `${app.url}/hosts/web-1/metrics?cursor=earliest`,
        (frame) => {
          frames.push(frame);
          if (frames.length === 2) abort.abort();
        },
        signal,
      )
      .catch((error: unknown) => {
        if (!signal.aborted) throw error;
      });
    expect(frames).toHaveLength(2);
    for (const frame of frames) {
      expect(frame.data).toMatchObject({ rss: expect.any(Number), heapUsed: expect.any(Number) });
    }
    expect(frames[0]!.id).not.toBe(frames[1]!.id);
  });

  it('multipart/mixed and the iframe carry the same envelope', async () => {
    const app = await started(streaming.start(0, 0));
    const { cursor } = await app.bus.read('metrics:web-1');
    const base = `${app.url}/hosts/web-1/metrics?cursor=${cursor}`;
    const multipart = await fetch(`${base}&transport=multipart`, { signal: aborter() });
    expect(multipart.headers.get('content-type')).toMatch(/^multipart\/mixed; boundary=/);
    const iframe = await fetch(`${base}&transport=iframe&callback=onMetric`, { signal: aborter() });
    expect(iframe.headers.get('content-type')).toMatch(/^text\/html/);
    expect(iframe.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    const m = await app.bus.publish('metrics:web-1', { rss: 2 });
    const envelope = `{"id":"${m.id}","channel":"metrics:web-1","data":{"rss":2}}`;
    expect(await readUntil(multipart, (t) => t.includes(envelope))).toContain(envelope);
    const html = await readUntil(iframe, (t) => t.includes('parent.onMetric('));
    expect(html).toMatch(/<script>parent\.onMetric\(\{.*"data":\{"rss":2\}\}\);<\/script>/);
  });

  it('WebSocket: one envelope per text frame on the same path', async () => {
    const app = await started(streaming.start(0, 0));
    const { cursor } = await app.bus.read('metrics:web-1');
    const socket = new WebSocket(
      `${app.url.replace('http', 'ws')}/hosts/web-1/metrics?cursor=${cursor}`,
    );
    running.push({ close: async () => socket.terminate() });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const frame = new Promise<string>((resolve) => {
      socket.once('message', (data) => resolve(String(data)));
    });
    const m = await app.bus.publish('metrics:web-1', { rss: 3 });
    expect(JSON.parse(await frame)).toEqual({
      id: m.id,
      channel: 'metrics:web-1',
      data: { rss: 3 },
    });
  });
});

describe('08 browser client', () => {
  it('serves the page and the client bundles at /comet/', async () => {
    const bundle = fileURLToPath(new URL('../../dist/client/koa-comet.js', import.meta.url));
    expect(existsSync(bundle), 'run `npm run build:client` (npm test does it first)').toBe(true);
    const app = await started(browserClient.start());
    const page = await fetch(`${app.url}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain("import { subscribe } from '/comet/koa-comet.js';");
    const module = await fetch(`${app.url}/comet/koa-comet.js`);
    expect(module.status).toBe(200);
    expect(module.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await module.text()).toMatch(/\bsubscribe\b/);
    const script = await fetch(`${app.url}/comet/koa-comet.iife.js`);
    expect(await script.text()).toMatch(/KoaComet/);
  });

  it("subscribe() with the page's options delivers messages in order over long-poll", async () => {
    const app = await started(browserClient.start());
    // The client is browser code; Node 20 has fetch, so its long-poll transport runs here.
    // A computed specifier keeps client/ (DOM typings) out of this project's type-check.
    const clientPath = '../../client/index.js';
    const client = (await import(clientPath)) as ClientModule;
    const received: unknown[] = [];
    const statuses: string[] = [];
    let resolveAll: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    const sub = client.subscribe(`${app.url}/rooms/lobby/live`, {
      longpollUrl: `${app.url}/rooms/lobby/messages`,
      transports: ['longpoll'],
      shareAcrossTabs: false,
      cursor: 'earliest',
      onMessage(m) {
        received.push(m.data);
        if (received.length === 3) resolveAll();
      },
      onStatus: (s) => statuses.push(s.kind),
    });
    running.push({ close: async () => sub.close() });
    for (const n of [1, 2, 3]) await app.bus.publish('room:lobby', { text: `m${n}` });
    await all;
    expect(received).toEqual([{ text: 'm1' }, { text: 'm2' }, { text: 'm3' }]);
    expect(statuses).toContain('open');
    expect(sub.transport).toBe('long-poll');
  });
});
