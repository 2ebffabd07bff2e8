/**
 * The streaming transport seam (docs/architecture.md, "Transports"): how one message
 * becomes bytes on a long-lived HTTP response.
 *
 * A transport is a name, the media type it answers to in `Accept`, an
 * encoder and a per-response writer. Encoding is split from writing so the
 * hub can build a message's bytes ONCE per (message, transport, variant) and
 * write the same `Buffer` to every subscriber sharing that variant
 * (docs/architecture.md, "Performance").
 */
import type { ServerResponse } from 'node:http';
import type { Message } from '../bus/bus.js';
import type { StreamTransportName } from './transport-names.js';
import type { VariantRule } from './variant.js';

export type { StreamTransportName } from './transport-names.js';

/** What {@link StreamTransport.open} needs to know about one response. */
export interface StreamInit {
  /** `''` for every transport except iframe, where it is the callback name. */
  variant: string;
  /** SSE reconnection delay sent as `retry:` in the opening bytes. */
  retryMs?: number;
  /** Extra headers (CORS) added to the response head. */
  corsHeaders?: Record<string, string>;
  /** iframe only: the `Content-Security-Policy: frame-ancestors` sources. Default `'self'`. */
  frameAncestors?: string;
}

/**
 * Writes one response. Every method is a no-op once the response is closed
 * or destroyed, so a late publish can never write after the end.
 */
export interface StreamWriter {
  /** The variant this writer was opened with (see {@link StreamInit.variant}). */
  readonly variant: string;
  /**
   * Ensures status, headers and the opening bytes are written.
   * {@link StreamTransport.open} already does it, so this is idempotent.
   */
  head(): void;
  /** Writes one frame made by {@link StreamTransport.encode} or `encodeReset`. */
  send(frame: Buffer): void;
  /**
   * The wire bytes of `frame` (HTTP/1.1: one chunk, `<hex size>\r\n…\r\n`):
   * the same for every writer of its kind, so a fan-out builds them once and
   * hands the same `Buffer` to {@link StreamWriter.sendWire} of each.
   */
  wire(frame: Buffer): Buffer;
  /** Writes bytes made by {@link StreamWriter.wire}. */
  sendWire(wired: Buffer): void;
  /** Writes the transport's keep-alive bytes. */
  heartbeat(): void;
  /** Writes the closing bytes (if any) and ends the response. Idempotent. */
  close(): void;
}

/** A streaming transport: see the module comment. */
export interface StreamTransport {
  readonly name: StreamTransportName;
  /** How the route meets it: a streamed response. */
  readonly kind: 'stream';
  /** How a request picks the variant this transport's frames are encoded for. */
  readonly requestVariant: VariantRule;
  /** The media type matched against `Accept`; `undefined` when only `?transport=` selects it. */
  readonly mediaType: string | undefined;
  /**
   * Bytes for one message, built once per (message, transport, variant) and
   * written to every subscriber sharing the variant.
   * `json` is the message's envelope JSON when the caller already has it
   * (the hub's `EnvelopeCache`), so it is stringified once for all transports.
   * @throws CometError `COMET_ERR_CALLBACK_INVALID` (iframe) when `variant` is not a callback name.
   */
  encode(message: Message, variant: string, json?: string): Buffer;
  /** The gap control frame `{"gap":true,"cursor":"<head>"}` in this transport's framing. */
  encodeReset(cursor: string, variant: string): Buffer;
  /**
   * Starts one response: sets the status and headers and writes the opening
   * bytes at once (one chunk: headers go out with it), then returns its writer.
   * @throws CometError `COMET_ERR_CALLBACK_INVALID` (iframe) when `init.variant` is not a callback name.
   */
  open(res: ServerResponse, init: StreamInit): StreamWriter;
}

/**
 * The wire envelope of one message: exactly `{"id","channel","data"}`, in
 * that key order. `data: undefined` becomes `null` so the key is never dropped.
 *
 * JSON.stringify never emits a raw control character (U+0000–U+001F are
 * escaped) and, since ES2019, escapes lone surrogates as `\udXXX`, so the
 * result is safe inside an SSE line, an NDJSON line and a multipart body.
 */
export function envelopeJson(message: Message): string {
  return JSON.stringify({
    id: message.id,
    channel: message.channel,
    data: message.data === undefined ? null : message.data,
  });
}

/**
 * True when `value` can go on a header or SSE field line as is: printable
 * ASCII and spaces only (no CR, LF, NUL or other control character that
 * could end the line and forge another field). Bus ids always are; this is
 * the guard that makes it so on the wire whatever a backend returns.
 */
export function isLineSafe(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value);
}

/**
 * The headers every stream sends (docs/reference/wire-formats.md), plus the
 * transport's own and the caller's CORS headers.
 *
 * `no-transform` asks proxies not to re-encode; `X-Accel-Buffering: no` turns
 * off nginx's response buffering. Compression middleware must still be told
 * to stay away (Koa: `ctx.compress = false`), which the Koa glue does.
 */
export function streamHeaders(
  res: ServerResponse,
  contentType: string,
  init: StreamInit,
  extra?: Record<string, string>,
): Record<string, string> {
  const headers: Record<string, string> = {
    ...init.corsHeaders,
    'Content-Type': contentType,
    'Cache-Control': 'no-store, no-transform',
    'X-Accel-Buffering': 'no',
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  };
  // HTTP/1.0 clients close after a response unless asked to keep it open;
  // HTTP/1.1 keeps it by default, and the header is forbidden in HTTP/2.
  if (res.req?.httpVersionMajor === 1) headers['Connection'] = 'keep-alive';
  return headers;
}
