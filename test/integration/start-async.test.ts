import Router from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { type AsyncContext, comet, createMemoryBus, suspendable } from '../../index.js';
import { closeAll, listen, type Running, rawSocket, until } from './helpers/server.js';

afterEach(closeAll);

/** A plain Koa app with comet() mounted and hand-written routes. */
async function startWith(routes: (router: Router) => void): Promise<Running> {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({ bus });
  const router = new Router();
  routes(router);
  app.use(push);
  app.use(router.routes());
  return listen(app, push, bus);
}

describe('ctx.startAsync', () => {
  it('sends ctx.body when complete() is called later', async () => {
    const running = await startWith((router) => {
      router.get('/later', (ctx) => {
        const ac = ctx.startAsync({ timeout: 10_000 });
        setTimeout(() => {
          ctx.body = { done: true };
          ac.complete();
        }, 50);
      });
    });
    const res = await fetch(`${running.base}/later`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    expect(running.push.stats().contexts).toBe(0);
  });

  it('answers 204 when it times out with no answer', async () => {
    let ended: AsyncContext['state'] | undefined;
    let aborted = false;
    const running = await startWith((router) => {
      router.get('/never', (ctx) => {
        const ac = ctx.startAsync({ timeout: 100 });
        ac.signal.addEventListener('abort', () => {
          aborted = true;
        });
        ac.on('complete', (c) => {
          ended = c.state;
        });
      });
    });
    const res = await fetch(`${running.base}/never`);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(ended).toBe('completed');
    expect(aborted).toBe(true);
    expect(running.push.stats().contexts).toBe(0);
  });

  it('lets a timeout listener answer instead', async () => {
    const running = await startWith((router) => {
      router.get('/slow', (ctx) => {
        const ac = ctx.startAsync({ timeout: 100 });
        ac.on('timeout', () => {
          ctx.status = 504;
          ctx.body = { late: true };
          ac.complete();
        });
      });
    });
    const res = await fetch(`${running.base}/slow`);
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({ late: true });
  });

  it('dispatch() re-runs a suspendable handler, which then sets the body', async () => {
    const runs: number[] = [];
    const jobs = new Map<string, string>();
    const running = await startWith((router) => {
      router.get(
        '/jobs/:id',
        suspendable((ctx) => {
          runs.push(Date.now());
          const result = jobs.get(ctx.params.id ?? '');
          if (result !== undefined) {
            ctx.body = { result, runs: runs.length };
            return;
          }
          const ac = ctx.startAsync({ timeout: 10_000 });
          setTimeout(() => {
            jobs.set(ctx.params.id ?? '', 'ready');
            ac.dispatch();
          }, 50);
        }),
      );
    });
    const res = await fetch(`${running.base}/jobs/7`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: 'ready', runs: 2 });
    expect(running.push.stats().contexts).toBe(0);
  });

  it('a re-run may suspend again and be completed later', async () => {
    let round = 0;
    const running = await startWith((router) => {
      router.get(
        '/twice',
        suspendable((ctx) => {
          round += 1;
          const ac = ctx.startAsync({ timeout: 10_000 });
          if (round === 1) setTimeout(() => ac.dispatch(), 20);
          else
            setTimeout(() => {
              ctx.body = `round ${round}`;
              ac.complete();
            }, 20);
        }),
      );
    });
    const res = await fetch(`${running.base}/twice`);
    expect(await res.text()).toBe('round 2');
  });

  it('reports a client that leaves as an error and aborts the signal', async () => {
    const errors: string[] = [];
    let reason: unknown;
    const running = await startWith((router) => {
      router.get('/held', (ctx) => {
        const ac = ctx.startAsync({ timeout: 60_000 });
        ac.on('error', (error) => errors.push((error as { code?: string }).code ?? ''));
        ac.signal.addEventListener('abort', () => {
          reason = ac.signal.reason;
        });
      });
    });
    const socket = await rawSocket(running.port);
    socket.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => running.push.stats().contexts === 1);
    socket.destroy();
    await until(() => running.push.stats().contexts === 0, 1000, 'context released');
    expect(errors).toEqual(['COMET_ERR_ASYNC_DISCONNECTED']);
    expect((reason as { code?: string }).code).toBe('COMET_ERR_ASYNC_DISCONNECTED');
  });
});
