/**
 * The limits around the cursor rule: at most 32 channels per request, with
 * a combined cursor that fits the cursor length limit at that cap (memory
 * and Redis); `maxTimeout`; `?callback=` on a poll; `HEAD` on a stream; a
 * bus that cannot answer is a coded error before a stream writes anything.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type Bus,
  comet,
  createMemoryBus,
  createRedisBus,
  longpoll,
  type MemoryBus,
  poll,
  stream,
} from '../../index.js';
import { CometError } from '../../lib/base/errors.js';
import { MAX_CHANNELS, MAX_CURSOR_LENGTH } from '../../lib/wire/cursor.js';
import { deleteRedisKeys, redisAnswers, redisUrl, withRedis } from '../helpers/redis.js';
import { readUntil } from './helpers/read-stream.js';
import { closeAll, expectError, LINGER_MS, listen } from './helpers/server.js';

afterEach(closeAll);

/** Rooms `many/<n>` follow n channels whose names are long (names never enter the cursor). */
const longName = (i: number) => `room:${'x'.repeat(200)}:${i}`;
function many(ctx: RouterContext) {
  const n = Number(ctx.params['n']);
  return Array.from({ length: n }, (_, i) => longName(i));
}

class Limits {
  @poll('/many/:n/poll')
  poll(ctx: RouterContext) {
    return many(ctx);
  }

  @longpoll('/many/:n/messages')
  messages(ctx: RouterContext) {
    return many(ctx);
  }

  @stream('/many/:n/live')
  live(ctx: RouterContext) {
    return many(ctx);
  }

  @longpoll('/slow', { maxTimeout: 120, timeout: 1 })
  slow() {
    return 'slow';
  }

  @poll('/one/poll')
  one() {
    return 'one';
  }

  @stream('/one/live')
  oneLive() {
    return 'one';
  }
}

async function start(bus: Bus) {
  const app = new Koa();
  const push = comet({ bus, controllers: [Limits], channelLinger: LINGER_MS });
  app.use(push);
  // listen() closes the bus with the server; its type names the memory bus only.
  return listen(app, push, bus as MemoryBus);
}

interface Batch {
  messages: { id: string; channel: string; data: unknown }[];
  cursor: string;
  gap: boolean;
}

/** At the cap: the cursor fits, resumes every channel, and one more channel is refused. */
async function atTheCap(bus: Bus): Promise<void> {
  const s = await start(bus);
  const head = (await (await fetch(`${s.base}/many/${MAX_CHANNELS}/poll`)).json()) as Batch;
  expect(head.cursor.length).toBeLessThanOrEqual(MAX_CURSOR_LENGTH);
  for (let i = 0; i < MAX_CHANNELS; i++) await bus.publish(longName(i), i);
  const first = (await (
    await fetch(`${s.base}/many/${MAX_CHANNELS}/poll?cursor=${head.cursor}`)
  ).json()) as Batch;
  expect(first.messages.map((m) => m.data).sort((a, b) => Number(a) - Number(b))).toEqual(
    Array.from({ length: MAX_CHANNELS }, (_, i) => i),
  );
  expect(first.cursor.length).toBeLessThanOrEqual(MAX_CURSOR_LENGTH);
  // The cursor after the batch resumes all 32: the next message only.
  await bus.publish(longName(MAX_CHANNELS - 1), 'next');
  const url = `${s.base}/many/${MAX_CHANNELS}/messages?timeout=5&cursor=${first.cursor}`;
  const next = (await (await fetch(url)).json()) as Batch;
  expect(next.messages.map((m) => m.data)).toEqual(['next']);
  // As Last-Event-ID on a stream too.
  const res = await fetch(`${s.base}/many/${MAX_CHANNELS}/live?transport=ndjson`, {
    headers: { 'Last-Event-ID': first.cursor },
  });
  expect(res.status).toBe(200);
  const text = await readUntil(res.body!, (t) => t.includes('"next"'));
  expect(text).toContain('"next"');
  for (const route of ['poll', 'messages?timeout=0', 'live']) {
    const over = await fetch(`${s.base}/many/${MAX_CHANNELS + 1}/${route}`);
    await expectError(over, 400, 'COMET_ERR_CHANNELS_TOO_MANY');
  }
}

describe('channels per request', () => {
  it('memory bus: 32 channels fit one cursor; 33 are a 400', async () => {
    await atTheCap(createMemoryBus());
  });
});

const reachable = await redisAnswers();
withRedis(reachable, 'the channel cap on the Redis bus', () => {
  describe('channels per request on Redis', () => {
    const prefix = `cap-${process.pid}-${Date.now()}:`;
    afterEach(() => deleteRedisKeys(`${prefix}*`));
    it('Redis bus: 32 channels fit one cursor; 33 are a 400', async () => {
      await atTheCap(createRedisBus({ url: redisUrl, keyPrefix: prefix }));
    });
  });
});

