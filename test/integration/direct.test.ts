/**
 * Direct dispatch (`comet({ direct: true })`): decorated batch routes are
 * answered before Koa's middleware stack; everything else still goes
 * through Koa. The shared wire contract is covered by running the
 * batch-route test files again in the `direct` project (vitest.config.ts).
 */
import { createServer } from 'node:http';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus, longpoll, poll, stream } from '../../index.js';
import { readUntil } from './helpers/read-stream.js';
import {
  closeAll,
  expectError,
  getJson,
  held,
  listen,
  rawExchange,
  until,
} from './helpers/server.js';

afterEach(closeAll);

/** What the decorated methods saw, per request. */
const seen: {
  params: unknown;
  query: unknown;
  state: unknown;
  cookie: unknown;
  extra: unknown;
  viaKoa: boolean;
}[] = [];

class Feed {
  @longpoll('/feeds/:feed/messages', { timeout: 1 })
  messages(ctx: RouterContext) {
    seen.push({
      params: { ...ctx.params },
      query: { ...ctx.query },
      state: { ...ctx.state },
      cookie: ctx.cookies.get('sid'),
      extra: (ctx as RouterContext & { extra?: string }).extra,
      // Koa's request handling starts every response at 404 (documented);
      // direct dispatch's `app.createContext()` leaves Node's 200.
      viaKoa: ctx.status === 404,
    });
    if (ctx.params['feed'] === 'broken') throw new TypeError('handler bug');
    if (ctx.params['feed'] === 'secret') ctx.throw(401, 'Sign in first');
    return `feed:${ctx.params['feed']}`;
  }

  @poll('/feeds/:feed/unread')
  unread(ctx: RouterContext) {
    return `feed:${ctx.params['feed']}`;
  }

  @stream('/feeds/:feed/live', { transports: ['sse'] })
  live(ctx: RouterContext) {
    if (ctx.params['feed'] === 'secret') ctx.throw(401, 'Sign in first');
    return `feed:${ctx.params['feed']}`;
  }
}

/** A Koa app with middleware in front of comet() that marks what it saw. */
async function start(direct: boolean) {
  seen.length = 0;
  const bus = createMemoryBus();
  const app = new Koa();
  (app.context as { extra?: string }).extra = 'from app.context';
  const upstream: string[] = [];
  app.use(async (ctx, next) => {
    upstream.push(ctx.path);
    ctx.state['user'] = 'ann';
    await next();
  });
  const push = comet({ bus, controllers: [Feed], direct, prefix: '/api' });
  app.use(push);
  const errors: unknown[] = [];
  app.on('error', (e: unknown) => errors.push(e));
  app.silent = true;
  const running = await listen(app, push, bus);
  return { ...running, upstream, errors };
}

