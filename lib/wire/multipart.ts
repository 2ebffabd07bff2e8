/**
 * multipart/mixed streaming (RFC 2046 §5.1): one `application/json` part per
 * message, its id in a `Comet-Id` part header.
 *
 * ```
 * --B\r\n                                          opening: the first delimiter line
 * Content-Type: application/json\r\n               ┐
 * Comet-Id: <cursor>\r\n                           │ the shared part, encoded once
 * \r\n                                             │
 * {"id":…,"channel":…,"data":…}                    ┘
 * \r\n--B\r\n                                      this response's delimiter line
 * ```
 * Every part is followed at once by the next delimiter line, so a parser
 * knows it is complete the moment it arrives. A heartbeat is an empty part
 * (no headers, empty body: `\r\n` + the delimiter line); the end is an empty
 * part and the close delimiter `\r\n--B--\r\n`. Clients skip empty parts.
 *
 * Why a payload can never contain the boundary: a delimiter is
 * `CRLF--boundary`, and a shared part holds CRLF only where it ends a header
 * line we wrote, each followed by a fixed header name or the blank line —
 * never by `--`. The body is JSON, which never has a raw CR or LF, and the
 * id header is written only when line-safe. So no part contains `\r\n--`
 * at all, for ANY boundary: {@link createMultipartTransport}'s encoder
 * checks exactly that once per message (O(1) per message, not per
 * subscriber). RFC 2046 bchars are all characters JSON leaves raw, so the
 * boundary cannot rely on escaping; instead, for lenient parsers that look
 * for `--boundary` without the CRLF, it is fresh per response with 144
 * random bits and appears only in that response's own header, so no
 * publisher can know it in advance.
 */
import { randomBytes } from 'node:crypto';
import type { Message } from '../bus/bus.js';
import { resetJson } from './envelope.js';
import { HttpStreamWriter } from './http-writer.js';
import {
  envelopeJson,
  isLineSafe,
  type StreamTransport,
  streamHeaders,
} from './stream-transport.js';
import { NO_VARIANT } from './variant.js';

/** Options for {@link createMultipartTransport}. */
export interface MultipartTransportOptions {
  /** Makes a response's boundary (RFC 2046 bchars, 1–70 chars). Default: `comet-` + 144 random bits. */
  boundary?: () => string;
}

const CRLF_DASHES = Buffer.from('\r\n--');
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=?]{1,70}$/;

function randomBoundary(): string {
  return `comet-${randomBytes(18).toString('base64url')}`;
}

/** A part: headers, blank line, JSON body. Throws if the delimiter invariant breaks. */
function part(cursor: string, json: string): Buffer {
  const id = isLineSafe(cursor) ? `Comet-Id: ${cursor}\r\n` : '';
  const bytes = Buffer.from(`Content-Type: application/json\r\n${id}\r\n${json}`);
  if (bytes.includes(CRLF_DASHES)) {
    // Unreachable by construction (see the module comment); kept as the check.
    throw new Error('multipart part would contain a delimiter');
  }
  return bytes;
}

/**
 * Creates the multipart/mixed transport.
 *
 * @example
 * ```ts
 * const multipart = createMultipartTransport();
 * const writer = multipart.open(res, { variant: '' });
 * writer.send(multipart.encode(message, ''));
 * ```
 */
export function createMultipartTransport(options: MultipartTransportOptions = {}): StreamTransport {
  const makeBoundary = options.boundary ?? randomBoundary;
  return {
    name: 'multipart',
    kind: 'stream',
    requestVariant: NO_VARIANT,
    mediaType: 'multipart/mixed',
    encode: (message: Message, _variant: string, json = envelopeJson(message)) =>
      part(message.id, json),
    encodeReset: (cursor: string) => part(cursor, resetJson(cursor)),
    open(res, init) {
      const boundary = makeBoundary();
      if (!BOUNDARY.test(boundary)) throw new Error(`invalid multipart boundary ${boundary}`);
      const delimiter = Buffer.from(`\r\n--${boundary}\r\n`);
      const writer = new HttpStreamWriter(res, init.variant, {
        headers: streamHeaders(res, `multipart/mixed; boundary=${boundary}`, init),
        opening: Buffer.from(`--${boundary}\r\n`),
        heartbeat: Buffer.from(`\r\n\r\n--${boundary}\r\n`),
        closing: Buffer.from(`\r\n\r\n--${boundary}--\r\n`),
        trailer: delimiter,
      });
      writer.head();
      return writer;
    },
  };
}

/** The multipart/mixed transport with random boundaries. */
export const multipartTransport: StreamTransport = createMultipartTransport();
