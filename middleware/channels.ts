/**
 * Turning a decorated method's answer into the channels a request follows,
 * with refusals (a thrown 401/403, an `authorize` hook saying no) mapped
 * to coded errors.
 */
import type { RouterContext } from '@koa/router';
import { CometError, isCometError } from '../lib/base/errors.js';
import { isThenable } from '../lib/base/thenable.js';
import { MAX_CHANNELS } from '../lib/wire/cursor.js';
import type { Authorize, RouteDefinition } from './decorators.js';

/**
 * Resolves the channels a request follows (handler + authorisation);
 * synchronous when the handler is and no hook runs.
 */
export type ChannelResolver = (
  ctx: RouterContext,
) => readonly string[] | Promise<readonly string[]>;

/**
 * Builds the resolver of one route: calls the decorated method, checks
 * what it returned, then runs the global and the route's `authorize` hooks.
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` when the method is missing.
 */
export function channelResolver(
  instance: Record<PropertyKey, unknown>,
  route: RouteDefinition,
  authorizeAll: Authorize | undefined,
): ChannelResolver {
  const method = instance[route.key];
  if (typeof method !== 'function') {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      `No method ${String(route.key)} for ${route.path}`,
    );
  }
  const checks = [authorizeAll, route.options.authorize].filter(
    (c): c is Authorize => c !== undefined,
  );
  const authorize = async (ctx: RouterContext, channels: readonly string[]) => {
    for (const check of checks) {
      let allowed: unknown;
      try {
        allowed = await check(ctx, channels);
      } catch (error) {
        throw refusal(error);
      }
      if (allowed === false) throw new CometError('COMET_ERR_AUTH_FORBIDDEN');
    }
    return channels;
  };
  // Synchronous when the method is and there is no hook: no promise hop on
  // the hot path of every held request.
  return (ctx: RouterContext) => {
    let answer: unknown;
    try {
      answer = method.call(instance, ctx);
    } catch (error) {
      throw refusal(error);
    }
    // By shape, not `instanceof Promise`: any thenable (another realm's or a
    // library's promise) is awaited; Promise.resolve adopts it.
    if (isThenable(answer)) {
      return Promise.resolve(answer)
        .then(normalize, (error: unknown) => {
          throw refusal(error);
        })
        .then((channels) => (checks.length > 0 ? authorize(ctx, channels) : channels));
    }
    const channels = normalize(answer);
    return checks.length > 0 ? authorize(ctx, channels) : channels;
  };
}

function normalize(answer: unknown): readonly string[] {
  if (typeof answer === 'string' && answer !== '') return [answer];
  if (
    Array.isArray(answer) &&
    answer.length > 0 &&
    answer.every((c): c is string => typeof c === 'string' && c !== '')
  ) {
    const channels = [...new Set(answer)];
    // A cap, so one request costs bounded work and its cursor fits MAX_CURSOR_LENGTH.
    if (channels.length > MAX_CHANNELS) throw new CometError('COMET_ERR_CHANNELS_TOO_MANY');
    return channels;
  }
  throw new CometError('COMET_ERR_ROUTE_INVALID');
}

/** Maps what a handler threw to refuse (Koa `ctx.throw(401/403/404)`) onto the catalog. */
export function refusal(error: unknown): unknown {
  if (isCometError(error)) return error;
  const status = (error as { status?: unknown }).status;
  const expose = (error as { expose?: unknown }).expose === true;
  const message = expose ? (error as Error).message : undefined;
  if (status === 401)
    return new CometError('COMET_ERR_AUTH_UNAUTHORIZED', message, { cause: error });
  if (status === 403) return new CometError('COMET_ERR_AUTH_FORBIDDEN', message, { cause: error });
  if (status === 404) return new CometError('COMET_ERR_ROUTE_NOT_FOUND', message, { cause: error });
  return error;
}
