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

/** The query parameters comet routes read, and their index in {@link CometQuery}. */
const NAMES = ['callback', 'timeout', 'lastEventId', 'cursor'];
const CALLBACK = 0;
const TIMEOUT = 1;
const LAST_EVENT_ID = 2;
const CURSOR = 3;

/** What {@link queryOf} read: a value per name and the mask of repeated ones. */
export interface CometQuery {
  readonly values: (string | undefined)[];
  repeated: number;
}

/** An empty {@link CometQuery}, for a route to reuse across its requests. */
export function emptyQuery(): CometQuery {
  return { values: [undefined, undefined, undefined, undefined], repeated: 0 };
}

/**
 * Reads `callback`, `timeout`, `lastEventId` and `cursor` from the request's
 * URL in one {@link readQuery} pass, into `into` (a long-poll route reuses
 * one: each request is done with it before the handler returns).
 */
export function queryOf(ctx: Context, into: CometQuery = emptyQuery()): CometQuery {
  into.repeated = readQuery(ctx.req.url ?? '', NAMES, into.values);
  return into;
}

/** Whether the parameter at `index` came more than once. */
function repeatedAt(query: CometQuery, index: number): boolean {
  return (query.repeated & (1 << index)) !== 0;
}

/**
 * The resume cursor: the `Last-Event-ID` header, then `?lastEventId=` (what
 * EventSource polyfills such as event-source-polyfill send), then
 * `?cursor=`. A browser's EventSource reconnects with its original URL
 * (and so its original `?cursor=`) plus the header, hence the order.
 * `query` is the request's, when read already.
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for a repeated parameter.
 */
export function cursorOf(ctx: Context, query: CometQuery = queryOf(ctx)): string | undefined {
  const header = ctx.req.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') return header;
  if (repeatedAt(query, LAST_EVENT_ID)) throw new CometError('COMET_ERR_CURSOR_MALFORMED');
  const polyfill = query.values[LAST_EVENT_ID];
  if (polyfill !== undefined && polyfill !== '') return polyfill;
  if (repeatedAt(query, CURSOR)) throw new CometError('COMET_ERR_CURSOR_MALFORMED');
  return query.values[CURSOR];
}

/**
 * The hold time in ms: `?timeout=` whole seconds from 0 to `maxSeconds`,
 * else the route default. `query` is the request's, when read already.
 * @throws CometError `COMET_ERR_TIMEOUT_INVALID` for anything else.
 */
export function timeoutOf(
  ctx: Context,
  defaultSeconds: number,
  maxSeconds: number,
  query: CometQuery = queryOf(ctx),
): number {
  if (repeatedAt(query, TIMEOUT)) throw new CometError('COMET_ERR_TIMEOUT_INVALID');
  const raw = query.values[TIMEOUT];
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
 * `query` is the request's, when read already.
 * @throws CometError `COMET_ERR_CALLBACK_INVALID`.
 */
export function callbackOf(ctx: Context, query: CometQuery = queryOf(ctx)): string | undefined {
  if (repeatedAt(query, CALLBACK)) throw new CometError('COMET_ERR_CALLBACK_INVALID');
  const raw = query.values[CALLBACK];
  if (raw === undefined) return undefined;
  if (!isCallbackName(raw)) throw new CometError('COMET_ERR_CALLBACK_INVALID');
  return raw;
}
