/**
 * The seam for transports that answer a request with one batch
 * (`{"messages","cursor","gap"}`): poll, long-poll and JSONP.
 *
 * A batch is encoded to bytes once per (batch, transport, variant) and the
 * same `Buffer` is written to every response waiting for it.
 */
import type { ServerResponse } from 'node:http';

/** Names of the batch transports. */
export type BatchTransportName = 'poll' | 'long-poll' | 'jsonp';

/** How one batch transport puts a batch on the wire. */
export interface BatchTransport {
  readonly name: BatchTransportName;
  /** Response headers besides Content-Length, the same for every response. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The body for a batch's JSON text. `variant` is the JSONP callback name,
   * `''` for the others.
   */
  encode(batchJson: string, variant: string): Buffer;
}

/** Security headers every koa-comet response carries. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
};

/**
 * Writes a complete batch response: status, the transport's headers, any
 * `extra` headers (CORS, ETag) and the body. Does nothing when the response
 * has already ended or its socket is gone.
 */
export function writeBatch(
  res: ServerResponse,
  transport: BatchTransport,
  body: Buffer,
  extra?: Readonly<Record<string, string>>,
): void {
  if (res.writableEnded || res.destroyed) return;
  res.statusCode = 200;
  for (const name in transport.headers) res.setHeader(name, transport.headers[name] as string);
  if (extra) for (const name in extra) res.setHeader(name, extra[name] as string);
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
