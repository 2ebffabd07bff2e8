/**
 * The hidden "forever" iframe (htmlfile): an HTML page that never ends, one
 * `<script>parent.NAME(…);</script>` per message.
 *
 * Old browsers render (and run scripts of) a streamed page only after about
 * 1 KiB, so the page opens with constant padding. The payload is JSON with
 * `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX` escapes: inside a script no
 * `</script>`, `<!--` or `-->` can then appear, and the text stays valid
 * JavaScript in every engine. NAME is checked with the JSONP rule
 * ({@link isCallbackName}) before it is ever written.
 */
import type { Message } from '../bus/bus.js';
import { isCallbackName } from '../callback-name.js';
import { resetJson } from '../envelope.js';
import { CometError } from '../errors.js';
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

function checkName(name: string): void {
  if (!isCallbackName(name)) throw new CometError('COMET_ERR_CALLBACK_INVALID');
}

function call(name: string, json: string): Buffer {
  checkName(name);
  return Buffer.from(`<script>parent.${name}(${scriptSafeJson(json)});</script>\n`);
}

/**
 * The iframe transport (`?transport=iframe&callback=NAME`); its variant is NAME.
 *
 * @example
 * ```ts
 * const writer = iframeTransport.open(res, { variant: 'onComet', frameAncestors: "'self'" });
 * writer.send(iframeTransport.encode(message, 'onComet'));
 * ```
 */
export const iframeTransport: StreamTransport = {
  name: 'iframe',
  mediaType: undefined,

  encode(message: Message, variant: string, json = envelopeJson(message)): Buffer {
    return call(variant, json);
  },

  encodeReset(cursor: string, variant: string): Buffer {
    return call(variant, resetJson(cursor));
  },

  open(res, init) {
    checkName(init.variant);
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
