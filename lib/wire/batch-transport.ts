/**
 * The seam for transports that answer a request with one batch
 * (`{"messages","cursor","gap"}`): poll, long-poll and JSONP.
 *
 * A batch is encoded to bytes once per (batch, transport, variant) and the
 * same `Buffer` is written to every response waiting for it. A body that
 * goes to one response only (a poller answered at once) is written as
 * text: Node then sends head and body in one write, which costs less than
 * encoding a `Buffer` and writing the two as a vector.
 */
import { ServerResponse } from 'node:http';
import type { BatchTransportName } from './transport-names.js';
import { NO_VARIANT, type VariantRule } from './variant.js';

export type { BatchTransportName } from './transport-names.js';

/** How one batch transport puts a batch on the wire. */
export interface BatchTransport {
  readonly name: BatchTransportName;
  /** How the route meets it: one batch per request. */
  readonly kind: 'batch';
  /** The media type of its body (its `Content-Type` without parameters). */
  readonly mediaType: string;
  /** How a request picks the variant (JSONP: the callback name). */
  readonly requestVariant: VariantRule;
  /** Response headers besides Content-Length, the same for every response. */
  readonly headers: Readonly<Record<string, string>>;
  /** The same headers as `[name, value, name, value, …]`, for one `writeHead`. */
  readonly headerList: readonly string[];
  /**
   * The header list plus a `Content-Length` slot that {@link writeBatch}
   * fills before each `writeHead` (which reads it at once): one per transport.
   */
  readonly headWithLength: string[];
  /**
   * The body text for a batch's JSON text. `variant` is the JSONP callback
   * name, `''` for the others.
   */
  text(batchJson: string, variant: string): string;
  /** The same body as bytes, for a body written to several responses. */
  encode(batchJson: string, variant: string): Buffer;
}

/** Security headers every koa-comet response carries. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
};

/**
 * Writes a complete batch response: status, the transport's headers and the
 * body. Headers set earlier with `setHeader` (CORS, through `ctx.set` before
 * the route took over) are merged in by Node. Does nothing when the
 * response has already ended or its socket is gone. Returns the body's
 * length in bytes (0 when nothing was written).
 */
export function writeBatch(
  res: ServerResponse,
  transport: BatchTransport,
  body: Buffer | string,
): number {
  if (res.writableEnded || res.destroyed) return 0;
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  // One writeHead with the transport's headers as a flat list (no per-header
  // setHeader bookkeeping). writeHead stores the head at once, so the
  // length goes in it too (else Node would answer chunked); it reads the
  // list synchronously, so one list per transport is reused.
  const head = transport.headWithLength;
  head[head.length - 1] = String(length);
  res.writeHead(200, head);
  endWithBody(res, body);
  return length;
}

/**
 * Ends `res` with `body` in as few writes as Node allows. Its length must
 * be set already (`Content-Length`, else `write` would answer chunked).
 *
 * HTTP/1.1 text on an uncorked socket: `end(body)` would cork head+body
 * with an empty finishing chunk and flush the two through `writev`.
 * Written between our own cork and uncork, head and body leave in one
 * `write`, and the bodiless `end()` then has nothing to add
 * (0.90× CPU per re-poll, docs/design-decisions.md). Corked by us, `write`
 * does not cork the socket itself and queue a next-tick uncork, a tick
 * per response that would find nothing left to do.
 */
export function endWithBody(res: ServerResponse, body: Buffer | string): void {
  const socket = res instanceof ServerResponse ? res.socket : null;
  if (typeof body === 'string' && socket?.writableCorked === 0) {
    socket.cork();
    res.write(body);
    socket.uncork();
    res.end();
  } else res.end(body);
}

/**
 * Defines a batch transport from its name, headers and body text (the flat
 * header list, the media type and the byte encoder are derived here).
 */
export function defineBatchTransport(
  name: BatchTransportName,
  headers: Readonly<Record<string, string>> & { readonly 'Content-Type': string },
  text: BatchTransport['text'],
  requestVariant: VariantRule = NO_VARIANT,
): BatchTransport {
  return {
    name,
    kind: 'batch',
    mediaType: headers['Content-Type'].split(';', 1)[0] ?? '',
    requestVariant,
    headers,
    headerList: Object.entries(headers).flat(),
    headWithLength: [...Object.entries(headers).flat(), 'Content-Length', ''],
    text,
    encode: (batchJson, variant) => Buffer.from(text(batchJson, variant)),
  };
}
