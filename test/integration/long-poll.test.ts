import { type Agent, get } from 'node:http';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus, longpoll } from '../../index.js';
import {
  agent,
  type BatchBody,
  closeAll,
  getJson,
  held,
  LINGER_MS,
  listen,
  post,
  publish,
  rawSocket,
  startChat,
  until,
} from './helpers/server.js';

afterEach(closeAll);

/** A GET through `via` (for many concurrent requests): status and body. */
function httpGet(url: string, via: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: via }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('long-poll', () => {
  it('receives a message published after it parked', async () => {
    const chat = await startChat();
    const pending = getJson(chat.base, '/rooms/lobby/messages?timeout=30');
    await held(chat, 1);
    const id = await post(chat.base, 'lobby', { text: 'hi' });
    const { res, body } = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store, no-transform');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(body).toEqual({
      messages: [{ id, channel: 'room:lobby', data: { text: 'hi' } }],
      cursor: id,
      gap: false,
    });
    await held(chat, 0);
  });

  it('delivers a message published between two polls through the cursor', async () => {
    const chat = await startChat();
    const first = getJson(chat.base, '/rooms/lobby/messages?timeout=30');
    await held(chat, 1);
    await publish(chat.bus, 'lobby', 1);
    const a = (await first).body;
    expect(a.messages.map((m) => m.data)).toEqual([1]);
    // Published while no request is held: only the cursor can find it.
    await publish(chat.bus, 'lobby', 2);
    await publish(chat.bus, 'lobby', 3);
    const { body: b } = await getJson(chat.base, `/rooms/lobby/messages?cursor=${a.cursor}`);
    expect(b.messages.map((m) => m.data)).toEqual([2, 3]);
    expect(b.cursor).toBe(b.messages[1]?.id);
    expect(b.gap).toBe(false);
  });

  it('answers 1,000 concurrent long-polls with one publish and frees every waiter', async () => {
    // A linger no loaded machine runs out before the assertions below (the
    // linger's own end is tested in linger.test.ts and test/unit/hub/hub.test.ts).
    const chat = await startChat({ channelLinger: 600_000 });
    const via = agent(1100);
    const n = 1000;
    const url = `${chat.base}/rooms/crowd/messages?timeout=55`;
    const answers = Array.from({ length: n }, () => httpGet(url, via));
    await held(chat, n, 20_000);
    expect(chat.bus.subscriberCount('room:crowd')).toBe(1);
    const message = await publish(chat.bus, 'crowd', { text: 'to all' });
    const results = await Promise.all(answers);
    const expected = JSON.stringify({
      messages: [{ id: message.id, channel: 'room:crowd', data: { text: 'to all' } }],
      cursor: message.id,
      gap: false,
    });
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body).toBe(expected);
    }
    expect(chat.push.stats().held).toBe(0);
    // The channel's one bus subscription outlived its 1,000 waiters, for the next polls.
    expect(chat.push.stats().channels).toBe(1);
    expect(chat.bus.subscriberCount()).toBe(1);
    // Shutdown releases it at once (synchronously, before the bus itself is closed).
    const closing = chat.close();
    expect(chat.push.stats().channels).toBe(0);
    expect(chat.bus.subscriberCount()).toBe(0);
    await closing;
  });

  it('frees the waiter at once when a held client disconnects', async () => {
    const chat = await startChat();
    const socket = await rawSocket(chat.port);
    socket.write('GET /rooms/lobby/messages?timeout=55 HTTP/1.1\r\nHost: x\r\n\r\n');
    await held(chat, 1);
    expect(chat.bus.subscriberCount('room:lobby')).toBe(1);
    socket.destroy();
    await held(chat, 0, 1000);
    await until(() => chat.bus.subscriberCount() === 0, 1000, 'the linger to end');
    // A later publish finds nobody and breaks nothing.
    await publish(chat.bus, 'lobby', 'late');
    const { res } = await getJson(chat.base, '/health');
    expect(res.status).toBe(200);
  });

  it('answers 200 with no messages and the cursor on timeout', async () => {
    const chat = await startChat();
    const head = await publish(chat.bus, 'lobby', 'old');
    const { res, body } = await getJson(
      chat.base,
      `/rooms/lobby/messages?cursor=${head.id}&timeout=1`,
    );
    expect(res.status).toBe(200);
    expect(body).toEqual({ messages: [], cursor: head.id, gap: false });
    expect(chat.push.stats().held).toBe(0);
  });

  it('with no cursor waits from now and times out with the head cursor', async () => {
    const chat = await startChat();
    await publish(chat.bus, 'lobby', 'before');
    const head = await publish(chat.bus, 'lobby', 'head');
    const { body } = await getJson(chat.base, '/rooms/lobby/messages?timeout=1');
    expect(body).toEqual({ messages: [], cursor: head.id, gap: false });
  });

  it('takes Last-Event-ID over ?cursor=', async () => {
    const chat = await startChat();
    const first = await publish(chat.bus, 'lobby', 1);
    await publish(chat.bus, 'lobby', 2);
    const { body } = await getJson(chat.base, '/rooms/lobby/messages?cursor=earliest&timeout=0', {
      headers: { 'Last-Event-ID': first.id },
    });
    expect(body.messages.map((m) => m.data)).toEqual([2]);
  });

  it('cursor=earliest starts from the oldest message in history', async () => {
    const chat = await startChat();
    for (const n of [1, 2, 3]) await publish(chat.bus, 'lobby', n);
    const { body } = await getJson(chat.base, '/rooms/lobby/messages?cursor=earliest&timeout=1');
    expect(body.messages.map((m) => m.data)).toEqual([1, 2, 3]);
    expect(body.gap).toBe(false);
  });

  it('answers a cursor from another bus epoch with a gap at the head', async () => {
    const chat = await startChat({ bus: createMemoryBus({ epoch: 'new' }) });
    await publish(chat.bus, 'lobby', 1);
    const head = await publish(chat.bus, 'lobby', 2);
    const { res, body } = await getJson(chat.base, '/rooms/lobby/messages?cursor=old-2&timeout=5');
    expect(res.status).toBe(200);
    expect(body).toEqual({ messages: [], cursor: head.id, gap: true });
    // The head cursor then resumes normally.
    const next = getJson(chat.base, `/rooms/lobby/messages?cursor=${body.cursor}&timeout=30`);
    await held(chat, 1);
    await publish(chat.bus, 'lobby', 3);
    expect((await next).body.messages.map((m) => m.data)).toEqual([3]);
  });

  it('pages a long backlog by 100 and follows on through the cursor', async () => {
    const chat = await startChat();
    for (let n = 0; n < 150; n++) await publish(chat.bus, 'lobby', n);
    const first = await getJson(chat.base, '/rooms/lobby/messages?cursor=earliest&timeout=0');
    expect(first.body.messages.map((m) => m.data)).toEqual([...Array(100).keys()]);
    const rest = await getJson(
      chat.base,
      `/rooms/lobby/messages?cursor=${first.body.cursor}&timeout=0`,
    );
    expect(rest.body.messages.map((m) => m.data)).toEqual(
      [...Array(50).keys()].map((n) => n + 100),
    );
  });

  it('answers a cursor ahead of the head with a gap', async () => {
    const chat = await startChat({ bus: createMemoryBus({ epoch: 'e1' }) });
    const head = await publish(chat.bus, 'lobby', 1);
    const { body } = await getJson(chat.base, '/rooms/lobby/messages?cursor=e1-9&timeout=5');
    expect(body).toEqual({ messages: [], cursor: head.id, gap: true });
  });

  it('wakes JSON, JSONP and other-cursor waiters on one publish, each with its own answer', async () => {
    const chat = await startChat();
    const old = await publish(chat.bus, 'lobby', 'old');
    const head = await publish(chat.bus, 'lobby', 'head');
    const url = `${chat.base}/rooms/lobby/messages?timeout=30`;
    const json = fetch(`${url}&cursor=${head.id}`);
    const jsonp = fetch(`${url}&cursor=${head.id}&callback=cb`);
    // Behind by one: answered at once with 'head', then re-polls and parks.
    const behind = await getJson(chat.base, `/rooms/lobby/messages?cursor=${old.id}`);
    expect(behind.body.messages.map((m) => m.data)).toEqual(['head']);
    await held(chat, 2);
    const m = await publish(chat.bus, 'lobby', 'new');
    const batch = `{"messages":[{"id":"${m.id}","channel":"room:lobby","data":"new"}],"cursor":"${m.id}","gap":false}`;
    expect(await (await json).text()).toBe(batch);
    expect(await (await jsonp).text()).toBe(`/**/cb(${batch});`);
    await held(chat, 0);
  });

  it('answers 503 JSON when the bus is closed', async () => {
    const chat = await startChat();
    await chat.bus.close();
    for (const path of ['/rooms/lobby/messages?timeout=1', '/rooms/lobby/unread']) {
      const res = await fetch(chat.base + path);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await res.json()) as { error: { code: string } }).error.code).toMatch(
        /^COMET_ERR_BUS_/,
      );
    }
    expect(chat.push.stats().held).toBe(0);
  });
});

