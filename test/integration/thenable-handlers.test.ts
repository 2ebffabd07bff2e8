/**
 * A route handler may return any thenable (a promise from another library or
 * realm), not only a native Promise: the channels it resolves to are followed,
 * and a rejection is the handler's refusal. Plain direct dispatch and the Koa
 * path both run the handler.
 */
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus, longpoll, poll, stream } from '../../index.js';
import { readUntil } from './helpers/read-stream.js';
import { closeAll, listen } from './helpers/server.js';

afterEach(closeAll);

/** A thenable that is not a Promise (as some libraries' deferreds are). */
function later<T>(settle: () => T): PromiseLike<T> {
  return {
    // biome-ignore lint/suspicious/noThenProperty: the point of this test is a custom thenable
    then(onFulfilled, onRejected) {
      const settled = new Promise<T>((resolve, reject) => {
        setImmediate(() => {
          try {
            resolve(settle());
          } catch (error) {
            reject(error);
          }
        });
      });
      return settled.then(onFulfilled, onRejected);
    },
  };
}

const room = (ctx: RouterContext) => later(() => `room:${ctx.params['room']}`);
const refuse = () =>
  later(() => {
    throw Object.assign(new Error('no'), { status: 403, expose: true });
  });

async function start() {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({
    bus,
    routes: [
      poll('/rooms/:room/unread', room),
      longpoll('/rooms/:room/messages', room),
      stream('/rooms/:room/live', { transports: ['ndjson'] }, room),
      longpoll('/private/:room', refuse),
    ],
  });
  app.use(push);
  return listen(app, push, bus);
}

describe('a handler returning a non-native thenable', () => {
  it('is followed on poll, long-poll and stream routes', async () => {
    const running = await start();
    const sent = await running.bus.publish('room:a', 'hello');
    const unread = await fetch(`${running.base}/rooms/a/unread?cursor=earliest`);
    expect(unread.status).toBe(200);
    expect(await unread.json()).toMatchObject({ messages: [{ id: sent.id, data: 'hello' }] });
    const held = await fetch(`${running.base}/rooms/a/messages?cursor=earliest&timeout=5`);
    expect(await held.json()).toMatchObject({ messages: [{ id: sent.id, channel: 'room:a' }] });
    const live = await fetch(`${running.base}/rooms/a/live?cursor=earliest`, {
      headers: { Accept: 'application/x-ndjson' },
    });
    expect(live.status).toBe(200);
    if (live.body === null) throw new Error('no body');
    const text = await readUntil(live.body, (t) => t.includes(`"id":"${sent.id}"`));
    expect(text).toContain('"data":"hello"');
  });

  it('refuses with its rejection, as a throwing handler would', async () => {
    const running = await start();
    const res = await fetch(`${running.base}/private/a?timeout=1`);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'COMET_ERR_AUTH_FORBIDDEN' } });
  });
});
