/**
 * The one cursor rule, on every route kind and transport, over raw sockets:
 * a cursor the bus cannot parse is `400 COMET_ERR_CURSOR_MALFORMED` with its
 * JSON body and nothing else written (no 200, no `retry:`, no 101); a
 * well-formed id of another epoch is a gap — the reset frame (or
 * `gap: true`), then live delivery.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createMemoryBus, createRedisBus, type MemoryBus } from '../../index.js';
import { deleteRedisKeys, redisAnswers, redisUrl, withRedis } from '../helpers/redis.js';
import { readUntil } from './helpers/read-stream.js';
import { closeAll, expectError, publish, startChat } from './helpers/server.js';

afterEach(closeAll);

/** Cursors no bus of this project could have issued (URL-encoded as sent). */
const MALFORMED: readonly [string, string][] = [
  ['a word', 'hello'],
  ['NUL', '%00'],
  ['a control character', 'k1%01-1'],
  ['CR/LF', '%0d%0aSet-Cookie:%20x=1'],
  ['a tab', 'k1-1%09'],
  ['a space', 'k1-%201'],
  ['path tricks', '..%2F..%2Fetc%2Fpasswd'],
  ['over-long', `k1-${'1'.repeat(2100)}`],
  ['a Redis id on the memory bus', '3f9a1c07be52-1732579200000-0'],
  ['a negative seq', 'k1--1'],
  ['a leading zero', 'k1-01'],
  ['a multi-channel token on one channel', 'c.AAAAk1-1'],
];

/** Every route kind and transport of the demo's rooms, as a request path prefix. */
const ROUTES: readonly [string, (cursor: string) => string][] = [
  ['poll', (c) => `/rooms/r/unread?cursor=${c}`],
  ['long-poll', (c) => `/rooms/r/messages?timeout=1&cursor=${c}`],
  ['JSONP', (c) => `/rooms/r/messages?timeout=1&callback=cb&cursor=${c}`],
  ['SSE', (c) => `/rooms/r/live?cursor=${c}`],
  ['SSE (?lastEventId=)', (c) => `/rooms/r/live?lastEventId=${c}`],
  ['NDJSON', (c) => `/rooms/r/live?transport=ndjson&cursor=${c}`],
  ['multipart', (c) => `/rooms/r/live?transport=multipart&cursor=${c}`],
  ['iframe', (c) => `/rooms/r/live?transport=iframe&callback=cb&cursor=${c}`],
];

const WS_HEADERS =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Sends one raw request and returns every byte the server wrote until it closed. */
async function exchange(port: number, path: string, extra = ''): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  // A stream that wrongly opened would never close: the timeout fails the test.
  await Promise.race([
    once(socket, 'close'),
    new Promise((_, reject) =>
      setTimeout(() => {
        socket.destroy();
        reject(new Error(`no close; got ${Buffer.concat(chunks).toString('latin1')}`));
      }, 3000),
    ),
  ]);
  return Buffer.concat(chunks).toString('latin1');
}

