/**
 * Publish bodies (issue 10, finding 3): every body the POST route takes is
 * refused with the right coded error, or stored so that every later read of
 * the channel answers 200 — on the memory bus and on a real Redis bus. The
 * bus itself refuses data it could not encode again on a read. Bodies over
 * HTTP/2 (no Content-Length, no Transfer-Encoding) are read like any other.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import { connect as connectH2, createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Bus, comet, createMemoryBus, readJsonBody } from '../../index.js';
import { createRedisBus } from '../../lib/bus/redis.js';
import { deleteRedisKeys, redisAnswers, redisUrl, withRedis } from '../helpers/redis.js';
import { createTestApp } from './helpers/app.js';
import { closeAll, expectError, rawSocket } from './helpers/server.js';

const redisPrefix = `comet-test:bodies:${process.pid}:`;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await closeAll();
  for (const close of closers.splice(0).reverse()) await close();
});

/** Sends `head` then the exact `body` bytes; resolves with the answer once the server closes. */
async function rawPost(port: number, head: string, body: Buffer): Promise<string> {
  const socket = await rawSocket(port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('utf8');
}

interface Chat {
  readonly base: string;
  readonly port: number;
  readonly bus: Bus;
}

async function startChatOn(bus: Bus): Promise<Chat> {
  const { app, push } = createTestApp({ bus, channelLinger: 50 });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  push.attach(server, app);
  closers.push(async () => {
    const done = push.close();
    server.closeAllConnections();
    await done;
    await bus.close();
  });
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, port, bus };
}

/** POSTs to the lobby; `type: null` sends no Content-Type. */
function post(chat: Chat, body: string | Buffer | Blob, type: string | null = 'application/json') {
  return fetch(`${chat.base}/rooms/lobby/messages`, {
    method: 'POST',
    headers: type === null ? {} : { 'Content-Type': type },
    body,
  });
}

async function errorMessage(res: Response, status: number, code: string): Promise<string> {
  const copy = res.clone();
  await expectError(res, status, code);
  return ((await copy.json()) as { error: { message: string } }).error.message;
}

