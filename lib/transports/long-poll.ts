/**
 * Long-poll: the request is held until at least one message follows its
 * cursor (or the timeout), then answered with one JSON batch.
 */
import { BASE_HEADERS, type BatchTransport } from './batch-transport.js';

/** The long-poll transport (`application/json`, never cached). */
export const longPollTransport: BatchTransport = {
  name: 'long-poll',
  headers: {
    ...BASE_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store, no-transform',
  },
  encode: (batchJson) => Buffer.from(batchJson),
};
