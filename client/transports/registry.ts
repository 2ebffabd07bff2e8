import type { TransportName } from '../types.js';
import { iframeTransport } from './iframe.js';
import { jsonpTransport } from './jsonp.js';
import { longpollTransport } from './long-poll.js';
import { ndjsonTransport } from './ndjson.js';
import { sseTransport } from './sse.js';
import type { ClientTransport } from './transport.js';
import { websocketTransport } from './websocket.js';

/** Every client transport by name: a new transport is one file plus one line here. */
export const transportRegistry: Readonly<Record<TransportName, ClientTransport>> = {
  websocket: websocketTransport,
  sse: sseTransport,
  ndjson: ndjsonTransport,
  'long-poll': longpollTransport,
  jsonp: jsonpTransport,
  iframe: iframeTransport,
};

/**
 * The transport a name stands for: itself, `'long-poll'` for the deprecated
 * `'longpoll'`, or null when the client has no transport of that name.
 */
export function transportNamed(name: unknown): TransportName | null {
  if (name === 'longpoll') return 'long-poll';
  return Object.values(transportRegistry).find((t) => t.name === name)?.name ?? null;
}
