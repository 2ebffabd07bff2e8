/**
 * Reading and checking what a comet request asks for: cursor, timeout,
 * callback. Every bad value is a coded 4xx, never a crash.
 */
import { unescape as unescapeQuery } from 'node:querystring';
import type { Context } from 'koa';
import { CometError, type CometErrorCode } from '../lib/base/errors.js';
import { isCallbackName } from '../lib/wire/callback-name.js';

/**
 * Reads the query parameters `names` from `url` in one pass, the way
 * `node:querystring` reads them (`+` is a space, `%XX` decoded, a bare key
 * is `''`), without building an object of every parameter: a long-poll
 * asks for four names, and this runs on every one. `values[i]` gets the
 * value of `names[i]` (`undefined` when absent). Returns a bit mask of the
 * names that came more than once (bit `i` for `names[i]`), which their
 * readers refuse with their own codes.
 */
export function readQuery(
  url: string,
  names: readonly string[],
  values: (string | undefined)[],
): number {
  values.fill(undefined, 0, names.length);
  let repeated = 0;
  let start = url.indexOf('?') + 1;
  if (start === 0) return 0;
  while (start < url.length) {
    let end = url.indexOf('&', start);
    if (end === -1) end = url.length;
    if (end > start) {
      let eq = url.indexOf('=', start);
      if (eq === -1 || eq > end) eq = end;
      const i = nameAt(url, start, eq, names);
      if (i !== -1) {
        if (values[i] !== undefined) repeated |= 1 << i;
        values[i] = decoded(url, eq === end ? end : eq + 1, end);
      }
    }
    start = end + 1;
  }
  return repeated;
}

/**
 * The one value of the query parameter `name` ({@link readQuery}); a
 * repeated parameter is refused with `onRepeat` (a code, so the error is
 * only built when thrown).
 */
export function single(ctx: Context, name: string, onRepeat: CometErrorCode): string | undefined {
  const value: (string | undefined)[] = [undefined];
  if (readQuery(ctx.req.url ?? '', [name], value) !== 0) throw new CometError(onRepeat);
  return value[0];
}

/** The index in `names` of the key `url[start, end)` once decoded; -1 when none. */
function nameAt(url: string, start: number, end: number, names: readonly string[]): number {
  const length = end - start;
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (name.length === length && url.startsWith(name, start)) return i;
  }
  // An encoded key (`%63ursor`) is rare: decode it only when it has an escape.
  for (let at = start; at < end; at++) {
    const c = url.charCodeAt(at);
    if (c === 37 /* % */ || c === 43 /* + */) return names.indexOf(decoded(url, start, end));
  }
  return -1;
}

/** `text[start, end)` decoded as `node:querystring` decodes a key or value. */
function decoded(text: string, start: number, end: number): string {
  const raw = text.slice(start, end);
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  return unescapeQuery(raw.replaceAll('+', ' '));
}

/**
 * The query parameters a long-poll reads, in one {@link readQuery} pass:
 * `values[LONG_POLL_QUERY.callback]` and so on, and bit `1 << index` of
 * the returned mask for a repeat.
 */
export const LONG_POLL_QUERY = {
  names: ['callback', 'timeout', 'lastEventId', 'cursor'],
  callback: 0,
  timeout: 1,
  lastEventId: 2,
  cursor: 3,
} as const;

/**
 * The resume cursor: the `Last-Event-ID` header, then `?lastEventId=` (what
 * EventSource polyfills such as event-source-polyfill send), then
 * `?cursor=`. A browser's EventSource reconnects with its original URL
 * (and so its original `?cursor=`) plus the header, hence the order.
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for a repeated parameter.
 */
export function cursorOf(ctx: Context): string | undefined {
  const values: (string | undefined)[] = [undefined, undefined];
  const repeated = readQuery(ctx.req.url ?? '', ['lastEventId', 'cursor'], values);
  return cursorFrom(ctx, values[0], repeated & 1, values[1], repeated & 2);
}

/** {@link cursorOf} from the query values read already (a repeat is non-zero). */
export function cursorFrom(
  ctx: Context,
  polyfill: string | undefined,
  polyfillRepeated: number,
  cursor: string | undefined,
  cursorRepeated: number,
): string | undefined {
  const header = ctx.req.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') return header;
  if (polyfillRepeated !== 0) throw new CometError('COMET_ERR_CURSOR_MALFORMED');
  if (polyfill !== undefined && polyfill !== '') return polyfill;
  if (cursorRepeated !== 0) throw new CometError('COMET_ERR_CURSOR_MALFORMED');
  return cursor;
}

/**
 * The hold time in ms: `?timeout=` whole seconds from 0 to `maxSeconds`,
 * else the route default.
 * @throws CometError `COMET_ERR_TIMEOUT_INVALID` for anything else.
 */
export function timeoutOf(ctx: Context, defaultSeconds: number, maxSeconds: number): number {
  const values: (string | undefined)[] = [undefined];
  const repeated = readQuery(ctx.req.url ?? '', ['timeout'], values);
  return timeoutFrom(values[0], repeated, defaultSeconds, maxSeconds);
}

/** {@link timeoutOf} from the query value read already (a repeat is non-zero). */
export function timeoutFrom(
  raw: string | undefined,
  repeated: number,
  defaultSeconds: number,
  maxSeconds: number,
): number {
  if (repeated !== 0) throw new CometError('COMET_ERR_TIMEOUT_INVALID');
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
  const values: (string | undefined)[] = [undefined];
  const repeated = readQuery(ctx.req.url ?? '', ['callback'], values);
  return callbackFrom(values[0], repeated);
}

/** {@link callbackOf} from the query value read already (a repeat is non-zero). */
export function callbackFrom(raw: string | undefined, repeated: number): string | undefined {
  if (repeated !== 0) throw new CometError('COMET_ERR_CALLBACK_INVALID');
  if (raw === undefined) return undefined;
  if (!isCallbackName(raw)) throw new CometError('COMET_ERR_CALLBACK_INVALID');
  return raw;
}
