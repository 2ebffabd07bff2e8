/**
 * Runs every tutorial example (`docs/examples/*.ts`) against real sockets on
 * 127.0.0.1 port 0 and checks it does what the tutorial says it does.
 * Streams and the browser client are in `examples-live.test.ts`, Redis in
 * `examples-redis.test.ts`.
 */
import { EventEmitter } from 'node:events';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import * as firstLongpoll from '../../docs/examples/01-first-longpoll.js';
import * as publishing from '../../docs/examples/02-publishing.js';
import { type FollowEvent, follow } from '../../docs/examples/03-follow.js';
import * as jsonp from '../../docs/examples/04-jsonp.js';
import * as pollEtag from '../../docs/examples/05-poll-etag.js';
import * as startAsync from '../../docs/examples/06-start-async.js';
import * as crossOrigin from '../../docs/examples/09-cross-origin.js';
import * as shutdown from '../../docs/examples/11-shutdown.js';
import * as direct from '../../docs/examples/12-direct.js';
import { runPageScript } from './fake-page.js';

const examplesDir = fileURLToPath(new URL('../../docs/examples/', import.meta.url));

/** Everything a test started; closed in afterEach. */
const running: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function started<T extends { close(): Promise<unknown> }>(app: Promise<T>): Promise<T> {
  const value = await app;
  running.push(value);
  return value;
}

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(body),
});

/** Resolves once `promise` settles or after `ms`, telling which (no assertion on time). */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const done = await Promise.race([promise.then(() => true), late]);
  clearTimeout(timer);
  return done;
}

