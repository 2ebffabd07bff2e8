/**
 * One test per private detail of Koa, `@koa/router`, `on-finished` and
 * `ee-first` that middleware/koa-adapter.ts relies on: each fails when the
 * dependency changes shape, before the behaviour built on it breaks quietly.
 */
import type { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as http2 from 'node:http2';
import { createRequire } from 'node:module';
import { type AddressInfo, connect } from 'node:net';
import Router, { type RouterContext } from '@koa/router';
import Koa, { type Context } from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus } from '../../../index.js';
import {
  checkKoaVersions,
  detachFromKoa,
  EE_FIRST_LISTENER,
  extendContext,
  installedVersions,
  interceptRequests,
  matchRoute,
  matchUpgrade,
  respondLikeKoa,
  routedContext,
  versionMismatches,
  WRITTEN_AGAINST,
} from '../../../middleware/koa-adapter.js';

type Finishable = { __onFinished?: ((e?: unknown) => void) & { queue?: unknown[] } };
const onFinished = createRequire(createRequire(import.meta.url).resolve('koa'))('on-finished') as (
  res: ServerResponse,
  listener: (error: unknown) => void,
) => void;

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function listen(server: Server | http2.Http2Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** The raw bytes of one HTTP/1.1 exchange, with the `Date` header taken out. */
async function raw(port: number, path = '/'): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  await new Promise((resolve) => socket.on('close', resolve));
  return Buffer.concat(chunks)
    .toString('latin1')
    .replace(/\r\nDate: [^\r]*/, '');
}

function onevents(emitter: EventEmitter | null | undefined, event: string): number {
  if (!emitter) return 0;
  return emitter.listeners(event).filter((f) => f.name === EE_FIRST_LISTENER).length;
}

/** Runs `inspect` inside a Koa middleware on a real request, then answers. */
async function insideKoa<T>(inspect: (ctx: Context) => T, logger = false): Promise<T> {
  const app = new Koa();
  let seen: T | undefined;
  let thrown: unknown;
  app.use(async (ctx) => {
    if (logger) onFinished(ctx.res, () => {});
    try {
      seen = inspect(ctx);
    } catch (error) {
      thrown = error;
    }
    if (ctx.respond !== false) ctx.body = 'ok';
    else ctx.res.end('ok');
  });
  const port = await listen(createServer(app.callback()));
  await raw(port);
  if (thrown) throw thrown;
  return seen as T;
}

describe('on-finished and ee-first (held requests)', () => {
  it('on-finished keeps its listeners at res.__onFinished.queue, watching with ee-first closures named onevent', async () => {
    let seen: { queue: unknown; res: number; socket: number } | undefined;
    const server = createServer((_req, res) => {
      onFinished(res, () => {});
      onFinished(res, () => {});
      seen = {
        queue: (res as ServerResponse & Finishable).__onFinished?.queue?.length,
        res: onevents(res, 'finish') + onevents(res, 'end'),
        socket: onevents(res.socket, 'close') + onevents(res.socket, 'error'),
      };
      res.end();
    });
    await raw(await listen(server));
    expect(seen).toEqual({ queue: 2, res: 2, socket: 2 });
  });

  it("Koa queues its own error hook first, before any middleware's", async () => {
    const errors: unknown[] = [];
    const app = new Koa();
    app.on('error', (e: unknown) => errors.push(e));
    let queued = 0;
    app.use((ctx) => {
      const queue = (ctx.res as ServerResponse & Finishable).__onFinished?.queue ?? [];
      queued = queue.length;
      // The first entry is Koa's `(err) => ctx.onerror(err)`: calling it answers 500.
      (queue[0] as (e: unknown) => void)(new Error('from the queue'));
      ctx.respond = false;
    });
    const answer = await raw(await listen(createServer(app.callback())));
    expect(queued).toBe(1);
    expect(answer.startsWith('HTTP/1.1 500')).toBe(true);
    expect(errors.map((e) => (e as Error).message)).toEqual(['from the queue']);
  });

  it('parseurl caches ctx.path at req._parsedUrl', async () => {
    const parsed = await insideKoa((ctx) => {
      void ctx.path;
      return (ctx.req as IncomingMessage & { _parsedUrl?: unknown })._parsedUrl;
    });
    expect(parsed).toEqual(expect.objectContaining({ pathname: '/' }));
  });

  it('detachFromKoa drops Koa’s hook and every onevent watcher, keeping later callbacks', async () => {
    const seen = await insideKoa((ctx) => {
      const res = ctx.res as ServerResponse & Finishable;
      const before = res.__onFinished?.queue?.length;
      detachFromKoa(ctx);
      return {
        before,
        after: res.__onFinished?.queue?.length,
        watchers:
          onevents(res, 'finish') +
          onevents(res, 'end') +
          onevents(res.socket, 'close') +
          onevents(res.socket, 'error'),
        parsed: (ctx.req as IncomingMessage & { _parsedUrl?: unknown })._parsedUrl,
      };
    }, true);
    expect(seen).toEqual({ before: 2, after: 1, watchers: 0, parsed: undefined });
  });

  it('on HTTP/2 on-finished watches the stream, where detachFromKoa finds it', async () => {
    const app = new Koa();
    let seen: { before: number; after: number; queue: unknown } | undefined;
    app.use((ctx) => {
      const stream = (ctx.res as unknown as { stream: EventEmitter }).stream;
      const count = () => onevents(stream, 'close') + onevents(stream, 'error');
      const before = count();
      detachFromKoa(ctx);
      seen = {
        before,
        after: count(),
        queue: (ctx.res as unknown as Finishable).__onFinished,
      };
      ctx.res.end('ok');
    });
    const server = http2.createServer(app.callback());
    const port = await listen(server);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const request = client.request({ ':path': '/' });
      request.resume();
      await new Promise((resolve) => request.on('end', resolve));
    } finally {
      client.close();
    }
    expect(seen).toEqual({ before: 2, after: 0, queue: undefined });
  });
});

