/**
 * Newline-delimited JSON (fetch / XHR streaming): one envelope per line.
 *
 * JSON.stringify never emits a raw LF or CR, so a message is exactly one
 * line whatever its data. A client skips empty lines: the opening byte and
 * every heartbeat are a lone `\n`. The gap frame is its own line.
 */
import type { Message } from '../bus/bus.js';
import { resetJson } from './envelope.js';
import { HttpStreamWriter } from './http-writer.js';
import { envelopeJson, type StreamTransport, streamHeaders } from './stream-transport.js';
import { NO_VARIANT } from './variant.js';

const NEWLINE = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);

/**
 * The NDJSON transport: `application/x-ndjson`.
 *
 * @example
 * ```ts
 * const writer = ndjsonTransport.open(res, { variant: '' });
 * writer.send(ndjsonTransport.encode(message, ''));
 * ```
 */
export const ndjsonTransport: StreamTransport = {
  name: 'ndjson',
  kind: 'stream',
  requestVariant: NO_VARIANT,
  mediaType: 'application/x-ndjson',

  encode(message: Message, _variant: string, json = envelopeJson(message)): Buffer {
    return Buffer.from(`${json}\n`);
  },

  encodeReset(cursor: string): Buffer {
    return Buffer.from(`${resetJson(cursor)}\n`);
  },

  open(res, init) {
    const writer = new HttpStreamWriter(res, init.variant, {
      headers: streamHeaders(res, 'application/x-ndjson; charset=utf-8', init),
      opening: NEWLINE,
      heartbeat: NEWLINE,
      closing: EMPTY,
    });
    writer.head();
    return writer;
  },
};
