/**
 * The Koa handler of a `@publish` route: the handler (and the `authorize`
 * hooks) choose the channel, then the JSON body is read under the route's
 * limit and published; the answer is `201 {"id":"<message id>"}`.
 */
import type { RouterContext } from '@koa/router';
import { CometError } from '../lib/base/errors.js';
import { isThenable } from '../lib/base/thenable.js';
import type { Bus } from '../lib/bus/bus.js';
import { readJsonBody } from './body.js';
import type { ChannelResolver } from './channels.js';
import type { PublishRouteOptions } from './decorators.js';

/** The default body limit of a publish route, as on `readJsonBody`. */
const DEFAULT_LIMIT = 65_536;

/**
 * The answer's type, the one Koa gives a JSON body, set before the body:
 * Koa then skips its per-request lookup of `'json'` in the MIME tables.
 */
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Builds the handler of a `@publish` route.
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for a `limit` that is not a whole number >= 1.
 */
export function publishHandler(
  bus: Bus,
  options: PublishRouteOptions,
  channelsOf: ChannelResolver,
) {
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new CometError('COMET_ERR_OPTIONS_INVALID', 'publish: limit must be a whole number >= 1');
  }
  return async (ctx: RouterContext): Promise<void> => {
    // Who may publish where is settled before a byte of the body is read
    // (awaited only when the handler or a hook is asynchronous).
    const resolved = channelsOf(ctx);
    const channels = isThenable(resolved) ? await resolved : resolved;
    const [channel] = channels;
    if (channel === undefined || channels.length !== 1) {
      throw new CometError('COMET_ERR_ROUTE_INVALID', 'A publish route names exactly one channel');
    }
    const data = await readJsonBody(ctx, { limit });
    // A client retrying a publish that failed (a 503 after a timeout may
    // still have been stored) sends the same key: the message is stored once.
    const idempotencyKey = ctx.get('Idempotency-Key') || undefined;
    const message = await bus.publish(
      channel,
      data,
      idempotencyKey ? { idempotencyKey } : undefined,
    );
    ctx.status = 201;
    ctx.set('Content-Type', JSON_TYPE);
    ctx.body = { id: message.id };
  };
}