describe('timeout and maxTimeout', () => {
  it('a route with maxTimeout: 120 accepts 120 and refuses 121', async () => {
    const s = await start(createMemoryBus());
    const ok = await fetch(`${s.base}/slow?timeout=0`);
    expect(ok.status).toBe(200);
    const over = await fetch(`${s.base}/slow?timeout=121`);
    await expectError(over, 400, 'COMET_ERR_TIMEOUT_INVALID');
    // 120 is accepted: the request is held (ended here by the client).
    const held = new AbortController();
    const pending = fetch(`${s.base}/slow?timeout=120`, { signal: held.signal }).catch(() => null);
    await expect.poll(() => s.push.stats().held).toBe(1);
    held.abort();
    await pending;
  });

  it('refuses a route whose default timeout is above its maxTimeout', () => {
    class Bad {
      @longpoll('/bad', { maxTimeout: 10, timeout: 20 })
      bad() {
        return 'bad';
      }
    }
    expect(() => comet({ bus: createMemoryBus(), controllers: [Bad] })).toThrow(CometError);
  });
});

describe('?callback= on a poll route', () => {
  it('is refused with 400 COMET_ERR_JSONP_DISABLED, never ignored', async () => {
    const s = await start(createMemoryBus());
    const res = await fetch(`${s.base}/one/poll?callback=cb`);
    await expectError(res, 400, 'COMET_ERR_JSONP_DISABLED');
  });
});

describe('HEAD on a stream route', () => {
  it.each([
    ['SSE', '', 'text/event-stream'],
    ['NDJSON', '?transport=ndjson', 'application/x-ndjson'],
  ])('%s: answers the headers and ends', async (_n, q, type) => {
    const s = await start(createMemoryBus());
    const socket = connect(s.port, '127.0.0.1');
    await once(socket, 'connect');
    // A poll after it on the same connection: it is answered only once the HEAD has ended.
    socket.write(
      `HEAD /one/live${q} HTTP/1.1\r\nHost: x\r\n\r\n` +
        'GET /one/poll HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await once(socket, 'close');
    const raw = Buffer.concat(chunks).toString('latin1');
    expect(raw.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    const [headHead, rest] = [
      raw.slice(0, raw.indexOf('\r\n\r\n')),
      raw.slice(raw.indexOf('\r\n\r\n') + 4),
    ];
    expect(headHead).toContain(`Content-Type: ${type}`);
    // Nothing after the HEAD's headers but the next response.
    expect(rest.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(rest).toContain('"messages":[]');
    expect(s.push.stats().channels).toBe(0);
  });
});

describe('a bus that cannot answer', () => {
  /** A memory bus whose reads fail as an unreachable Redis would. */
  function failingBus(): MemoryBus {
    const bus = createMemoryBus();
    const failing = Object.create(bus) as MemoryBus;
    Object.assign(failing, {
      readSync: undefined,
      read: () => Promise.reject(new CometError('COMET_ERR_BUS_UNAVAILABLE')),
      close: () => bus.close(),
    });
    return failing;
  }

  it('is a 503 with its JSON body on a stream, nothing written before', async () => {
    const s = await start(failingBus());
    const res = await fetch(`${s.base}/one/live`);
    await expectError(res, 503, 'COMET_ERR_BUS_UNAVAILABLE');
    await expect.poll(() => s.push.stats().channels).toBe(0);
  });

  it('refuses the WebSocket handshake with the 503', async () => {
    const s = await start(failingBus());
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/one/live`);
    ws.on('error', () => {}); // the refused handshake
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(503);
    ws.terminate();
  });

  it('mid-backlog: the stream ends with 4503 "failed" after what it sent, never silently', async () => {
    const bus = createMemoryBus();
    for (let i = 0; i < 150; i++) await bus.publish('one', i);
    let reads = 0;
    const flaky = Object.create(bus) as MemoryBus;
    Object.assign(flaky, {
      readSync: undefined,
      read: (...args: Parameters<MemoryBus['read']>) =>
        ++reads === 1
          ? bus.read(...args)
          : Promise.reject(new CometError('COMET_ERR_BUS_UNAVAILABLE')),
      close: () => bus.close(),
    });
    const s = await start(flaky);
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/one/live?cursor=earliest`);
    let frames = 0;
    ws.on('message', () => {
      frames += 1;
    });
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect([code, String(reason)]).toEqual([4503, 'failed']);
    expect(frames).toBe(100); // the first page, then the end: the client resumes by cursor
  });
});
