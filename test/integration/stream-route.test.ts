/**
 * `@stream` routes through Koa: the demo's `GET /rooms/:room/live` with
 * negotiation, resume precedence, every transport, WebSocket on the same
 * path, koa-compress mounted above, and shutdown.
 */
import { once } from 'node:events';
import { EventSource } from 'eventsource';
import Koa from 'koa';
import compress from 'koa-compress';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { comet, createMemoryBus, stream } from '../../index.js';
import { sseTransport } from '../../lib/wire/sse.js';
import { TestRooms as Rooms } from './helpers/app.js';
import { readUntil } from './helpers/read-stream.js';
import {
  closeAll,
  expectError,
  listen,
  publish,
  type Running,
  startChat,
  until,
} from './helpers/server.js';
import { rawGet } from './raw-http.js';

const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0)) clean();
  await closeAll();
});

async function held(r: Running, n: number): Promise<void> {
  await until(() => r.push.stats().held === n, 2000, `${n} streams`);
}

describe('negotiation on /rooms/:room/live', () => {
  it.each([
    [undefined, 'text/event-stream; charset=utf-8'],
    ['*/*', 'text/event-stream; charset=utf-8'],
    ['text/event-stream', 'text/event-stream; charset=utf-8'],
    ['application/x-ndjson', 'application/x-ndjson; charset=utf-8'],
    ['multipart/mixed', 'multipart/mixed; boundary='],
    ['text/html;q=0.9, application/x-ndjson', 'application/x-ndjson; charset=utf-8'],
  ])('Accept %s → %s', async (accept, type) => {
    const r = await startChat();
    const res = await fetch(`${r.base}/rooms/a/live`, {
      headers: accept === undefined ? {} : { Accept: accept },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')!.startsWith(type)).toBe(true);
    expect(res.headers.get('cache-control')).toBe('no-store, no-transform');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    await res.body!.cancel();
  });

  it('?transport= wins over Accept', async () => {
    const r = await startChat();
    const res = await fetch(`${r.base}/rooms/a/live?transport=ndjson`, {
      headers: { Accept: 'text/event-stream' },
    });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    await res.body!.cancel();
  });

  it('an Accept naming none of the offered types is 406, listing them', async () => {
    const r = await startChat();
    const res = await fetch(`${r.base}/rooms/a/live`, { headers: { Accept: 'image/png' } });
    const body = (await res.clone().json()) as { error: { message: string } };
    await expectError(res, 406, 'COMET_ERR_TRANSPORT_NOT_ACCEPTABLE');
    expect(body.error.message).toContain(
      'text/event-stream, application/x-ndjson, multipart/mixed',
    );
  });

  it.each(['websocket', 'jsonp', 'SSE', ''])('an unknown ?transport=%s is 400', async (name) => {
    const r = await startChat();
    const res = await fetch(`${r.base}/rooms/a/live?transport=${name}`);
    await expectError(res, 400, 'COMET_ERR_TRANSPORT_UNKNOWN');
  });

  it('iframe needs a valid callback', async () => {
    const r = await startChat();
    await expectError(
      await fetch(`${r.base}/rooms/a/live?transport=iframe`),
      400,
      'COMET_ERR_CALLBACK_MISSING',
    );
    await expectError(
      await fetch(`${r.base}/rooms/a/live?transport=iframe&callback=alert(1)`),
      400,
      'COMET_ERR_CALLBACK_INVALID',
    );
    expect(r.push.stats().held).toBe(0);
  });

  it('iframe postMessage form: ?origin= must be a serialized origin on the allow-list', async () => {
    const page = 'http://127.0.0.1:1234';
    const r = await startChat({ cors: { origins: [page] } });
    const url = (origin: string) =>
      `${r.base}/rooms/a/live?transport=iframe&callback=cb&origin=${encodeURIComponent(origin)}`;
    for (const origin of ['http://127.0.0.1:9999', `${page}/`, `${page}");alert(1)//`, 'null']) {
      await expectError(await fetch(url(origin)), 403, 'COMET_ERR_ORIGIN_FORBIDDEN');
    }
    await expectError(
      await fetch(`${url(page)}&origin=${encodeURIComponent(page)}`),
      403,
      'COMET_ERR_ORIGIN_FORBIDDEN',
    );
    expect(r.push.stats().held).toBe(0);
    const res = await fetch(`${url(page)}&cursor=earliest`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(`frame-ancestors 'self' ${page}`);
    const { id } = await publish(r.bus, 'a', { text: '</script>' });
    const text = await readUntil(res.body!, (t) => t.includes('</script>\n'));
    expect(text.slice(text.indexOf('<script>'))).toBe(
      `<script>parent.postMessage({"callback":"cb","message":{"id":"${id}","channel":"room:a","data":{"text":"\\u003c/script\\u003e"}}},"${page}");</script>\n`,
    );
  });

  it("iframe postMessage form with origins ['*']: any serialized origin, still no malformed one", async () => {
    const r = await startChat({ cors: { origins: ['*'] } });
    const base = `${r.base}/rooms/a/live?transport=iframe&callback=cb&origin=`;
    await expectError(
      await fetch(`${base}${encodeURIComponent('http://a.com"')}`),
      403,
      'COMET_ERR_ORIGIN_FORBIDDEN',
    );
    const res = await fetch(`${base}${encodeURIComponent('https://any.example')}`);
    expect(res.status).toBe(200);
    await res.body!.cancel();
  });

  it('a malformed cursor is 400, the handler’s refusal its own status', async () => {
    const r = await startChat();
    await expectError(
      await fetch(`${r.base}/rooms/a/live?cursor=m.!!`),
      400,
      'COMET_ERR_CURSOR_MALFORMED',
    );
    await expectError(await fetch(`${r.base}/rooms/a%20b/live`), 404, 'COMET_ERR_ROUTE_NOT_FOUND');
  });
});

describe('following a room', () => {
  it('eventsource follows over SSE; Last-Event-ID wins over ?cursor=', async () => {
    const r = await startChat();
    const first = await publish(r.bus, 'a', 'one');
    await publish(r.bus, 'a', 'two');
    // ?cursor=earliest would replay both; the header says "after the first".
    const res = await fetch(`${r.base}/rooms/a/live?cursor=earliest&transport=ndjson`, {
      headers: { 'Last-Event-ID': first.id },
    });
    const text = await readUntil(res.body!, (t) => t.includes('"two"'));
    expect(text).not.toContain('"one"');
    const es = new EventSource(`${r.base}/rooms/a/live?cursor=${first.id}`);
    cleanups.push(() => es.close());
    const got: string[] = [];
    es.onmessage = (e) => got.push(JSON.parse(e.data).data);
    await until(() => got.length === 1);
    await publish(r.bus, 'a', 'three');
    await until(() => got.length === 2);
    expect(got).toEqual(['two', 'three']);
  });

  it.each([
    ['ndjson', (id: string) => `{"id":"${id}","channel":"room:a","data":"<x>"}\n`],
    ['multipart', (id: string) => `Comet-Id: ${id}\r\n\r\n{"id":"${id}","channel":"room:a"`],
    ['iframe&callback=cb', (id: string) => `parent.cb({"id":"${id}","channel":"room:a"`],
  ])('?transport=%s follows live messages', async (query, expected) => {
    const r = await startChat();
    const res = await fetch(`${r.base}/rooms/a/live?transport=${query}`);
    await held(r, 1);
    const m = await publish(r.bus, 'a', '<x>');
    const text = await readUntil(res.body!, (t) => t.includes(expected(m.id)));
    expect(text).toContain(expected(m.id));
  });

  it('sends the gap control frame first for a cursor older than history', async () => {
    const r = await startChat();
    await publish(r.bus, 'a', 'x');
    const res = await fetch(`${r.base}/rooms/a/live?transport=ndjson&cursor=zzzz-1`);
    const text = await readUntil(res.body!, (t) => t.includes('gap'));
    expect(text.trim().split('\n')[0]).toMatch(/^\{"gap":true,"cursor":"[0-9a-z]+-1"\}$/);
  });

  it('a client leaving frees its hub membership at once', async () => {
    const r = await startChat();
    const controller = new AbortController();
    await fetch(`${r.base}/rooms/a/live`, { signal: controller.signal });
    await held(r, 1);
    expect(r.bus.subscriberCount('room:a')).toBe(1);
    controller.abort();
    await held(r, 0);
    await until(() => r.bus.subscriberCount('room:a') === 0, 1000, 'the linger to end');
  });

  it('shutdown ends every stream cleanly', async () => {
    const r = await startChat();
    const raw = await rawGet(r.base, '/rooms/a/live?transport=ndjson');
    cleanups.push(() => raw.socket.destroy());
    await held(r, 1);
    await r.push.close();
    await raw.waitFor(() => raw.complete);
    expect(r.push.stats().held).toBe(0);
  });
});

describe('WebSocket on the same path', () => {
  it('follows a room and resumes with ?cursor=', async () => {
    const r = await startChat();
    const first = await publish(r.bus, 'a', 1);
    await publish(r.bus, 'a', 2);
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/rooms/a/live?cursor=${first.id}`);
    cleanups.push(() => ws.terminate());
    const got: unknown[] = [];
    ws.on('message', (data) => got.push(JSON.parse(String(data)).data));
    await once(ws, 'open');
    await until(() => got.length === 1);
    await publish(r.bus, 'a', 3);
    await until(() => got.length === 2);
    expect(got).toEqual([2, 3]);
  });

  it('refuses a foreign Origin with 403 before running the handler', async () => {
    const r = await startChat({ cors: { origins: ['https://ok.example'] } });
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/rooms/a/live`, {
      origin: 'https://evil.example',
    });
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(403);
    const ok = new WebSocket(`ws://127.0.0.1:${r.port}/rooms/a/live`, {
      origin: 'https://ok.example',
    });
    cleanups.push(() => ok.terminate());
    await once(ok, 'open');
  });

  it('answers a handler refusal with its status and no handshake', async () => {
    const r = await startChat();
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/rooms/a%20b/live`);
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(404);
  });
});

describe('koa-compress mounted above', () => {
  it('does not compress or hold back stream events', async () => {
    const bus = createMemoryBus();
    const app = new Koa();
    app.use(compress({ threshold: 0 }));
    const push = comet({ bus, controllers: [Rooms] });
    app.use(push);
    const r = await listen(app, push, bus);
    const raw = await rawGet(r.base, '/rooms/a/live', {
      Accept: 'text/event-stream',
      'Accept-Encoding': 'gzip, br',
    });
    cleanups.push(() => raw.socket.destroy());
    expect(raw.headers.get('content-encoding')).toBeUndefined();
    await held(r, 1);
    const m = await bus.publish('room:a', 'now');
    // The event arrives on its own, in clear, without anything after it.
    const frame = `id: ${m.id}\ndata: {"id":"${m.id}","channel":"room:a","data":"now"}\n\n`;
    await raw.waitFor((b) => b.toString().endsWith(frame));
  });
});

class TwoChannels {
  @stream('/both')
  both() {
    return ['c:a', 'c:b'];
  }
}

describe('shared encoding and several channels', () => {
  it('encodes a message once for every SSE stream following it', async () => {
    const r = await startChat();
    const streams = await Promise.all(
      [1, 2, 3].map(() => fetch(`${r.base}/rooms/a/live?transport=sse`)),
    );
    await held(r, 3);
    const encode = vi.spyOn(sseTransport, 'encode');
    cleanups.push(() => encode.mockRestore());
    const m = await publish(r.bus, 'a', 'x');
    const texts = await Promise.all(
      streams.map((res) => readUntil(res.body!, (t) => t.includes(m.id))),
    );
    expect(texts.every((t) => t.includes(`id: ${m.id}\n`))).toBe(true);
    expect(encode).toHaveBeenCalledTimes(1);
  });

  it('follows several channels; Last-Event-ID resumes them all', async () => {
    const bus = createMemoryBus();
    const app = new Koa();
    const push = comet({ bus, controllers: [TwoChannels] });
    app.use(push);
    const r = await listen(app, push, bus);
    const es = new EventSource(`${r.base}/both`);
    cleanups.push(() => es.close());
    const got: { id: string; data: unknown }[] = [];
    es.onmessage = (e) => got.push({ id: e.lastEventId, data: JSON.parse(e.data).data });
    await held(r, 1); // one stream on two channels counts once
    expect(r.push.hub.memberCount('c:a') + r.push.hub.memberCount('c:b')).toBe(2);
    await bus.publish('c:a', 'a1');
    await bus.publish('c:b', 'b1');
    await until(() => got.length === 2);
    es.close();
    expect(got.map((g) => g.data)).toEqual(['a1', 'b1']);
    expect(got[1]!.id.startsWith('c.')).toBe(true);
    await bus.publish('c:a', 'a2');
    await bus.publish('c:b', 'b2');
    const res = await fetch(`${r.base}/both?transport=ndjson`, {
      headers: { 'Last-Event-ID': got[1]!.id },
    });
    const text = await readUntil(res.body!, (t) => t.includes('"b2"'));
    const data = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l).data);
    expect(data).toEqual(['a2', 'b2']);
  });
});

describe('several channels: every frame carries the combined cursor', () => {
  async function twoChannels() {
    const bus = createMemoryBus();
    const app = new Koa();
    const push = comet({ bus, controllers: [TwoChannels] });
    app.use(push);
    return listen(app, push, bus);
  }

  it('backlog frames too: resuming from any SSE id of the replay sends only what followed it', async () => {
    const r = await twoChannels();
    await r.bus.publish('c:a', 'a1');
    await r.bus.publish('c:b', 'b1');
    await r.bus.publish('c:a', 'a2');
    const res = await fetch(`${r.base}/both?cursor=earliest`, {
      headers: { Accept: 'text/event-stream' },
    });
    const text = await readUntil(res.body!, (t) => (t.match(/^data: /gm) ?? []).length === 3);
    const ids = [...text.matchAll(/^id: (.*)$/gm)].map((m) => m[1]!);
    const replayed = [...text.matchAll(/^data: (.*)$/gm)].map(
      (m) => JSON.parse(m[1]!).data as string,
    );
    expect([...replayed].sort()).toEqual(['a1', 'a2', 'b1']);
    expect(ids).toHaveLength(3);
    expect(ids.every((id) => id.startsWith('c.'))).toBe(true);
    // Resume after the second replayed frame: only the third follows.
    const third = replayed[2]!;
    const again = await fetch(`${r.base}/both?transport=ndjson`, {
      headers: { 'Last-Event-ID': ids[1]! },
    });
    const rest = await readUntil(again.body!, (t) => t.includes(`"${third}"`));
    expect(
      rest
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l).data),
    ).toEqual([third]);
  });

  it('NDJSON and WebSocket frames carry it as "cursor", backlog and live alike', async () => {
    const r = await twoChannels();
    await r.bus.publish('c:a', 'a1');
    const res = await fetch(`${r.base}/both?transport=ndjson&cursor=earliest`);
    const ws = new WebSocket(`${r.base.replace('http', 'ws')}/both?cursor=earliest`);
    cleanups.push(() => ws.close());
    const frames: { id: string; channel: string; data: unknown; cursor?: string }[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await once(ws, 'open');
    await held(r, 2);
    const b1 = await r.bus.publish('c:b', 'b1');
    const text = await readUntil(res.body!, (t) => t.includes('"b1"'));
    const lines = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { id: string; data: unknown; cursor?: string });
    await until(() => frames.length === 2);
    for (const got of [lines, frames]) {
      expect(got.map((f) => f.data)).toEqual(['a1', 'b1']);
      expect(got[1]!.id).toBe(b1.id);
      expect(got.every((f) => f.cursor?.startsWith('c.'))).toBe(true);
    }
    // The cursor of the last frame resumes both channels: nothing is replayed.
    const resumed = await fetch(`${r.base}/both?transport=ndjson&timeout=0`, {
      headers: { 'Last-Event-ID': lines[1]!.cursor! },
    });
    await r.bus.publish('c:a', 'a2');
    const after = await readUntil(resumed.body!, (t) => t.includes('"a2"'));
    expect(after).not.toContain('"b1"');
    expect(after).not.toContain('"a1"');
  });
});

class SmallBudget {
  @stream('/small', { maxBytes: 500 })
  small() {
    return 'c:small';
  }
}

describe('byte budget through Koa', () => {
  it('eventsource reconnects with Last-Event-ID after each clean end and misses nothing', async () => {
    const bus = createMemoryBus();
    const app = new Koa();
    const push = comet({ bus, controllers: [SmallBudget] });
    app.use(push);
    const r = await listen(app, push, bus);
    const es = new EventSource(`${r.base}/small`);
    cleanups.push(() => es.close());
    const got: number[] = [];
    let opens = 0;
    es.onopen = () => opens++;
    es.onmessage = (e) => got.push(JSON.parse(e.data).data);
    await held(r, 1);
    for (let i = 0; i < 20; i++) {
      await bus.publish('c:small', i);
      if (i % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await until(() => got.length >= 20, 10_000, '20 messages');
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(opens).toBeGreaterThan(2);
  });
});
