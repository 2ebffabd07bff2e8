/**
 * A held comet request is taken over from Koa (`detachFromKoa` in middleware/koa-adapter.ts): Koa's
 * error hook and the on-finished watchers are dropped so the ctx can be
 * collected, while other middleware's on-finished callbacks still run,
 * once, when the response ends.
 */

import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus, longpoll, stream } from '../../index.js';
import { closeAll, held, listen, rawSocket, until } from './helpers/server.js';

const onFinished = createRequire(import.meta.url)('on-finished') as (
  res: ServerResponse,
  listener: (error: unknown) => void,
) => void;

class Room {
  @longpoll('/wait')
  wait(_ctx: RouterContext) {
    return 'c';
  }

  @stream('/live')
  live(_ctx: RouterContext) {
    return 'c';
  }
}

afterEach(closeAll);

async function start(logger: boolean) {
  const bus = createMemoryBus();
  const app = new Koa();
  const finished: string[] = [];
  const responses: ServerResponse[] = [];
  app.use(async (ctx, next) => {
    responses.push(ctx.res);
    if (logger) onFinished(ctx.res, () => finished.push(ctx.path));
    await next();
  });
  const push = comet({ bus, controllers: [Room] });
  app.use(push);
  return { running: await listen(app, push, bus), finished, responses, bus, app };
}

/**
 * Waits until every response has closed on the server (the last event that
 * could run an on-finished callback or raise an error), then lets the
 * callbacks on-finished defers with `setImmediate` run.
 */
async function settled(responses: readonly ServerResponse[]): Promise<void> {
  await until(() => responses.every((res) => res.closed), 2000, 'every response to close');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
}

function watchers(res: ServerResponse): number {
  const named = (list: ((...args: unknown[]) => unknown)[]) =>
    list.filter((f) => f.name === 'onevent');
  return (
    named(res.listeners('finish') as never).length +
    named(res.listeners('end') as never).length +
    named((res.socket?.listeners('close') ?? []) as never).length +
    named((res.socket?.listeners('error') ?? []) as never).length
  );
}

describe('a held request is detached from Koa', () => {
  it('drops Koa’s hook and the on-finished watchers while held', async () => {
    const { running, responses, bus } = await start(false);
    const answer = fetch(`${running.base}/wait`);
    await held(running, 1);
    const res = responses[0] as ServerResponse & { __onFinished?: unknown };
    expect(res.__onFinished).toBeUndefined();
    expect(watchers(res)).toBe(0);
    await bus.publish('c', 'x');
    expect(((await (await answer).json()) as { messages: unknown[] }).messages).toHaveLength(1);
  });

  it('still runs other middleware’s on-finished callbacks once, on answer and on disconnect', async () => {
    const { running, finished, bus, responses } = await start(true);
    const answer = fetch(`${running.base}/wait`);
    await held(running, 1);
    await bus.publish('c', 'x');
    await (await answer).json();
    await until(() => finished.length === 1);
    const socket = await rawSocket(running.port);
    socket.write('GET /wait HTTP/1.1\r\nHost: x\r\n\r\n');
    await held(running, 1);
    socket.destroy();
    await until(() => finished.length === 2);
    const stream = await fetch(`${running.base}/live`, {
      headers: { Accept: 'text/event-stream' },
    });
    await held(running, 1);
    await stream.body?.cancel();
    await until(() => finished.length === 3);
    await settled(responses);
    expect(finished).toEqual(['/wait', '/wait', '/live']);
  });

  it('clients leaving mid-stream or mid-hold raise nothing on app.on("error")', async () => {
    const { running, bus, app, responses } = await start(false);
    const errors: unknown[] = [];
    app.on('error', (e: unknown) => errors.push(e));
    const sockets = [];
    for (const path of ['/wait', '/live', '/live?transport=ndjson', '/live?transport=multipart']) {
      const socket = await rawSocket(running.port);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n`);
      sockets.push(socket);
    }
    await held(running, 4);
    await bus.publish('c', 'before');
    await held(running, 3); // the long-poll was answered; streams stay
    for (const socket of sockets) socket.resetAndDestroy();
    await bus.publish('c', 'after');
    await until(() => running.push.stats().held === 0);
    await settled(responses);
    expect(errors).toEqual([]);
  });
});
