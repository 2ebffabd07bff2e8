/**
 * Tutorial step 6: suspending a request by hand, Servlet 3.0 style, with
 * `ctx.startAsync()`, `suspendable()` and `AsyncContext.dispatch()`.
 */
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { comet, createMemoryBus, readJsonBody, suspendable } from '../../index.js';

/** A job some other part of the app finishes later. */
interface Job {
  result?: unknown;
  readonly waiters: Set<() => void>;
}

/** Starts an app whose `GET /jobs/:id` waits (up to `timeout` ms) for the job to finish. */
export async function start(port = 0, timeout = 30_000) {
  const jobs = new Map<string, Job>([['42', { waiters: new Set() }]]);
  const app = new Koa();
  const push = comet({ bus: createMemoryBus() }); // gives every ctx startAsync()
  const router = new Router();

  // #region wait
  router.get(
    '/jobs/:id',
    // suspendable(): ac.dispatch() re-runs this very handler with the same ctx.
    suspendable(async (ctx) => {
      const job = jobs.get(ctx.params.id ?? '');
      if (job === undefined) return ctx.throw(404, 'No such job');
      if (job.result !== undefined) {
        ctx.body = { result: job.result }; // first run, or the re-run after dispatch()
        return;
      }
      const ac = ctx.startAsync({ timeout }); // request.startAsync()
      const wake = () => ac.dispatch(); // AsyncContext.dispatch()
      job.waiters.add(wake);
      ac.on('timeout', () => {
        ctx.status = 202; // AsyncListener.onTimeout: answer "still running"
        ctx.body = { status: 'pending' };
      });
      ac.on('complete', () => job.waiters.delete(wake)); // however it ended
      // The handler returns here; the response waits for the context.
    }),
  );
  // #endregion wait

  // #region finish
  router.post('/jobs/:id/result', async (ctx) => {
    const job = jobs.get(ctx.params.id ?? '');
    if (job === undefined) return ctx.throw(404, 'No such job');
    job.result = await readJsonBody(ctx);
    for (const wake of job.waiters) wake(); // every held GET re-runs and answers
    ctx.status = 204;
  });
  // #endregion finish

  app.use(push); // mount comet() before handlers that call ctx.startAsync()
  app.use(router.routes());
  const server = app.listen(port, '127.0.0.1');
  push.attach(server, app);
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    jobs,
    close: () => push.close(),
  };
}