describe('direct dispatch', () => {
  it('answers decorated routes before the middleware in front of comet(), and only those', async () => {
    const s = await start(true);
    const pending = getJson(s.base, '/api/feeds/f%20one/messages?timeout=5&x=1', {
      headers: { Cookie: 'sid=abc' },
    });
    await held(s, 1);
    await s.bus.publish('feed:f one', { n: 1 });
    const { res, body } = await pending;
    expect(res.status).toBe(200);
    expect(body.messages.map((x) => x.data)).toEqual([{ n: 1 }]);
    expect(seen).toEqual([
      {
        params: { feed: 'f one' },
        query: { timeout: '5', x: '1' },
        state: {},
        cookie: 'abc',
        extra: 'from app.context',
        viaKoa: false,
      },
    ]);
    // The decorated route skipped the app's own middleware …
    expect(s.upstream).toEqual([]);
    // … while any other request still goes through Koa (here: JSON 404).
    const other = await fetch(`${s.base}/api/nothing`);
    await expectError(other, 404, 'COMET_ERR_ROUTE_NOT_FOUND');
    expect(s.upstream).toEqual(['/api/nothing']);
  });

  it('opens a stream before the middleware in front of comet(), with its errors coded', async () => {
    for (const direct of [true, false]) {
      const s = await start(direct);
      const res = await fetch(`${s.base}/api/feeds/f/live`);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await expect.poll(() => s.push.stats().streams['sse']).toBe(1);
      await s.bus.publish('feed:f', { n: 1 });
      const text = await readUntil(res.body ?? expect.fail('no body'), (t) => t.includes('"n":1'));
      expect(text).toContain('data: {"id":');
      const refused = await fetch(`${s.base}/api/feeds/secret/live`);
      await expectError(refused, 401, 'COMET_ERR_AUTH_UNAUTHORIZED');
      expect(s.upstream).toEqual(direct ? [] : ['/api/feeds/f/live', '/api/feeds/secret/live']);
      await closeAll();
    }
  });

  it('without direct, the same route runs behind the app middleware', async () => {
    const s = await start(false);
    const { res } = await getJson(s.base, '/api/feeds/a/messages?timeout=0');
    expect(res.status).toBe(200);
    expect(s.upstream).toEqual(['/api/feeds/a/messages']);
    expect(seen[0]?.state).toEqual({ user: 'ann' });
  });

  it("gives each request its own ctx.params (a handler's changes stay with its request)", async () => {
    const rooms: unknown[] = [];
    class Scratch {
      @longpoll('/scratch/:room/messages')
      messages(ctx: RouterContext) {
        rooms.push(ctx.params['room']);
        ctx.params['room'] = 'changed';
        return 'scratch';
      }
    }
    const bus = createMemoryBus();
    const app = new Koa();
    const push = comet({ bus, controllers: [Scratch], direct: true });
    app.use(push);
    const s = await listen(app, push, bus);
    for (let i = 0; i < 2; i++) {
      const { res } = await getJson(s.base, '/scratch/a/messages?timeout=0');
      expect(res.status).toBe(200);
    }
    expect(rooms).toEqual(['a', 'a']);
  });

  it('sends HEAD, other methods and absolute-form URLs on to Koa', async () => {
    const s = await start(true);
    const head = await fetch(`${s.base}/api/feeds/a/unread`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const post = await fetch(`${s.base}/api/feeds/a/unread`, { method: 'POST' });
    await expectError(post, 404, 'COMET_ERR_ROUTE_NOT_FOUND');
    const absolute = await rawExchange(
      s.port,
      `GET http://127.0.0.1:${s.port}/api/feeds/a/unread HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(absolute).toMatch(/^HTTP\/1\.1 200 /);
    expect(s.upstream).toEqual([
      '/api/feeds/a/unread',
      '/api/feeds/a/unread',
      '/api/feeds/a/unread',
    ]);
  });

  it('answers a poll with its ETag, and 304 when unchanged', async () => {
    const s = await start(true);
    await s.bus.publish('feed:p', { n: 1 });
    const first = await fetch(`${s.base}/api/feeds/p/unread?cursor=earliest`);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"/);
    expect(((await first.json()) as { messages: unknown[] }).messages).toHaveLength(1);
    const again = await fetch(`${s.base}/api/feeds/p/unread?cursor=earliest`, {
      headers: { 'If-None-Match': etag ?? '' },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect(s.upstream).toEqual([]);
  });

  it('maps refusals to coded errors and a handler bug to a 500 on app "error"', async () => {
    const s = await start(true);
    await expectError(
      await fetch(`${s.base}/api/feeds/secret/messages`),
      401,
      'COMET_ERR_AUTH_UNAUTHORIZED',
    );
    await expectError(
      await fetch(`${s.base}/api/feeds/a/messages?cursor=nope`),
      400,
      'COMET_ERR_CURSOR_MALFORMED',
    );
    const broken = await fetch(`${s.base}/api/feeds/broken/messages`);
    expect(broken.status).toBe(500);
    await broken.text();
    await until(() => s.errors.length === 1, 2000, 'the app error event');
    expect((s.errors[0] as Error).message).toBe('handler bug');
    expect(s.upstream).toEqual([]);
  });

  it('warns once when direct is on but the server was never attached', async () => {
    const bus = createMemoryBus();
    const app = new Koa();
    const push = comet({ bus, controllers: [Feed], direct: true });
    app.use(push);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const s = await listen(app, push, bus, false);
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${s.base}/feeds/a/messages?timeout=0`);
        expect(res.status).toBe(200);
      }
      await until(() => warnings.length > 0, 2000, 'the warning');
      // Both requests were answered: a warning either raised is emitted by now
      // (process.emitWarning emits on the next tick, before the response goes out).
      expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual([
        'COMET_WARN_DIRECT_NOT_ATTACHED',
      ]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it("'auto' (the default) answers directly only when comet() is the app's first middleware", async () => {
    const first = async (direct?: boolean | 'auto', before = false) => {
      const bus = createMemoryBus();
      const app = new Koa();
      if (before) app.use((_ctx, next) => next());
      const push = comet({ bus, controllers: [Feed], ...(direct === undefined ? {} : { direct }) });
      app.use(push);
      const s = await listen(app, push, bus);
      seen.length = 0;
      expect((await fetch(`${s.base}/feeds/a/messages?timeout=0`)).status).toBe(200);
      return seen[0]?.viaKoa;
    };
    expect(await first()).toBe(false);
    expect(await first('auto')).toBe(false);
    expect(await first(undefined, true)).toBe(true);
    expect(await first(false)).toBe(true);
    expect(await first(true, true)).toBe(false);
  });

  it('needs the app, and a server that already has it as its request listener', () => {
    const push = comet({ bus: createMemoryBus(), controllers: [Feed], direct: true });
    const app = new Koa();
    expect(() => push.attach(createServer(app.callback()))).toThrow(
      expect.objectContaining({ code: 'COMET_ERR_OPTIONS_INVALID' }),
    );
    expect(() => push.attach(createServer(), app)).toThrow(
      expect.objectContaining({ code: 'COMET_ERR_OPTIONS_INVALID' }),
    );
    // 'auto' never throws: without the app, or a listener, it simply stays off.
    const auto = comet({ bus: createMemoryBus(), controllers: [Feed] });
    app.use(auto);
    expect(() => auto.attach(createServer())).not.toThrow();
    expect(() => auto.attach(createServer(), app)).not.toThrow();
  });
});
