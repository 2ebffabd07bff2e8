/**
 * Short poll: answers at once with the messages after the cursor. The body
 * carries an `ETag`; a request whose `If-None-Match` names it gets `304`.
 */
import { createHash } from 'node:crypto';
import { BASE_HEADERS, type BatchTransport, defineBatchTransport } from './batch-transport.js';

/** The poll transport (`application/json`, revalidated on every use). */
export const pollTransport: BatchTransport = defineBatchTransport(
  'poll',
  {
    ...BASE_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-cache',
  },
  (batchJson) => batchJson,
);

/** A strong validator for a poll body: `"` + base64url(sha1(body)) + `"`. */
export function etagOf(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

/**
 * True when an `If-None-Match` header value names `etag` (a list, `*`, or
 * a weak form of it).
 */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
