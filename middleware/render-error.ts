/**
 * Every coded error ends its response with a JSON body
 * `{ error: { code, message } }` and its status; anything else is left to Koa.
 */
import type { Context } from 'koa';
import { isCometError } from '../lib/base/errors.js';
import type { Meters } from '../lib/hub/meters.js';

/**
 * Answers `error` on `ctx` when it is a coded error; rethrows anything else.
 * Works even after `ctx.respond = false` (a route that already took over
 * the raw response): it then writes directly, or ends the socket.
 */
export function renderError(ctx: Context, error: unknown, meters?: Meters): void {
  if (!isCometError(error)) throw error;
  meters?.error(error.code);
  const res = ctx.res;
  if (ctx.respond === false) {
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(error.status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-store',
      });
      res.end(JSON.stringify(error.toJSON()));
    } else if (!res.writableEnded) res.destroy();
    return;
  }
  ctx.status = error.status;
  ctx.body = error.toJSON();
  ctx.set('Cache-Control', 'no-store');
  if (error.code === 'COMET_ERR_SHUTTING_DOWN') ctx.set('Connection', 'close');
}