describe('@koa/router (direct dispatch, upgrades)', () => {
  const handler = (_ctx: RouterContext) => {};
  const other = (_ctx: RouterContext, next: () => Promise<void>) => next();

  it('router.match() finds the layer whose stack[0] is the declared handler', () => {
    const router = new Router({ prefix: '/api' });
    router.get('/feeds/:feed/messages', handler);
    expect(matchRoute(router, '/api/feeds/f%20one/messages')).toEqual({
      handler,
      path: '/api/feeds/:feed/messages',
      params: { feed: 'f one' },
    });
    expect(matchRoute(router, '/api/nothing')).toBeUndefined();
  });

  it('matchUpgrade looks through every middleware of the matching layers', () => {
    const router = new Router();
    router.get('/live/:room', other, handler);
    const upgrades = new Map<unknown, string>([[handler, 'upgrade']]);
    expect(matchUpgrade(router, '/live/a', (h) => upgrades.get(h))).toEqual({
      value: 'upgrade',
      params: { room: 'a' },
    });
    expect(matchUpgrade(router, '/dead/a', (h) => upgrades.get(h))).toBeUndefined();
  });

  it('routedContext sets what the router sets when it dispatches', async () => {
    const app = new Koa();
    const router = new Router();
    let fromRouter: Record<string, unknown> = {};
    let fromAdapter: Record<string, unknown> = {};
    const pick = (ctx: RouterContext) => ({
      params: { ...ctx.params },
      routerPath: ctx.routerPath,
      matched: ctx._matchedRoute,
    });
    router.get('/rooms/:room', (ctx) => {
      fromRouter = pick(ctx);
      const match = matchRoute(router, ctx.path);
      if (match) fromAdapter = pick(routedContext(app, ctx.req, ctx.res, match));
      ctx.body = 'ok';
    });
    app.use(router.routes());
    await raw(await listen(createServer(app.callback())), '/rooms/lobby');
    expect(fromRouter).toEqual({
      params: { room: 'lobby' },
      routerPath: '/rooms/:room',
      matched: '/rooms/:room',
    });
    expect(fromAdapter).toEqual(fromRouter);
  });
});

describe("Koa's respond() (direct dispatch)", () => {
  const bodies: Record<string, (ctx: Context) => void> = {
    'a poll body': (ctx) => {
      ctx.status = 200;
      ctx.set('ETag', '"abc"');
      ctx.body = '{"messages":[],"cursor":"1","gap":false}';
      ctx.type = 'application/json; charset=utf-8';
    },
    'a 304': (ctx) => {
      ctx.set('ETag', '"abc"');
      ctx.status = 304;
    },
    'a Buffer': (ctx) => {
      ctx.body = Buffer.from('bytes');
    },
    'a coded error': (ctx) => {
      ctx.status = 404;
      ctx.body = { error: { code: 'COMET_ERR_ROUTE_NOT_FOUND', message: 'é' } };
      ctx.set('Cache-Control', 'no-store');
    },
  };

  for (const [name, set] of Object.entries(bodies)) {
    it(`respondLikeKoa sends ${name} byte for byte as Koa does`, async () => {
      const app = new Koa();
      app.use((ctx) => set(ctx));
      const viaKoa = await raw(await listen(createServer(app.callback())));
      const direct = createServer((req, res) => {
        const ctx = app.createContext(req, res);
        set(ctx);
        respondLikeKoa(ctx);
      });
      expect(await raw(await listen(direct))).toBe(viaKoa);
    });
  }
});

