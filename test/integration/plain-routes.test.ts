/**
 * Routes declared without decorators: `poll/longpoll/stream(path, [options,] handler)`
 * passed to `comet({ routes })`, answered over real sockets like decorated ones.
 */
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus, isCometError, longpoll, poll, stream } from '../../index.js';
import { readUntil } from './helpers/read-stream.js';
import { closeAll, listen } from './helpers/server.js';

afterEach(closeAll);

const room = (ctx: RouterContext) => `room:${ctx.params['room']}`;

async function start() {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({
    bus,
    prefix: '/api',
    routes: [
      poll('/rooms/:room/unread', room),
      longpoll('/rooms/:room/messages', { timeout: 1 }, room),
      stream('/rooms/:room/live', { transports: ['sse', 'ndjson'] }, room),
      longpoll('/private/:room', { authorize: () => false }, room),
    ],
  });
  app.use(push);
  return listen(app, push, bus);
}

describe('routes without decorators', () => {
  it('a plain long-poll route is held until a publish, then answers it', async () => {
    const running = await start();
    const head = await running.bus.publish('room:a', 'before');
    const held = fetch(`${running.base}/api/rooms/a/messages?cursor=${head.id}&timeout=10`);
    await expect.poll(() => running.push.stats().held).toBe(1);
    const sent = await running.bus.publish('room:a', { text: 'hi' });
    const res = await held;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      messages: [{ id: sent.id, channel: 'room:a', data: { text: 'hi' } }],
      cursor: sent.id,
      gap: false,
    });
  });

  it('a plain poll route answers at once; its route options apply', async () => {
    const running = await start();
    const first = await running.bus.publish('room:b', 1);
    const second = await running.bus.publish('room:b', 2);
    const res = await fetch(`${running.base}/api/rooms/b/unread?cursor=${first.id}`);
    expect(await res.json()).toMatchObject({ messages: [{ id: second.id, data: 2 }] });
    // The long-poll route's own `timeout: 1` holds an empty request one second, not 25.
    const empty = await fetch(`${running.base}/api/rooms/b/messages?cursor=${second.id}`);
    expect(await empty.json()).toEqual({ messages: [], cursor: second.id, gap: false });
    const refused = await fetch(`${running.base}/api/private/b`);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'COMET_ERR_AUTH_FORBIDDEN' } });
  });

  it('a plain stream route streams SSE and offers only its transports', async () => {
    const running = await start();
    const res = await fetch(`${running.base}/api/rooms/c/live`, {
      headers: { Accept: 'text/event-stream' },
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const body = res.body;
    if (body === null) throw new Error('no body');
    await expect.poll(() => running.push.stats().held).toBe(1);
    const sent = await running.bus.publish('room:c', 'live!');
    const text = await readUntil(body, (t) => t.includes('live!'));
    expect(text).toContain(
      `id: ${sent.id}\ndata: {"id":"${sent.id}","channel":"room:c","data":"live!"}\n\n`,
    );
    const iframe = await fetch(`${running.base}/api/rooms/c/live?transport=iframe&callback=f`);
    expect(iframe.status).toBe(400);
    await iframe.text();
  });

  it('refuses what is not a route, naming the fix', () => {
    const bus = createMemoryBus();
    const notARoute = longpoll('/x') as unknown as never;
    const error = (() => {
      try {
        comet({ bus, routes: [notARoute] });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isCometError(error) && error.code).toBe('COMET_ERR_OPTIONS_INVALID');
    expect(() => longpoll('/x', 42 as never)).toThrow(/expected options or a handler/);
    expect(() => longpoll('/x', {}, 'h' as never)).toThrow(/handler must be a function/);
  });
});
