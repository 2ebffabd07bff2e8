/**
 * The hidden "forever" iframe (htmlfile): an HTML page that never ends, one
 * `<script>parent.NAME(…);</script>` per message — or, for a parent page on
 * another origin (which a browser forbids to touch `parent.NAME`),
 * `<script>parent.postMessage({"callback":"NAME","message":…},"ORIGIN");</script>`.
 *
 * Old browsers render (and run scripts of) a streamed page only after about
 * 1 KiB, so the page opens with constant padding. The payload is JSON with
 * `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX` escapes: inside a script no
 * `</script>`, `<!--` or `-->` can then appear, and the text stays valid
 * JavaScript in every engine. NAME is checked with the JSONP rule
 * ({@link isCallbackName}) and ORIGIN with {@link isSerializedOrigin} before
 * either is ever written; both are then written as escaped JSON strings.
 *
 * The variant (what frames are shared by) is NAME alone for the `parent.NAME`
 * form and `NAME ORIGIN` for the postMessage form ({@link iframeVariant}):
 * neither a name nor an origin can contain a space.
 */

import { CometError } from '../base/errors.js';
import type { Message } from '../bus/bus.js';
import { isCallbackName } from './callback-name.js';
import { resetJson } from './envelope.js';
import { HttpStreamWriter } from './http-writer.js';
import { envelopeJson, type StreamTransport, streamHeaders } from './stream-transport.js';

/** Constant opening bytes: same for every response and callback. */
const OPENING = Buffer.from(
  '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>comet</title></head><body>\n' +
    `<!--${' '.repeat(1024)}-->\n`,
);
const HEARTBEAT = Buffer.from('\n');
const CLOSING = Buffer.from('</body></html>\n');

const UNSAFE = /[<>&\u2028\u2029]/g;

function escapeChar(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * JSON made safe to embed in an HTML `<script>`. Outside JSON strings these
 * characters never occur, so replacing them everywhere keeps the value.
 */
export function scriptSafeJson(json: string): string {
  return json.replace(UNSAFE, escapeChar);
}

/**
 * A serialized http(s) origin as browsers send it: `scheme://host[:port]`, lower
 * case, no path, no default port. A lowercase DNS name, IPv4 or bracketed IPv6.
 */
const ORIGIN =
  /^https?:\/\/(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * True when `value` is a serialized http(s) origin (`https://app.example:8443`),
 * exactly as `location.origin` gives it: the shape above, and unchanged by the
 * WHATWG URL parser (so `http://a.com:80` or an out-of-range port is refused).
 *
 * @example
 * ```ts
 * isSerializedOrigin('http://127.0.0.1:3000'); // true
 * isSerializedOrigin('http://a.com/path');     // false
 * ```
 */
export function isSerializedOrigin(value: unknown): value is string {
  if (typeof value !== 'string' || !ORIGIN.test(value)) return false;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

/**
 * The iframe transport's variant: the callback NAME, plus the parent page's
 * ORIGIN when it asked for the postMessage form.
 * @throws CometError `COMET_ERR_CALLBACK_INVALID` for a bad NAME,
 *   `COMET_ERR_ORIGIN_FORBIDDEN` for an ORIGIN that is not a serialized origin.
 */
export function iframeVariant(name: string, origin?: string): string {
  checkName(name);
  if (origin === undefined) return name;
  checkOrigin(origin);
  return `${name} ${origin}`;
}

function checkName(name: string): void {
  if (!isCallbackName(name)) throw new CometError('COMET_ERR_CALLBACK_INVALID');
}

function checkOrigin(origin: string): void {
  if (!isSerializedOrigin(origin)) {
    throw new CometError(
      'COMET_ERR_ORIGIN_FORBIDDEN',
      'origin must be a serialized origin: scheme://host[:port]',
    );
  }
}

/** Splits and re-checks a variant (it is written raw into a script). */
function parseVariant(variant: string): { name: string; origin: string | undefined } {
  const space = variant.indexOf(' ');
  const name = space < 0 ? variant : variant.slice(0, space);
  const origin = space < 0 ? undefined : variant.slice(space + 1);
  checkName(name);
  if (origin !== undefined) checkOrigin(origin);
  return { name, origin };
}

function call(variant: string, json: string): Buffer {
  const { name, origin } = parseVariant(variant);
  if (origin === undefined) {
    return Buffer.from(`<script>parent.${name}(${scriptSafeJson(json)});</script>\n`);
  }
  const data = scriptSafeJson(`{"callback":${JSON.stringify(name)},"message":${json}}`);
  const target = scriptSafeJson(JSON.stringify(origin));
  return Buffer.from(`<script>parent.postMessage(${data},${target});</script>\n`);
}

/**
 * The iframe transport (`?transport=iframe&callback=NAME[&origin=ORIGIN]`); its
 * variant is {@link iframeVariant}`(NAME, ORIGIN)`. The Koa glue checks ORIGIN
 * against the CORS allow-list before opening.
 *
 * @example
 * ```ts
 * const writer = iframeTransport.open(res, { variant: 'onComet', frameAncestors: "'self'" });
 * writer.send(iframeTransport.encode(message, 'onComet'));
 * ```
 */
export const iframeTransport: StreamTransport = {
  name: 'iframe',
  kind: 'stream',
  requestVariant: { from: 'callback', parse: iframeVariant },
  mediaType: undefined,

  encode(message: Message, variant: string, json = envelopeJson(message)): Buffer {
    return call(variant, json);
  },

  encodeReset(cursor: string, variant: string): Buffer {
    return call(variant, resetJson(cursor));
  },

  open(res, init) {
    parseVariant(init.variant);
    const ancestors = init.frameAncestors ?? "'self'";
    const writer = new HttpStreamWriter(res, init.variant, {
      headers: streamHeaders(res, 'text/html; charset=utf-8', init, {
        'Content-Security-Policy': `frame-ancestors ${ancestors}`,
      }),
      opening: OPENING,
      heartbeat: HEARTBEAT,
      closing: CLOSING,
    });
    writer.head();
    return writer;
  },
};