describe("the app's request listener and app.context", () => {
  it('app.callback() is the server’s one request listener, and interceptRequests goes in front', async () => {
    const app = new Koa();
    app.use((ctx) => {
      ctx.body = 'koa';
    });
    const server = createServer(app.callback());
    expect(server.listenerCount('request')).toBe(1);
    expect(interceptRequests(createServer(), () => true)).toBe(false);
    expect(
      interceptRequests(server, (req, res) => {
        if (req.url !== '/mine') return false;
        res.end('mine');
        return true;
      }),
    ).toBe(true);
    const port = await listen(server);
    expect((await raw(port, '/mine')).endsWith('mine')).toBe(true);
    expect((await raw(port, '/other')).endsWith('koa')).toBe(true);
  });

  it('every ctx is made from app.context, so extendContext reaches it', async () => {
    const app = new Koa();
    const method = () => 'added';
    extendContext(app, 'added', method);
    extendContext(app, 'added', () => 'second');
    const seen = await new Promise<unknown[]>((resolve) => {
      const server = createServer((req, res) => {
        const ctx = app.createContext(req, res);
        resolve([Object.getPrototypeOf(ctx) === app.context, (ctx as { added?: unknown }).added]);
        res.end();
      });
      void listen(server).then((port) => raw(port));
    });
    expect(seen).toEqual([true, method]);
    expect(Object.hasOwn(new Koa().context, 'added')).toBe(false);
  });
});

describe('ctx.startAsync on app.context', () => {
  it('attach(server, app) defines it before any request; an app that never attaches gets it on its first', async () => {
    const attached = new Koa();
    const push = comet({ bus: createMemoryBus() });
    attached.use(push);
    const server = createServer(attached.callback());
    expect(Object.hasOwn(attached.context, 'startAsync')).toBe(false);
    push.attach(server, attached);
    expect(Object.hasOwn(attached.context, 'startAsync')).toBe(true);
    servers.push({ close: () => void push.close() });

    const lazy = new Koa();
    const other = comet({ bus: createMemoryBus() });
    lazy.use(other);
    lazy.use((ctx) => {
      ctx.body = typeof ctx.startAsync;
    });
    servers.push({ close: () => void other.close() });
    expect(Object.hasOwn(lazy.context, 'startAsync')).toBe(false);
    const answer = await raw(await listen(createServer(lazy.callback())));
    expect(answer.endsWith('function')).toBe(true);
    expect(Object.hasOwn(lazy.context, 'startAsync')).toBe(true);
  });
});

describe('the versions the adapter was written against', () => {
  it('the installed koa, @koa/router, on-finished and ee-first are those versions', () => {
    const installed = installedVersions();
    expect(Object.keys(installed)).toEqual(Object.keys(WRITTEN_AGAINST));
    for (const version of Object.values(installed)) expect(version).toMatch(/^\d+\.\d+\./);
    expect(versionMismatches(installed)).toEqual([]);
  });

  it('warns COMET_WARN_KOA_VERSION when a major or minor differs', async () => {
    const warnings: (Error & { code?: string })[] = [];
    let warned = () => {};
    const arrived = new Promise<void>((resolve) => {
      warned = resolve;
    });
    const onWarning = (w: Error) => {
      warnings.push(w);
      warned();
    };
    process.on('warning', onWarning);
    try {
      // Warnings arrive in order: one for 3.3.9 would come before 3.4.0's.
      expect(checkKoaVersions({ ...installedVersions(), koa: '3.3.9' })).toEqual([]);
      expect(checkKoaVersions({ ...installedVersions(), koa: '3.4.0' })).toEqual([
        { name: 'koa', expected: '3.3', installed: '3.4.0' },
      ]);
      await arrived;
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.code)).toEqual(['COMET_WARN_KOA_VERSION']);
    expect(warnings[0]?.message).toContain('koa 3.4.0 (written against 3.3.x)');
  });
});
