/**
 * Koa handlers for `@poll` and `@longpoll` routes. They check the request,
 * then hand the raw `req`/`res` to `lib/` (`ctx.respond = false`): a held
 * long-poll keeps no Koa promise chain alive, only its socket and a waiter.
 */
import type { RouterContext } from '@koa/router';
import { CometError } from '../lib/base/errors.js';
import { isThenable } from '../lib/base/thenable.js';
import { answerAtOnce, createLongPollRoute, holdLongPoll } from '../lib/longpoll/waiter.js';
import { jsonpTransport } from '../lib/wire/jsonp.js';
import { longPollTransport } from '../lib/wire/long-poll.js';
import { etagOf, matchesEtag, pollTransport } from '../lib/wire/poll.js';
import type { ChannelResolver } from './channels.js';
import type { LongPollOptions, PollOptions } from './decorators.js';
import { detachFromKoa } from './koa-adapter.js';
import { callbackOf, cursorOf, emptyQuery, queryOf, single, timeoutOf } from './request-params.js';
import type { RouteServices } from './route-services.js';

/** Builds the Koa handler of a `@longpoll` route. */
export function longPollHandler(
  services: RouteServices,
  options: LongPollOptions,
  channelsOf: ChannelResolver,
) {
  const route = createLongPollRoute({
    hub: services.hub,
    timers: services.timers,
    maxBatch: options.maxBatch ?? 100,
    ...(options.historyWindow !== undefined ? { historyWindow: options.historyWindow } : {}),
  });
  const maxTimeout = options.maxTimeout ?? 55;
  const defaultTimeout = options.timeout ?? Math.min(25, maxTimeout);
  if (
    !Number.isInteger(maxTimeout) ||
    maxTimeout < 0 ||
    !Number.isInteger(defaultTimeout) ||
    defaultTimeout < 0 ||
    defaultTimeout > maxTimeout
  ) {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      'timeout and maxTimeout must be whole seconds, 0 <= timeout <= maxTimeout',
    );
  }
  const jsonp = options.jsonp ?? true;
  // What the client asked for travels as arguments, not in an object: this
  // runs for every request, and a poller coming back is answered without
  // anything of it outliving the call.
  const answer = (
    ctx: RouterContext,
    channels: readonly string[],
    cursor: string | undefined,
    timeoutMs: number,
    callback: string | undefined,
  ): void => {
    const transport = callback === undefined ? longPollTransport : jsonpTransport;
    const variant = callback ?? '';
    // A poller coming back usually has messages waiting: answer without
    // suspending (Koa's own bookkeeping stays, the request ends now).
    if (answerAtOnce(ctx.res, route, channels, cursor, transport, variant)) {
      ctx.respond = false;
      return;
    }
    const positions = services.hub.parseCursor(cursor, channels);
    if (services.hub.closing) throw new CometError('COMET_ERR_SHUTTING_DOWN');
    detachFromKoa(ctx);
    holdLongPoll(ctx.req, ctx.res, route, { channels, positions, timeoutMs, transport, variant });
  };
  const later = async (
    ctx: RouterContext,
    channels: PromiseLike<readonly string[]>,
    cursor: string | undefined,
    timeoutMs: number,
    callback: string | undefined,
  ): Promise<void> => answer(ctx, await channels, cursor, timeoutMs, callback);
  // The query parameters, read in one pass per request into this reused
  // record: each request is done with it before the handler returns.
  const query = emptyQuery();
  return (ctx: RouterContext): void | Promise<void> => {
    // Check everything the client sent before running the handler.
    queryOf(ctx, query);
    const callback = callbackOf(ctx, query);
    if (callback !== undefined && !jsonp) throw new CometError('COMET_ERR_JSONP_DISABLED');
    const timeoutMs = timeoutOf(ctx, defaultTimeout, maxTimeout, query);
    const cursor = cursorOf(ctx, query);
    const channels = channelsOf(ctx);
    if (isThenable(channels)) return later(ctx, channels, cursor, timeoutMs, callback);
    answer(ctx, channels, cursor, timeoutMs, callback);
  };
}

/** Builds the Koa handler of a `@poll` route. */
export function pollHandler(
  services: RouteServices,
  options: PollOptions,
  channelsOf: ChannelResolver,
) {
  const limit = options.maxBatch ?? 100;
  const meter = services.hub.meters.transport('poll', 'batch');
  return async (ctx: RouterContext): Promise<void> => {
    // A poll answers at once, with ETag / 304 for a caching client: JSONP
    // is long-poll's (`timeout=0` answers at once there), never ignored here.
    if (single(ctx, 'callback', 'COMET_ERR_JSONP_DISABLED') !== undefined) {
      throw new CometError(
        'COMET_ERR_JSONP_DISABLED',
        'JSONP is not offered on a poll route: use the long-poll route with timeout=0',
      );
    }
    const raw = cursorOf(ctx);
    const channels = await channelsOf(ctx);
    const positions = services.hub.parseCursor(raw, channels);
    const read = await services.hub.read({ channels, positions }, limit, options.historyWindow);
    const body = pollTransport.encode(services.hub.encodeBatch(read), '');
    const etag = etagOf(body);
    meter.responses++;
    if (read.gap) services.hub.meters.gaps++;
    ctx.set(pollTransport.headers as Record<string, string>);
    ctx.set('ETag', etag);
    // Not Koa's `ctx.fresh`: its `fresh` check calls any request with
    // `Cache-Control: no-cache` stale, and fetch() adds exactly that to a
    // request carrying `If-None-Match` (Fetch standard, HTTP-network-or-cache
    // fetch), so every fetch-based revalidation would get the full 200.
    if (matchesEtag(ctx.get('If-None-Match'), etag)) {
      ctx.status = 304;
      return;
    }
    meter.deliveries += read.messages.length;
    meter.bytes += body.length;
    ctx.status = 200;
    ctx.body = body;
    ctx.type = pollTransport.headers['Content-Type'] as string;
  };
}