/** Every read of the lobby's history: poll, long-poll, SSE; each must be a 200. */
async function readAll(chat: Chat): Promise<unknown[]> {
  const poll = await fetch(`${chat.base}/rooms/lobby/unread?cursor=earliest`);
  expect(poll.status).toBe(200);
  const long = await fetch(`${chat.base}/rooms/lobby/messages?cursor=earliest&timeout=0`);
  expect(long.status).toBe(200);
  const batch = (await long.json()) as { messages: { data: unknown }[] };
  expect(((await poll.json()) as { messages: unknown[] }).messages).toHaveLength(
    batch.messages.length,
  );
  const ac = new AbortController();
  const sse = await fetch(`${chat.base}/rooms/lobby/live?cursor=earliest`, { signal: ac.signal });
  expect(sse.status).toBe(200);
  if (batch.messages.length > 0) {
    // Every message in history comes down the stream too.
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const decoder = new TextDecoder();
    while ((text.match(/^data: /gm) ?? []).length < batch.messages.length) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect((text.match(/^data: /gm) ?? []).length).toBe(batch.messages.length);
  }
  ac.abort();
  return batch.messages.map((m) => m.data);
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

function poisonSuite(name: string, makeBus: () => Promise<Bus>) {
  describe(`poison bodies on the ${name} bus`, () => {
    it('refuses each poison body and every later read of the channel is a 200', async () => {
      const chat = await startChatOn(await makeBus());
      const deep = await post(chat, nested(10_000));
      expect(await errorMessage(deep, 400, 'COMET_ERR_BODY_MALFORMED')).toMatch(/deeper than 64/);
      await expectError(await post(chat, nested(65)), 400, 'COMET_ERR_BODY_MALFORMED');
      const bad = Buffer.from('{"text":"caf\xe9"}', 'latin1'); // é as one Latin-1 byte
      expect(await errorMessage(await post(chat, bad), 400, 'COMET_ERR_BODY_MALFORMED')).toMatch(
        /UTF-8/,
      );
      const empty = await post(chat, '');
      expect(await errorMessage(empty, 400, 'COMET_ERR_BODY_MALFORMED')).toMatch(/empty/);
      expect(await readAll(chat)).toEqual([]);
    });

    it('stores the deepest and the largest accepted bodies, and reads them back with 200', async () => {
      const chat = await startChatOn(await makeBus());
      expect((await post(chat, nested(64))).status).toBe(201);
      // The largest array that fits the 64 KiB limit: 32,767 elements.
      const huge = `[${new Array(32_767).fill(0).join(',')}]`;
      expect(Buffer.byteLength(huge)).toBeLessThanOrEqual(65_536);
      expect((await post(chat, huge)).status).toBe(201);
      const wide = JSON.stringify(
        Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [i, i])),
      );
      expect((await post(chat, wide)).status).toBe(201);
      const multi = '{"text":"caf\u00e9 \u2603 \ud83d\ude00"}';
      expect((await post(chat, Buffer.from(multi, 'utf8'))).status).toBe(201);
      const data = await readAll(chat);
      expect(data).toHaveLength(4);
      expect(JSON.stringify(data[0])).toBe(nested(64));
      expect((data[1] as number[]).length).toBe(32_767);
      expect(data[3]).toEqual({ text: 'caf\u00e9 \u2603 \ud83d\ude00' });
    });

    it('refuses data the bus could not encode again, and reads stay 200', async () => {
      const chat = await startChatOn(await makeBus());
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const data of [JSON.parse(nested(10_000)), JSON.parse(nested(65)), circular, 1n]) {
        await expect(chat.bus.publish('room:lobby', data)).rejects.toMatchObject({
          code: 'COMET_ERR_MESSAGE_INVALID',
          status: 400,
        });
      }
      await chat.bus.publish('room:lobby', JSON.parse(nested(64)));
      expect(await readAll(chat)).toHaveLength(1);
    });
  });
}

poisonSuite('memory', async () => createMemoryBus());

const redisUp = await redisAnswers();
afterAll(async () => {
  if (redisUp) await deleteRedisKeys(`${redisPrefix}*`);
});
withRedis(redisUp, 'poison bodies on the Redis bus', () => {
  let n = 0;
  poisonSuite('Redis', async () => {
    const bus = createRedisBus({ url: redisUrl, keyPrefix: `${redisPrefix}${n++}:` });
    await bus.ready();
    return bus;
  });
});

