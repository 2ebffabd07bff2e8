/**
 * Long-poll: the request is held until at least one message follows its
 * cursor (or the timeout), then answered with one JSON batch.
 */
import { BASE_HEADERS, type BatchTransport, defineBatchTransport } from './batch-transport.js';

/** The long-poll transport (`application/json`, never cached). */
export const longPollTransport: BatchTransport = defineBatchTransport(
  'long-poll',
  {
    ...BASE_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store, no-transform',
  },
  (batchJson) => batchJson,
);
