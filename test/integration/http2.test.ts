/**
 * HTTP/2: the demo app on `http2.createSecureServer({ allowHTTP1: true })`
 * and on cleartext `http2.createServer` (h2c), driven by `http2.connect`.
 * Every route kind delivers and resumes by cursor; a reset stream
 * (RST_STREAM) or a lost session frees what it held at once; `close()`
 * sends GOAWAY. WebSocket rides the HTTP/1.1 side of the TLS server.
 */
import { constants } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type H2Running, request, startH2Chat } from './helpers/h2.js';
import { publish, until } from './helpers/server.js';

const open = new Set<H2Running>();
afterEach(async () => {
  await Promise.all([...open].map((r) => r.close()));
  open.clear();
});

async function start(kind: 'tls' | 'h2c'): Promise<H2Running> {
  const running = await startH2Chat(kind);
  open.add(running);
  return running;
}

function held(running: H2Running, n: number): Promise<void> {
  return until(() => running.push.stats().held === n, 5000, `${n} held`);
}

interface Batch {
  messages: { id: string; data: unknown }[];
  cursor: string;
  gap: boolean;
}

describe.each(['tls', 'h2c'] as const)('HTTP/2 (%s)', (kind) => {
  it('answers poll, long-poll and JSONP after a cursor, and holds a long-poll until a publish', async () => {
    const chat = await start(kind);
    const ids = [];
    for (let i = 1; i <= 3; i++) ids.push((await publish(chat.bus, 'a', { n: i })).id);
    const session = chat.connect();
    const [first, , third] = ids as [string, string, string];

    const poll = request(session, `/rooms/a/unread?cursor=${first}`);
    expect((await poll.response)[':status']).toBe(200);
    const polled = JSON.parse(await poll.body) as Batch;
    expect(polled.messages.map((m) => m.data)).toEqual([{ n: 2 }, { n: 3 }]);

    const jsonp = request(session, `/rooms/a/messages?cursor=${first}&callback=cb`);
    expect((await jsonp.response)['content-type']).toMatch(/^application\/javascript/);
    expect(await jsonp.body).toBe(
      `/**/cb(${JSON.stringify({
        messages: [
          { id: ids[1], channel: 'room:a', data: { n: 2 } },
          { id: third, channel: 'room:a', data: { n: 3 } },
        ],
        cursor: third,
        gap: false,
      })});`,
    );

    const waiting = request(session, `/rooms/a/messages?cursor=${third}&timeout=30`);
    await held(chat, 1);
    const fourth = await publish(chat.bus, 'a', { n: 4 });
    const answer = JSON.parse(await waiting.body) as Batch;
    expect(answer.messages.map((m) => m.id)).toEqual([fourth.id]);
    expect(answer.cursor).toBe(fourth.id);
    await held(chat, 0);
  });

  it('takes a JSON publish over HTTP/2 (no Content-Length) and delivers its id', async () => {
    const chat = await start(kind);
    const session = chat.connect();
    const waiting = request(session, '/rooms/p/messages?timeout=30');
    await held(chat, 1);
    const post = request(
      session,
      '/rooms/p/messages',
      { 'content-type': 'application/json' },
      '{"hi":1}',
    );
    expect((await post.response)[':status']).toBe(201);
    const { id } = JSON.parse(await post.body) as { id: string };
    expect((JSON.parse(await waiting.body) as Batch).messages).toEqual([
      { id, channel: 'room:p', data: { hi: 1 } },
    ]);
  });

  it('streams SSE, NDJSON, multipart and iframe from a cursor, then live, on one session', async () => {
    const chat = await start(kind);
    const first = await publish(chat.bus, 'a', 'one');
    const second = await publish(chat.bus, 'a', 'two');
    const session = chat.connect();
    const streams = [
      request(session, '/rooms/a/live', { 'last-event-id': first.id }),
      request(session, `/rooms/a/live?transport=ndjson&cursor=${first.id}`),
      request(session, `/rooms/a/live?transport=multipart&cursor=${first.id}`),
      request(session, `/rooms/a/live?transport=iframe&callback=cb&cursor=${first.id}`),
    ];
    const types = await Promise.all(streams.map(async (s) => (await s.response)['content-type']));
    expect(types).toEqual([
      'text/event-stream; charset=utf-8',
      'application/x-ndjson; charset=utf-8',
      expect.stringMatching(/^multipart\/mixed; boundary=/),
      'text/html; charset=utf-8',
    ]);
    const envelope = (id: string, data: string) => JSON.stringify({ id, channel: 'room:a', data });
    for (const s of streams) {
      const text = await s.until((t) => t.includes(envelope(second.id, 'two')));
      expect(text).not.toContain(envelope(first.id, 'one'));
    }
    await held(chat, 4);
    const third = await publish(chat.bus, 'a', 'three');
    const texts = await Promise.all(
      streams.map((s) => s.until((t) => t.includes(envelope(third.id, 'three')))),
    );
    expect(texts[0]).toContain(`id: ${third.id}\ndata: ${envelope(third.id, 'three')}\n\n`);
    expect(texts[1]).toContain(`${envelope(third.id, 'three')}\n`);
    expect(texts[3]).toContain(`<script>parent.cb(${envelope(third.id, 'three')});</script>`);
  });

  it('frees a held long-poll and a stream at once when their HTTP/2 stream is reset, the session staying up', async () => {
    const chat = await start(kind);
    const session = chat.connect();
    const baseline = chat.push.stats().held;
    const poll = request(session, '/rooms/a/messages?timeout=55');
    const sse = request(session, '/rooms/a/live');
    await sse.response;
    await held(chat, baseline + 2);
    poll.stream.close(constants.NGHTTP2_CANCEL);
    await held(chat, baseline + 1);
    sse.stream.close(constants.NGHTTP2_CANCEL);
    await held(chat, baseline);
    // The session is still up and serves the next request.
    const next = request(session, '/rooms/a/unread');
    expect((await next.response)[':status']).toBe(200);
    expect(session.destroyed).toBe(false);
  });

  it("drops Koa's on-finished watchers from the HTTP/2 stream of a held request", async () => {
    const chat = await start(kind);
    const serverStreams: import('node:http2').ServerHttp2Stream[] = [];
    chat.server.on('stream', (stream) => serverStreams.push(stream));
    const session = chat.connect();
    request(session, '/rooms/w/live?transport=ndjson');
    request(session, '/rooms/w/messages?timeout=55');
    await held(chat, 2);
    // ee-first's watchers are named `onevent`; Koa's would pin the whole ctx.
    const watchers = serverStreams.flatMap((stream) =>
      ['error', 'close'].flatMap((event) =>
        stream.listeners(event).filter((fn) => fn.name === 'onevent'),
      ),
    );
    expect(serverStreams).toHaveLength(2);
    expect(watchers).toEqual([]);
  });

  it('frees everything a session held when the whole session goes', async () => {
    const chat = await start(kind);
    const session = chat.connect();
    const streams = [
      request(session, '/rooms/a/messages?timeout=55'),
      request(session, '/rooms/b/messages?timeout=55&callback=cb'),
      request(session, '/rooms/a/live?transport=ndjson'),
    ];
    await held(chat, streams.length);
    session.destroy();
    await held(chat, 0);
    await until(() => chat.push.stats().channels === 0, 5000, 'channels released');
  });

  it('sends GOAWAY on close(), after answering held requests and ending streams', async () => {
    const chat = await start(kind);
    const session = chat.connect();
    const head = await publish(chat.bus, 'a', 'x');
    const goaway = new Promise<number>((resolve) =>
      session.once('goaway', (code: number) => resolve(code)),
    );
    const poll = request(session, `/rooms/a/messages?timeout=55&cursor=${head.id}`);
    const sse = request(session, '/rooms/a/live');
    await sse.response;
    await held(chat, 2);
    await chat.push.close();
    expect(await goaway).toBe(constants.NGHTTP2_NO_ERROR);
    expect(JSON.parse(await poll.body)).toEqual({ messages: [], cursor: head.id, gap: false });
    await sse.body; // ended by the server
    expect(chat.server.listening).toBe(false);
    expect(chat.push.stats().held).toBe(0);
  });
});

describe('HTTP/2 TLS server with allowHTTP1', () => {
  it('takes WebSocket upgrades on its HTTP/1.1 side', async () => {
    const chat = await start('tls');
    const ws = new WebSocket(`wss://127.0.0.1:${chat.port}/rooms/a/live`, {
      rejectUnauthorized: false,
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await held(chat, 1);
    const frame = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    const message = await publish(chat.bus, 'a', 'hi');
    expect(JSON.parse(await frame)).toEqual({ id: message.id, channel: 'room:a', data: 'hi' });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await chat.close();
    expect(await closed).toBe(1001);
  });
});
