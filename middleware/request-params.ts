/**
 * Reading and checking what a comet request asks for: cursor, timeout,
 * callback. Every bad value is a coded 4xx, never a crash.
 */
import { type ParsedUrlQuery, parse } from 'node:querystring';
import type { Context } from 'koa';
import { isCallbackName } from '../lib/callback-name.js';
import { CometError, type CometErrorCode } from '../lib/errors.js';

const kQuery = Symbol('koa-comet.query');

/**
 * The parsed query string, parsed once per request with `node:querystring`
 * straight from `req.url` (several times faster than Koa 3's `ctx.query`,
 * and `ctx.querystring` would leave a parsed URL object on the request:
 * this runs on every long-poll).
 */
function queryOf(ctx: Context): ParsedUrlQuery {
  const marked = ctx as Context & { [kQuery]?: ParsedUrlQuery };
  if (marked[kQuery] === undefined) {
    const url = ctx.req.url ?? '';
    const q = url.indexOf('?');
    marked[kQuery] = parse(q === -1 ? '' : url.slice(q + 1));
  }
  return marked[kQuery];
}

/**
 * The one value of a query parameter; a repeated parameter is refused with
 * `onRepeat` (a code, so the error is only built when thrown: this runs on
 * every request).
 */
export function single(ctx: Context, name: string, onRepeat: CometErrorCode): string | undefined {
  const value = queryOf(ctx)[name];
  if (Array.isArray(value)) throw new CometError(onRepeat);
  return value;
}

/**
 * The resume cursor: the `Last-Event-ID` header, then `?lastEventId=` (what
 * EventSource polyfills such as event-source-polyfill send), then
 * `?cursor=`. A browser's EventSource reconnects with its original URL
 * (and so its original `?cursor=`) plus the header, hence the order.
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for a repeated parameter.
 */
export function cursorOf(ctx: Context): string | undefined {
  const header = ctx.req.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') return header;
  const polyfill = single(ctx, 'lastEventId', 'COMET_ERR_CURSOR_MALFORMED');
  if (polyfill !== undefined && polyfill !== '') return polyfill;
  return single(ctx, 'cursor', 'COMET_ERR_CURSOR_MALFORMED');
}

/**
 * The hold time in ms: `?timeout=` whole seconds from 0 to `maxSeconds`,
 * else the route default.
 * @throws CometError `COMET_ERR_TIMEOUT_INVALID` for anything else.
 */
export function timeoutOf(ctx: Context, defaultSeconds: number, maxSeconds: number): number {
  const raw = single(ctx, 'timeout', 'COMET_ERR_TIMEOUT_INVALID');
  if (raw === undefined) return defaultSeconds * 1000;
  if (!/^(?:0|[1-9]\d{0,3})$/.test(raw) || Number(raw) > maxSeconds) {
    throw new CometError(
      'COMET_ERR_TIMEOUT_INVALID',
      `timeout must be whole seconds from 0 to ${maxSeconds}`,
    );
  }
  return Number(raw) * 1000;
}

/**
 * The `?callback=` name, checked against the JSONP pattern in docs/reference/wire-formats.md; `undefined` when absent.
 * @throws CometError `COMET_ERR_CALLBACK_INVALID`.
 */
export function callbackOf(ctx: Context): string | undefined {
  const raw = single(ctx, 'callback', 'COMET_ERR_CALLBACK_INVALID');
  if (raw === undefined) return undefined;
  if (!isCallbackName(raw)) throw new CometError('COMET_ERR_CALLBACK_INVALID');
  return raw;
}
