/**
 * `@publish` routes: a POST with a JSON body publishes to the channel the
 * handler names and answers `201 {"id"}` — decorated and plain, through
 * Koa's stack and by direct dispatch, with the body checks, the hooks
 * (settled before the body is read), `Idempotency-Key` and CORS.
 */
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CometRoute,
  comet,
  createMemoryBus,
  isCometError,
  longpoll,
  publish,
} from '../../index.js';
import { closeAll, expectError, listen, rawSocket } from './helpers/server.js';

afterEach(closeAll);

const room = (ctx: RouterContext) => {
  if (ctx.params['room'] === 'missing') ctx.throw(404, 'No such room');
  return `room:${ctx.params['room']}`;
};

class Rooms {
  @longpoll('/rooms/:room/messages', { timeout: 5 })
  follow(ctx: RouterContext) {
    return room(ctx);
  }

  @publish('/rooms/:room/messages', { limit: 64 })
  post(ctx: RouterContext) {
    return room(ctx);
  }

  @publish('/private/:room', { authorize: () => false })
  secret(ctx: RouterContext) {
    return room(ctx);
  }

  @publish('/both/:room')
  both() {
    return ['room:a', 'room:b'];
  }
}

/**
 * The app: `front` counts requests that reach Koa's stack (it runs before
 * comet()), so a request answered by direct dispatch leaves it at 0.
 */
async function start(direct: boolean, extra: { routes?: CometRoute[]; cors?: boolean } = {}) {
  const bus = createMemoryBus();
  const app = new Koa();
  const seen = { front: 0 };
  app.use(async (_ctx, next) => {
    seen.front++;
    await next();
  });
  const push = comet({
    bus,
    controllers: [Rooms],
    direct,
    ...(extra.routes ? { routes: extra.routes } : {}),
    ...(extra.cors ? { cors: { origins: ['http://app.example'] } } : {}),
  });
  app.use(push);
  app.use((ctx) => {
    if (ctx.method === 'POST' && ctx.path === '/downstream') ctx.body = { downstream: true };
  });
  return { running: await listen(app, push, bus), seen };
}

function post(base: string, path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body,
  });
}

describe.each([
  ['by direct dispatch', true],
  ["through Koa's stack", false],
])('@publish %s', (_label, direct) => {
  it('publishes the body to the named channel and answers 201 with its id', async () => {
    const { running, seen } = await start(direct);
    const head = await running.bus.publish('room:a', 'before');
    // GET follows the path, POST publishes on it.
    const held = fetch(`${running.base}/rooms/a/messages?cursor=${head.id}`);
    await expect.poll(() => running.push.stats().held).toBe(1);
    const res = await post(running.base, '/rooms/a/messages', '{"text":"hi"}');
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const { id } = (await res.json()) as { id: string };
    const answer = (await (await held).json()) as { messages: unknown[] };
    expect(answer.messages).toEqual([{ id, channel: 'room:a', data: { text: 'hi' } }]);
    // Direct dispatch answered both before Koa's stack; without it the front middleware ran.
    expect(seen.front).toBe(direct ? 0 : 2);
  });

  it('refuses bodies with coded errors: over the limit, not JSON, malformed', async () => {
    const { running } = await start(direct);
    const fits = JSON.stringify('x'.repeat(62)); // 64 bytes: the limit
    expect((await post(running.base, '/rooms/a/messages', fits)).status).toBe(201);
    const over = JSON.stringify('x'.repeat(63));
    await expectError(
      await post(running.base, '/rooms/a/messages', over),
      413,
      'COMET_ERR_BODY_TOO_LARGE',
    );
    const text = await post(running.base, '/rooms/a/messages', 'hi', {
      'Content-Type': 'text/plain',
    });
    await expectError(text, 415, 'COMET_ERR_BODY_UNSUPPORTED_TYPE');
    await expectError(
      await post(running.base, '/rooms/a/messages', '{"a":'),
      400,
      'COMET_ERR_BODY_MALFORMED',
    );
    expect((await running.bus.read('room:a', 'earliest', 10)).messages).toHaveLength(1);
  });

  it('stores a retried publish with the same Idempotency-Key once', async () => {
    const { running } = await start(direct);
    const key = { 'Idempotency-Key': 'retry-1' };
    const first = await post(running.base, '/rooms/a/messages', '1', key);
    const again = await post(running.base, '/rooms/a/messages', '1', key);
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(await first.json());
    expect((await running.bus.read('room:a', 'earliest', 10)).messages).toHaveLength(1);
    const bad = await post(running.base, '/rooms/a/messages', '1', { 'Idempotency-Key': 'é' });
    await expectError(bad, 400, 'COMET_ERR_IDEMPOTENCY_KEY_INVALID');
  });

  it('a refusal by the handler or a hook answers before the body is read', async () => {
    const { running } = await start(direct);
    await expectError(
      await post(running.base, '/rooms/missing/messages', '1'),
      404,
      'COMET_ERR_ROUTE_NOT_FOUND',
    );
    // A megabyte announced, a few bytes sent: the 403 comes without the rest.
    const socket = await rawSocket(running.port);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write(
      'POST /private/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1048576\r\n\r\n[1,2,',
    );
    await expect.poll(() => Buffer.concat(chunks).toString('latin1')).toMatch(/"}}$/);
    const answer = Buffer.concat(chunks).toString('latin1');
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    expect(answer).toContain('"code":"COMET_ERR_AUTH_FORBIDDEN"');
    expect(await running.bus.read('room:a', 'earliest', 10)).toMatchObject({ messages: [] });
  });

  it('a handler naming more than one channel is a 500 route error, nothing stored', async () => {
    const { running } = await start(direct);
    await expectError(await post(running.base, '/both/x', '1'), 500, 'COMET_ERR_ROUTE_INVALID');
    expect(running.bus.stats?.().bytes ?? 0).toBe(0);
  });

  it('a plain publish(path, handler) route publishes too', async () => {
    const route = publish('/plain/:room', (ctx) => `plain:${ctx.params['room']}`);
    const { running } = await start(direct, { routes: [route] });
    const res = await post(running.base, '/plain/z', '[1]');
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expect((await running.bus.read('plain:z', 'earliest', 10)).messages).toEqual([
      expect.objectContaining({ id, data: [1] }),
    ]);
  });

  it('answers an allowed cross-origin POST with its CORS headers', async () => {
    const { running } = await start(direct, { cors: true });
    const res = await post(running.base, '/rooms/a/messages', '1', {
      Origin: 'http://app.example',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://app.example');
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });

  it('leaves other POSTs to the app: downstream, and routes added to push.router', async () => {
    const { running } = await start(direct);
    const down = await post(running.base, '/downstream', '1');
    expect(await down.json()).toEqual({ downstream: true });
    running.push.router.post('/added', (ctx) => {
      ctx.body = { added: true };
    });
    expect(await (await post(running.base, '/added', '1')).json()).toEqual({ added: true });
  });
});

describe('@publish options', () => {
  it('a limit that is not a whole number >= 1 is refused when comet() is created', () => {
    for (const limit of [0, 1.5, -1, Number.NaN]) {
      const route = publish('/p', { limit }, () => 'c');
      let caught: unknown;
      try {
        comet({ bus: createMemoryBus(), routes: [route] });
      } catch (error) {
        caught = error;
      }
      expect(isCometError(caught) && caught.code).toBe('COMET_ERR_OPTIONS_INVALID');
    }
  });
});