class Pair {
  @longpoll('/pair')
  both() {
    return ['a', 'b'];
  }
}

describe('long-poll on two channels', () => {
  it('follows both with one combined cursor and loses nothing across rounds', async () => {
    const bus = createMemoryBus();
    const app = new Koa();
    const push = comet({ bus, controllers: [Pair], channelLinger: LINGER_MS });
    app.use(push);
    const running = await listen(app, push, bus);
    // Ids count per channel: a message is known by channel and id.
    const key = (m: { id: string; channel: string }) => `${m.channel}/${m.id}`;
    const sent: string[] = [];
    const seen: string[] = [];
    let cursor = '';
    for (let round = 0; round < 6; round++) {
      let answered = false;
      const pending = getJson<BatchBody>(running.base, `/pair?timeout=30&cursor=${cursor}`);
      void pending.then(() => {
        answered = true;
      });
      // Parked (one bus subscription per channel), unless the last round's extra
      // messages were left for this request's cursor and it answered at once.
      if (round % 2 === 0) {
        await until(() => answered || push.stats().channels === 2, 2000, `round ${round} parked`);
      }
      const channel = round % 3 === 0 ? 'a' : 'b';
      sent.push(key(await bus.publish(channel, `${channel}${round}`)));
      if (round % 2 === 1) {
        // Two more while the request may already be answered: the cursor must carry them.
        sent.push(key(await bus.publish('a', `a${round}x`)));
        sent.push(key(await bus.publish('b', `b${round}x`)));
      }
      const { res, body } = await pending;
      expect(res.status).toBe(200);
      expect(body.gap).toBe(false);
      expect(body.cursor).toMatch(/^c\./);
      seen.push(...body.messages.map(key));
      cursor = body.cursor;
    }
    // Drain what the last round left behind.
    const { body } = await getJson<BatchBody>(running.base, `/pair?timeout=0&cursor=${cursor}`);
    seen.push(...body.messages.map(key));
    expect([...seen].sort()).toEqual([...sent].sort());
    expect(new Set(seen).size).toBe(seen.length);
    await until(() => push.stats().held === 0);
    await until(() => bus.subscriberCount() === 0, 1000, 'the linger to end');
  });
});
