/**
 * The HTTP streaming transports by name: adding one is a new file in this
 * folder plus one line here.
 */
import { iframeTransport } from './iframe.js';
import { multipartTransport } from './multipart.js';
import { ndjsonTransport } from './ndjson.js';
import { sseTransport } from './sse.js';
import type { StreamTransport, StreamTransportName } from './stream-transport.js';

/** Every HTTP streaming transport, in `Accept` preference order (SSE first: the `*\/*` default). */
export const streamTransports: Readonly<Record<StreamTransportName, StreamTransport>> = {
  sse: sseTransport,
  ndjson: ndjsonTransport,
  multipart: multipartTransport,
  iframe: iframeTransport,
};

/** True when `name` names an HTTP streaming transport. */
export function isStreamTransportName(name: string): name is StreamTransportName {
  return Object.hasOwn(streamTransports, name);
}