describe('publish body rules', () => {
  it('answers an empty JSON body with 400 saying it is empty, not 415', async () => {
    const chat = await startChatOn(createMemoryBus());
    for (const body of ['', '  \r\n']) {
      const res = await post(chat, body);
      expect(await errorMessage(res, 400, 'COMET_ERR_BODY_MALFORMED')).toBe(
        'The request body is empty',
      );
    }
    // No Content-Type and no body: still "empty"; a body without a type is a 415.
    await expectError(await post(chat, new Blob([]), null), 400, 'COMET_ERR_BODY_MALFORMED');
    await expectError(
      await post(chat, new Blob(['{"a":1}']), null),
      415,
      'COMET_ERR_BODY_UNSUPPORTED_TYPE',
    );
  });

  it('says why JSON is malformed, and takes +json types and a UTF-8 charset', async () => {
    const chat = await startChatOn(createMemoryBus());
    const res = await post(chat, '{"a":}');
    expect(await errorMessage(res, 400, 'COMET_ERR_BODY_MALFORMED')).toMatch(
      /^The request body is not valid JSON: ./,
    );
    expect((await post(chat, '{"a":1}', 'application/merge-patch+json')).status).toBe(201);
    expect((await post(chat, '{"a":1}', 'Application/JSON; charset="UTF-8"')).status).toBe(201);
    await expectError(
      await post(chat, '{"a":1}', 'application/json; charset=latin1'),
      415,
      'COMET_ERR_BODY_UNSUPPORTED_TYPE',
    );
    // A UTF-8 byte order mark is skipped (RFC 8259 §8.1).
    expect((await post(chat, Buffer.from('\ufeff{"a":1}', 'utf8'))).status).toBe(201);
  });

  it('refuses invalid UTF-8 however it is broken, over a raw socket', async () => {
    const chat = await startChatOn(createMemoryBus());
    const cases = [
      Buffer.from([0x22, 0xff, 0x22]), // a byte never valid in UTF-8
      Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), // an encoded lone surrogate (CESU)
      Buffer.from([0x22, 0xc0, 0xaf, 0x22]), // an overlong '/'
      Buffer.from([0x22, 0xe2, 0x82, 0x22]), // a truncated sequence
    ];
    for (const body of cases) {
      const raw = await rawPost(
        chat.port,
        `POST /rooms/lobby/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        body,
      );
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toContain('"code":"COMET_ERR_BODY_MALFORMED"');
      expect(raw).toContain('not valid UTF-8');
    }
    expect((await chat.bus.read('room:lobby', 'earliest')).messages).toEqual([]);
  });

  it('takes limit and maxDepth per call, keeping 64 KiB and 64 levels by default', async () => {
    const bus = createMemoryBus();
    const app = new Koa();
    const push = comet({ bus });
    const router = new Router();
    router.post('/default', async (ctx) => {
      ctx.body = { id: (await bus.publish('c', await readJsonBody(ctx))).id };
    });
    router.post('/small', async (ctx) => {
      ctx.body = { id: (await bus.publish('c', await readJsonBody(ctx, { limit: 10 }))).id };
    });
    router.post('/shallow', async (ctx) => {
      ctx.body = { id: (await bus.publish('c', await readJsonBody(ctx, { maxDepth: 2 }))).id };
    });
    app.use(push).use(router.routes());
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(async () => {
      server.closeAllConnections();
      await push.close();
      await new Promise((r) => server.close(r));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = (path: string, body: string) =>
      fetch(base + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    const fits = JSON.stringify('x'.repeat(65_534));
    expect((await send('/default', fits)).status).toBe(200);
    await expectError(await send('/default', `${fits} `), 413, 'COMET_ERR_BODY_TOO_LARGE');
    expect((await send('/small', '"12345678"')).status).toBe(200);
    await expectError(await send('/small', '"123456789"'), 413, 'COMET_ERR_BODY_TOO_LARGE');
    expect((await send('/shallow', '[[1]]')).status).toBe(200);
    await expectError(await send('/shallow', '[[[1]]]'), 400, 'COMET_ERR_BODY_MALFORMED');
    expect((await send('/default', nested(64))).status).toBe(200);
    await expectError(await send('/default', nested(65)), 400, 'COMET_ERR_BODY_MALFORMED');
  });
});

describe('publish over HTTP/2', () => {
  it('reads a body that comes without Content-Length or Transfer-Encoding', async () => {
    const bus = createMemoryBus();
    const { app, push } = createTestApp({ bus });
    const server = createH2Server({}, app.callback());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connectH2(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    closers.push(async () => {
      client.close();
      await push.close();
      await new Promise((r) => server.close(r));
      await bus.close();
    });
    const request = async (body: string) => {
      const stream = client.request({
        ':method': 'POST',
        ':path': '/rooms/lobby/messages',
        'content-type': 'application/json',
      });
      stream.end(body);
      const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
      let text = '';
      for await (const chunk of stream) text += chunk;
      return { status: headers[':status'], body: JSON.parse(text) as Record<string, unknown> };
    };
    const ok = await request('{"text":"over h2"}');
    expect(ok.status).toBe(201);
    const { messages } = await bus.read('room:lobby', 'earliest');
    expect(messages.map((m) => [m.id, m.data])).toEqual([[ok.body.id, { text: 'over h2' }]]);
    const empty = await request('');
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual({
      error: { code: 'COMET_ERR_BODY_MALFORMED', message: 'The request body is empty' },
    });
  });
});
