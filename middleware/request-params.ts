/**
 * Reading and checking what a comet request asks for: cursor, timeout,
 * callback. Every bad value is a coded 4xx, never a crash.
 */
import { unescape as unescapeQuery } from 'node:querystring';
import type { Context } from 'koa';
import { CometError, type CometErrorCode } from '../lib/base/errors.js';
import { isCallbackName } from '../lib/wire/callback-name.js';

/**
 * The one value of a query parameter, read straight from `req.url` the way
 * `node:querystring` reads it (`+` is a space, `%XX` decoded, a bare key is
 * `''`) without building an object of every parameter: a poller asks for
 * three or four names per request, and this runs on every long-poll. A
 * repeated parameter is refused with `onRepeat` (a code, so the error is
 * only built when thrown).
 */
export function single(ctx: Context, name: string, onRepeat: CometErrorCode): string | undefined {
  const url = ctx.req.url ?? '';
  let start = url.indexOf('?') + 1;
  if (start === 0) return undefined;
  let found: string | undefined;
  while (start < url.length) {
    let end = url.indexOf('&', start);
    if (end === -1) end = url.length;
    if (end > start) {
      let eq = url.indexOf('=', start);
      if (eq === -1 || eq > end) eq = end;
      if (keyIs(url, start, eq, name)) {
        if (found !== undefined) throw new CometError(onRepeat);
        found = decoded(url, eq === end ? end : eq + 1, end);
      }
    }
    start = end + 1;
  }
  return found;
}

/** Whether `url[start, end)` is the key `name` once decoded. */
function keyIs(url: string, start: number, end: number, name: string): boolean {
  if (end - start === name.length && url.startsWith(name, start)) return true;
  // An encoded key (`%63ursor`) is rare: decode it only when it could match.
  const raw = url.slice(start, end);
  return (raw.includes('%') || raw.includes('+')) && decoded(raw, 0, raw.length) === name;
}

/** `text[start, end)` decoded as `node:querystring` decodes a key or value. */
function decoded(text: string, start: number, end: number): string {
  const raw = text.slice(start, end);
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  return unescapeQuery(raw.replaceAll('+', ' '));
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
  const seconds = wholeSeconds(raw);
  if (seconds === -1 || seconds > maxSeconds) {
    throw new CometError(
      'COMET_ERR_TIMEOUT_INVALID',
      `timeout must be whole seconds from 0 to ${maxSeconds}`,
    );
  }
  return seconds * 1000;
}

/** `0` or 1 to 4 digits without a leading zero, as a number; -1 for anything else. */
function wholeSeconds(text: string): number {
  if (text.length === 0 || text.length > 4 || (text.length > 1 && text.charCodeAt(0) === 48)) {
    return -1;
  }
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
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
