/**
 * Taking a response over from Koa for a held request.
 *
 * A decorated comet route writes its own bytes (`ctx.respond = false`), so
 * Koa's per-request error hook is of no use while the request is held —
 * yet it pins the whole ctx graph (ctx, request, response, router state)
 * and, through `on-finished`, four `ee-first` listener closures on the
 * response and its socket: about 2.5 KiB of heap per held request, more
 * than half again what Node's own request costs. With ten thousand idle
 * long-polls that is the difference this framework is judged by
 * (`npm run bench`, "held"), so the hold drops them and, when the response
 * closes, runs what else was queued on `on-finished` (loggers, metrics)
 * itself, exactly once.
 *
 * This leans on facts of Koa 3 and `on-finished` 2.x read from their code:
 * Koa queues its hook first, the queue lives at `res.__onFinished.queue`,
 * and the watchers are `ee-first` closures named `onevent`. If one of them
 * changes, `test/integration/detach.test.ts` says so.
 */

import type { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';

type Callback = ((error: unknown, res: ServerResponse) => void) & { name: string };
interface Finishable {
  __onFinished?: ((error?: unknown) => void) & { queue?: Callback[] | null };
}

function dropWatchers(emitter: EventEmitter | null | undefined, events: readonly string[]): void {
  if (!emitter) return;
  for (const event of events) {
    for (const fn of emitter.listeners(event)) {
      if ((fn as { name?: string }).name === 'onevent')
        emitter.removeListener(event, fn as () => void);
    }
  }
}

/**
 * Hands `ctx.res` to the comet route: Koa will not answer it, and Koa's
 * own error hook (which holds the ctx) is dropped from `on-finished`.
 */
export function detachFromKoa(ctx: Context): void {
  ctx.respond = false;
  // Koa's parseurl cache (`ctx.path`, `ctx.query`): not needed once held.
  (ctx.req as { _parsedUrl?: unknown })._parsedUrl = undefined;
  const res = ctx.res as ServerResponse & Finishable;
  const queue = res.__onFinished?.queue;
  if (!queue) return;
  // Koa's handleRequest queues its hook (`(err) => ctx.onerror(err)`, wrapped
  // by on-finished in an AsyncResource bind, so nameless) before any
  // middleware runs: it is the first entry. Later entries are other
  // middleware's (loggers, metrics) and run at the end, see finishDetached.
  queue.shift();
  dropWatchers(res, ['end', 'finish']);
  // On HTTP/2 on-finished watched the stream (`res.socket` is a proxy that
  // hands `on` to the stream but reads everything else from the session's
  // socket): drop them there.
  dropWatchers((res as { stream?: EventEmitter }).stream ?? res.socket, ['error', 'close']);
  // Nothing else waits: drop the empty queue and its closure too. Else run
  // the rest when the response closes (a shared function: no closure).
  if (queue.length === 0) res.__onFinished = undefined;
  else res.once('close', runQueued);
}

function runQueued(this: ServerResponse): void {
  finishDetached(this);
}

/** Runs what is still queued on `on-finished` for `res` (once; later calls do nothing). */
function finishDetached(res: ServerResponse): void {
  const listener = (res as ServerResponse & Finishable).__onFinished;
  if (typeof listener === 'function') listener(undefined);
}
