/**
 * JSONP long-poll: a long-poll whose answer is a script calling the page's
 * callback, for cross-origin pages without CORS (`<script src>`).
 *
 * The body is `/**\/NAME({...});` — the leading comment defeats the
 * Rosetta-Flash family of content-sniffing attacks, `nosniff` stops the
 * browser treating it as anything but script, and U+2028/U+2029 are
 * escaped because pre-ES2019 engines end a string literal at them.
 * NAME is checked by {@link isCallbackName} before anything is written.
 */
import { BASE_HEADERS, type BatchTransport, defineBatchTransport } from './batch-transport.js';

const SEPARATORS = /[\u2028\u2029]/g;

/** Escapes the two line terminators JSON leaves raw but old JavaScript rejects. */
export function escapeLineTerminators(json: string): string {
  return json.replace(SEPARATORS, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

/** The JSONP transport (`application/javascript`, never cached). */
export const jsonpTransport: BatchTransport = defineBatchTransport(
  'jsonp',
  {
    ...BASE_HEADERS,
    'Content-Type': 'application/javascript; charset=utf-8',
    'Cache-Control': 'no-store, no-transform',
  },
  (batchJson, callback) => `/**/${callback}(${escapeLineTerminators(batchJson)});`,
  // The Koa glue checks the name (`isCallbackName`) before the route runs.
  { from: 'callback', parse: (callback) => callback },
);