/** Asserts `raw` is exactly one 400 with the coded JSON body and nothing else. */
function expectOnlyMalformed(raw: string): void {
  const end = raw.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(0);
  const head = raw.slice(0, end);
  const body = raw.slice(end + 4);
  expect(head.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
  expect(head).toMatch(/^content-type: application\/json/im);
  expect(head).not.toMatch(/^transfer-encoding/im);
  const length = /^content-length: (\d+)$/im.exec(head);
  expect(length).not.toBeNull();
  // Exactly the body: nothing written after it (no stream bytes, no 101).
  expect(Buffer.byteLength(body, 'latin1')).toBe(Number(length![1]));
  expect(JSON.parse(body)).toEqual({
    error: { code: 'COMET_ERR_CURSOR_MALFORMED', message: expect.any(String) },
  });
  expect(raw).not.toContain('retry:');
}

const memoryChat = () => startChat({ bus: createMemoryBus({ epoch: 'k1' }) });

describe('a malformed cursor is a 400 with nothing else written', () => {
  for (const [route, path] of ROUTES) {
    describe(route, () => {
      it.each(MALFORMED)('%s', async (_what, cursor) => {
        const chat = await memoryChat();
        const raw = await exchange(chat.port, path(cursor));
        expectOnlyMalformed(raw);
      });
    });
  }
  describe('WebSocket handshake', () => {
    it.each(MALFORMED)('%s', async (_what, cursor) => {
      const chat = await memoryChat();
      const raw = await exchange(chat.port, `/rooms/r/live?cursor=${cursor}`, WS_HEADERS);
      expectOnlyMalformed(raw);
      expect(raw).not.toContain('101');
    });
  });
  describe('Last-Event-ID header (printable values)', () => {
    const printable = ['hello', 'k1-%201', '..%2Fetc', '3f9a1c07be52-1732579200000-0'];
    it.each(printable)('%s', async (cursor) => {
      const chat = await memoryChat();
      const value = decodeURIComponent(cursor);
      for (const path of ['/rooms/r/live', '/rooms/r/messages?timeout=1', '/rooms/r/unread']) {
        expectOnlyMalformed(await exchange(chat.port, path, `Last-Event-ID: ${value}\r\n`));
      }
    });
  });
});

describe('the cursor precedence: Last-Event-ID, then ?lastEventId=, then ?cursor=', () => {
  it('a good ?lastEventId= wins over a bad ?cursor=, and the header over both', async () => {
    const chat = await startChat({ bus: createMemoryBus({ epoch: 'k1' }) });
    const first = await publish(chat.bus, 'r', 'one');
    await publish(chat.bus, 'r', 'two');
    const url = `${chat.base}/rooms/r/messages?timeout=0`;
    const viaParam = await fetch(`${url}&lastEventId=${first.id}&cursor=bad`);
    expect(viaParam.status).toBe(200);
    const batch = (await viaParam.json()) as { messages: { data: unknown }[] };
    expect(batch.messages.map((m) => m.data)).toEqual(['two']);
    const viaHeader = await fetch(`${url}&lastEventId=bad&cursor=bad`, {
      headers: { 'Last-Event-ID': first.id },
    });
    expect(viaHeader.status).toBe(200);
    const repeated = await fetch(`${url}&lastEventId=${first.id}&lastEventId=${first.id}`);
    expect(repeated.status).toBe(400);
  });
});

/** A cursor of this bus's shape from an epoch it never had. */
const FOREIGN = 'zz9-3';

/** The stream transports over fetch: path and how a frame of `text` shows. */
const STREAMS: readonly [string, string, string][] = [
  ['SSE', '', 'event: reset'],
  ['NDJSON', '&transport=ndjson', '{"gap":true'],
  ['multipart', '&transport=multipart', '{"gap":true'],
  ['iframe', '&transport=iframe&callback=cb', 'cb({"gap":true'],
];

describe('a well-formed cursor of another epoch is a gap, then live', () => {
  it.each(STREAMS)(
    '%s: the reset frame to the head, then the next message',
    async (_n, q, reset) => {
      const chat = await startChat({ bus: createMemoryBus({ epoch: 'k1' }) });
      await publish(chat.bus, 'r', 'old');
      const res = await fetch(`${chat.base}/rooms/r/live?cursor=${FOREIGN}${q}`);
      expect(res.status).toBe(200);
      // The stream follows the room before its head is written: publish now.
      await publish(chat.bus, 'r', 'live');
      const text = await readUntil(res.body!, (t) => t.includes('"live"'));
      const at = text.indexOf(reset);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(text.indexOf('"live"')).toBeGreaterThan(at);
      expect(text).toContain('"cursor":"k1-1"');
      expect(text).not.toContain('"old"');
    },
  );

  it('WebSocket: the reset frame, then the next message', async () => {
    const chat = await startChat({ bus: createMemoryBus({ epoch: 'k1' }) });
    await publish(chat.bus, 'r', 'old');
    const ws = new WebSocket(`ws://127.0.0.1:${chat.port}/rooms/r/live?cursor=${FOREIGN}`);
    const frames: unknown[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await once(ws, 'open');
    await expect.poll(() => frames.length).toBe(1);
    expect(frames[0]).toEqual({ gap: true, cursor: 'k1-1' });
    await publish(chat.bus, 'r', 'live');
    await expect.poll(() => frames.length).toBe(2);
    expect(frames[1]).toMatchObject({ id: 'k1-2', data: 'live' });
    ws.terminate();
  });

  it.each([
    ['poll', '/rooms/r/unread?'],
    ['long-poll', '/rooms/r/messages?timeout=1&'],
  ])('%s: gap: true with the head as cursor', async (_n, path) => {
    const chat = await startChat({ bus: createMemoryBus({ epoch: 'k1' }) });
    await publish(chat.bus, 'r', 'old');
    const res = await fetch(`${chat.base}${path}cursor=${FOREIGN}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ messages: [], cursor: 'k1-1', gap: true });
  });
});

const reachable = await redisAnswers();
withRedis(reachable, 'the cursor rule on the Redis bus', () => {
  describe('on the Redis bus', () => {
    const prefix = `cr-${process.pid}-${Date.now()}:`;
    afterEach(() => deleteRedisKeys(`${prefix}*`));
    const redisChat = () =>
      // startChat's type names the memory bus; the routes only use the Bus interface.
      startChat({
        bus: createRedisBus({ url: redisUrl, keyPrefix: prefix }) as unknown as MemoryBus,
      });

    it.each([
      ['a memory-bus id', 'k1-5'],
      ['a word', 'hello'],
      ['CR/LF', '%0d%0a'],
    ])(
      '%s is a 400 on every route kind, and refuses the WebSocket handshake',
      async (_w, cursor) => {
        const chat = await redisChat();
        for (const [, path] of ROUTES) expectOnlyMalformed(await exchange(chat.port, path(cursor)));
        const ws = await exchange(chat.port, `/rooms/r/live?cursor=${cursor}`, WS_HEADERS);
        expectOnlyMalformed(ws);
      },
    );

    it("another epoch's id is a reset, then live", async () => {
      const chat = await redisChat();
      const old = await chat.bus.publish('room:r', 'old');
      const foreign = `zzzz${old.id.slice(old.id.indexOf('-'))}`;
      const res = await fetch(`${chat.base}/rooms/r/live?transport=ndjson&cursor=${foreign}`);
      expect(res.status).toBe(200);
      await chat.bus.publish('room:r', 'live');
      const text = await readUntil(res.body!, (t) => t.includes('"live"'));
      // Only the opening bytes before it, and nothing of the old history.
      expect(text.trimStart().startsWith('{"gap":true')).toBe(true);
      expect(text).not.toContain('"old"');
      expect(text).toContain(`"cursor":"${old.id}"`);
      const batch = await fetch(`${chat.base}/rooms/r/unread?cursor=${foreign}`);
      expect(((await batch.json()) as { gap: boolean }).gap).toBe(true);
      await expectError(
        await fetch(`${chat.base}/rooms/r/unread?cursor=k1-1`),
        400,
        'COMET_ERR_CURSOR_MALFORMED',
      );
    });
  });
});