describe('docs/examples', () => {
  it('every file imports without listening and exports a function to run', async () => {
    const files = readdirSync(examplesDir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(11);
    const servers = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = servers();
    for (const file of files) {
      const module = (await import(pathToFileURL(join(examplesDir, file)).href)) as object;
      const functions = Object.values(module).filter((v) => typeof v === 'function');
      expect(functions.length, file).toBeGreaterThan(0);
    }
    expect(servers()).toBe(before);
  });
});

describe('01 first long-poll', () => {
  it('holds a request until a message is published, then answers the batch', async () => {
    const app = await started(firstLongpoll.start());
    // Resume from the head, so the publish cannot land before the request is held.
    const { cursor } = await app.bus.read('room:lobby');
    const held = fetch(`${app.url}/rooms/lobby/messages?cursor=${cursor}`);
    expect(await settledWithin(held, 150)).toBe(false);
    const message = await app.bus.publish('room:lobby', { text: 'hello' });
    const response = await held;
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
    expect(await response.json()).toEqual({
      messages: [{ id: message.id, channel: 'room:lobby', data: { text: 'hello' } }],
      cursor: message.id,
      gap: false,
    });
  });

  it('answers an empty batch with the head cursor at timeout=0', async () => {
    const app = await started(firstLongpoll.start());
    const m = await app.bus.publish('room:lobby', 1);
    const response = await fetch(`${app.url}/rooms/lobby/messages?timeout=0`);
    expect(await response.json()).toEqual({ messages: [], cursor: m.id, gap: false });
  });
});

describe('02 publishing', () => {
  it.each([
    ['by hand', publishing.start],
    ['with @publish', publishing.startDecorated],
  ])('a POSTed message reaches a held long-poll (%s)', async (_label, start) => {
    const app = await started(start());
    const { cursor } = await app.bus.read('room:lobby');
    const held = fetch(`${app.url}/rooms/lobby/messages?cursor=${cursor}`).then((r) => r.json());
    const posted = await fetch(`${app.url}/rooms/lobby/messages`, json({ text: 'hi' }));
    expect(posted.status).toBe(201);
    const { id } = (await posted.json()) as { id: string };
    expect(await held).toEqual({
      messages: [{ id, channel: 'room:lobby', data: { text: 'hi' } }],
      cursor: id,
      gap: false,
    });
  });

  it('refuses non-JSON (415), oversized (413) and malformed (400) bodies', async () => {
    const app = await started(publishing.start());
    const url = `${app.url}/rooms/lobby/messages`;
    const text = await fetch(url, {
      method: 'POST',
      body: 'hi',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    const big = JSON.stringify('x'.repeat(65_535)); // 65,537 bytes with its quotes
    const large = await fetch(url, {
      method: 'POST',
      body: big,
      headers: { 'Content-Type': 'application/json' },
    });
    expect(large.status).toBe(413);
    const bad = await fetch(url, {
      method: 'POST',
      body: '{',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
      'COMET_ERR_BODY_MALFORMED',
    );
  });
});

describe('03 following with cursors', () => {
  it('cursor=earliest replays history in order, then follows live messages', async () => {
    const app = await started(publishing.start());
    await fetch(`${app.url}/rooms/lobby/messages`, json({ n: 1 }));
    await fetch(`${app.url}/rooms/lobby/messages`, json({ n: 2 }));
    const abort = new AbortController();
    const seen: unknown[] = [];
    const reading = (async () => {
      for await (const event of follow(
        `${app.url}/rooms/lobby/messages`,
        'earliest',
        abort.signal,
      )) {
        if (event.kind === 'message') seen.push(event.message.data);
        if (seen.length === 2) void fetch(`${app.url}/rooms/lobby/messages`, json({ n: 3 }));
        if (seen.length === 3) break;
      }
    })();
    await reading;
    abort.abort();
    expect(seen).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('a cursor from another server (a restart) yields a gap, then the messages after the head', async () => {
    const old = await started(publishing.start());
    const { id: stale } = (await (
      await fetch(`${old.url}/rooms/lobby/messages`, json(0))
    ).json()) as {
      id: string;
    };
    const app = await started(publishing.start());
    await app.bus.publish('room:lobby', 'before');
    const events: FollowEvent[] = [];
    for await (const event of follow(`${app.url}/rooms/lobby/messages`, stale)) {
      events.push(event);
      if (event.kind === 'gap') void app.bus.publish('room:lobby', 'after');
      if (event.kind === 'message') break;
    }
    expect(events.map((e) => (e.kind === 'gap' ? 'gap' : e.message.data))).toEqual([
      'gap',
      'after',
    ]);
  });
});

describe('04 JSONP', () => {
  it("the other origin's page receives the inbox through script tags", async () => {
    const app = await started(jsonp.start());
    const html = await (await fetch(app.pageUrl)).text();
    const page = runPageScript(html);
    try {
      await page.requested(1);
      // The first request has no cursor ("from now"): publish once it is held.
      while (app.held() < 1) await new Promise((resolve) => setTimeout(resolve, 10));
      await app.bus.publish('inbox:ada', { text: 'first' });
      await page.requested(2);
      await app.bus.publish('inbox:ada', { text: 'second' });
      await page.requested(3);
      expect(page.texts('log')).toEqual(['first', 'second']);
    } finally {
      page.stop();
    }
  });

  it('answers application/javascript with nosniff, and 403 for a wrong token', async () => {
    const app = await started(jsonp.start());
    const ok = await fetch(`${app.url}/users/ada/inbox?token=s3cret-ada&callback=cb&timeout=0`);
    expect(ok.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await ok.text()).toMatch(
      /^\/\*\*\/cb\(\{"messages":\[\],"cursor":"[^"]+","gap":false\}\);$/,
    );
    const refused = await fetch(`${app.url}/users/ada/inbox?token=guess&callback=cb`);
    expect(refused.status).toBe(403);
    const badName = await fetch(`${app.url}/users/ada/inbox?token=s3cret-ada&callback=alert(1)`);
    expect(badName.status).toBe(400);
  });
});

describe('05 poll with ETag', () => {
  it('counts unread notifications, revalidating unchanged answers with 304', async () => {
    const app = await started(pollEtag.start());
    const url = `${app.url}/users/ada/notifications`;
    const counter = pollEtag.unreadCounter(url);
    expect(await counter.check()).toBe(0);
    expect(await counter.check()).toBe(0);
    await app.bus.publish('notifications:ada', { text: 'a' });
    await app.bus.publish('notifications:ada', { text: 'b' });
    expect(await counter.check()).toBe(2);
    counter.markAllRead();
    expect(await counter.check()).toBe(0);
  });

  it('sends an ETag with Cache-Control: no-cache and answers 304 on If-None-Match', async () => {
    const app = await started(pollEtag.start());
    const url = `${app.url}/users/ada/notifications?cursor=earliest`;
    const first = await fetch(url);
    const etag = first.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    expect(first.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(url, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    await app.bus.publish('notifications:ada', 1);
    expect((await fetch(url, { headers: { 'If-None-Match': etag } })).status).toBe(200);
  });
});

describe('06 startAsync / suspendable / dispatch', () => {
  it('a held GET is re-run by dispatch() when the job finishes', async () => {
    const app = await started(startAsync.start());
    const held = fetch(`${app.url}/jobs/42`);
    expect(await settledWithin(held, 150)).toBe(false);
    const done = await fetch(`${app.url}/jobs/42/result`, json({ answer: 42 }));
    expect(done.status).toBe(204);
    const response = await held;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ result: { answer: 42 } });
    expect(app.jobs.get('42')?.waiters.size).toBe(0); // the complete listener cleaned up
    // Now finished: answers at once, without suspending.
    expect(await (await fetch(`${app.url}/jobs/42`)).json()).toEqual({ result: { answer: 42 } });
  });

  it('the timeout listener answers 202 pending; an unknown job is 404', async () => {
    const app = await started(startAsync.start(0, 100));
    const response = await fetch(`${app.url}/jobs/42`);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ status: 'pending' });
    expect(app.jobs.get('42')?.waiters.size).toBe(0);
    expect((await fetch(`${app.url}/jobs/7`)).status).toBe(404);
  });
});

describe('09 cross-origin', () => {
  it('CORS: allowed origins get the headers (with credentials), others none, bad preflights 403', async () => {
    const app = await started(crossOrigin.start());
    const url = `${app.url}/rooms/lobby/messages?timeout=0`;
    const allowed = await fetch(url, { headers: { Origin: 'https://app.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('vary')).toMatch(/Origin/);
    const other = await fetch(url, { headers: { Origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = (origin: string) =>
      fetch(url, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' },
      });
    const ok = await preflight('https://admin.example');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-max-age')).toBe('600');
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/\bAuthorization\b/);
    expect((await preflight('https://evil.example')).status).toBe(403);
  });
});

describe('11 graceful shutdown', () => {
  it('SIGTERM answers held requests with their cursor and closes the server', async () => {
    const signals = new EventEmitter();
    const app = await started(shutdown.start(0, signals));
    const m = await app.bus.publish('room:lobby', 'x');
    const held = fetch(`${app.url}/rooms/lobby/messages?cursor=${m.id}`);
    expect(await settledWithin(held, 150)).toBe(false);
    signals.emit('SIGTERM');
    const response = await held;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ messages: [], cursor: m.id, gap: false });
    await app.close(); // the same promise the signal started
    expect(app.server.listening).toBe(false);
  });
});

describe('12 direct dispatch', () => {
  it('answers the decorated route before the app middleware, which still sees everything else', async () => {
    const app = await started(direct.start());
    const refused = await fetch(`${app.url}/inbox/messages?timeout=0`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'COMET_ERR_AUTH_UNAUTHORIZED',
    );
    const message = await app.bus.publish('inbox:ann', { text: 'hi Ann' });
    const answered = await fetch(`${app.url}/inbox/messages?cursor=earliest`, {
      headers: { Authorization: 'Bearer ann' },
    });
    expect(await answered.json()).toEqual({
      messages: [{ id: message.id, channel: 'inbox:ann', data: { text: 'hi Ann' } }],
      cursor: message.id,
      gap: false,
    });
    expect(app.seen).toEqual([]);
    expect((await fetch(`${app.url}/elsewhere`)).status).toBe(404);
    expect(app.seen).toEqual(['/elsewhere']);
  });
});
