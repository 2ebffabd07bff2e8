/**
 * `ctx.startAsync()` for hand-written Koa handlers, and `suspendable()` to
 * make a handler re-runnable by `AsyncContext.dispatch()`.
 *
 * The handler returns; the comet middleware then holds Koa's middleware
 * promise until the context completes, and Koa sends `ctx.body` as usual.
 */
import type Koa from 'koa';
import type { Context, Middleware, Next } from 'koa';
import { CometError } from '../lib/base/errors.js';
import { AsyncContext } from '../lib/suspend/async-context.js';
import type { TimerWheel } from '../lib/suspend/timer-wheel.js';
import { extendContext } from './koa-adapter.js';

/** Options of `ctx.startAsync()`. */
export interface StartAsyncOptions {
  /** Milliseconds until the context times out (0: never). Default 30,000. */
  timeout?: number;
}

/** Per-comet state a request needs to suspend. */
export interface AsyncHost {
  readonly timers: TimerWheel;
  /** Hand-written contexts in flight, for graceful shutdown. */
  readonly contexts: Set<AsyncContext>;
  readonly closing: () => boolean;
}

declare module 'koa' {
  interface DefaultContext {
    /**
     * Suspends this request (Servlet 3.0 `request.startAsync()`): the
     * handler returns, the connection stays open, and the response is sent
     * when the returned context completes. Needs the comet middleware
     * mounted before the handler.
     * @throws CometError `COMET_ERR_SHUTTING_DOWN` while the server closes.
     */
    startAsync(options?: StartAsyncOptions): AsyncContext;
  }
}

/** @internal Symbols the middleware sets on a ctx. */
export const kHost = Symbol('koa-comet.host');
export const kAsync = Symbol('koa-comet.async');
const kDispatch = Symbol('koa-comet.dispatch');

interface Marked {
  [kHost]?: AsyncHost;
  [kAsync]?: AsyncContext;
  [kDispatch]?: () => unknown;
}

function startAsync(this: Context & Marked, options: StartAsyncOptions = {}): AsyncContext {
  const host = this[kHost];
  if (host === undefined) {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      'Mount comet() before handlers that call ctx.startAsync()',
    );
  }
  const current = this[kAsync];
  if (current?.state === 'resumed') {
    current.restart(options.timeout);
    return current;
  }
  if (host.closing()) throw new CometError('COMET_ERR_SHUTTING_DOWN');
  const rerun = this[kDispatch];
  const ac = new AsyncContext(this.req, this.res, {
    timeout: options.timeout ?? 30_000,
    timers: host.timers,
    onExpire: () => {
      if (this.body == null) this.status = 204;
    },
    onComplete: () => host.contexts.delete(ac),
    ...(rerun ? { onDispatch: rerun } : {}),
  });
  host.contexts.add(ac);
  this[kAsync] = ac;
  return ac;
}

/**
 * @internal Puts `startAsync` on `app.context`, the prototype of every ctx
 * the app makes, once per app: `attach(server, app)` does it when the
 * middleware is tied to its app, and the middleware itself on its first
 * request otherwise (an app that never calls `attach`).
 */
export function installStartAsync(app: Koa): void {
  extendContext(app, 'startAsync', startAsync);
}

/**
 * @internal After the downstream handlers returned: if the request
 * suspended, waits until its context completes.
 */
export function heldUntilComplete(ctx: Context): Promise<void> | undefined {
  const ac = (ctx as Context & Marked)[kAsync];
  if (ac === undefined || ac.state === 'completed') return undefined;
  ac.suspend();
  return new Promise((resolve) => ac.on('complete', () => resolve()));
}

/**
 * Makes `handler` re-runnable: `ac.dispatch()` calls it again with the same
 * ctx (Servlet `AsyncContext.dispatch()`); if the re-run does not suspend
 * again, the response is sent when it returns.
 * @example
 * ```ts
 * router.get('/jobs/:id', suspendable(async (ctx) => {
 *   const job = jobs.get(ctx.params.id);
 *   if (job.done) { ctx.body = job.result; return; }
 *   const ac = ctx.startAsync({ timeout: 30_000 });
 *   job.once('done', () => ac.dispatch());
 * }));
 * ```
 */
export function suspendable<C extends Context>(
  handler: (ctx: C, next: Next) => unknown,
): Middleware {
  return (ctx, next) => {
    (ctx as Context & Marked)[kDispatch] = () => handler(ctx as C, next);
    return handler(ctx as C, next);
  };
}
