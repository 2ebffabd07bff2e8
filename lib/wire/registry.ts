/**
 * Every transport the server speaks, by kind and name: the one list the
 * routes, `@stream` negotiation and option checks read (the browser
 * client's counterpart is `client/transports/registry.ts`, typed by the same
 * names). Adding a transport is its file in this folder plus one line here
 * (docs/guides/adding-a-transport.md).
 *
 * Each record is typed by its name union (`transport-names.ts`), so a name
 * without a transport, or a transport under the wrong name, is a compile error.
 */
import type { BatchTransport } from './batch-transport.js';
import { iframeTransport } from './iframe.js';
import { jsonpTransport } from './jsonp.js';
import { longPollTransport } from './long-poll.js';
import { multipartTransport } from './multipart.js';
import { ndjsonTransport } from './ndjson.js';
import { pollTransport } from './poll.js';
import { sseTransport } from './sse.js';
import type { StreamTransport } from './stream-transport.js';
import type {
  BatchTransportName,
  StreamRouteTransportName,
  StreamTransportName,
  TransportKind,
  TransportName,
  UpgradeTransportName,
} from './transport-names.js';
import { webSocketEncoder } from './websocket.js';

/** The HTTP streaming transports, in `Accept` preference order (SSE first: the `*\/*` default). */
export const streamTransports: Readonly<Record<StreamTransportName, StreamTransport>> = {
  sse: sseTransport,
  ndjson: ndjsonTransport,
  multipart: multipartTransport,
  iframe: iframeTransport,
};

/** The transports that answer one batch per request. */
export const batchTransports: Readonly<Record<BatchTransportName, BatchTransport>> = {
  poll: pollTransport,
  'long-poll': longPollTransport,
  jsonp: jsonpTransport,
};

/** The transports that take a `@stream` route's request over by an upgrade. */
export const upgradeTransports: Readonly<Record<UpgradeTransportName, typeof webSocketEncoder>> = {
  websocket: webSocketEncoder,
};

/** What every transport declares, whatever its kind. */
export interface TransportEntry {
  readonly name: TransportName;
  readonly kind: TransportKind;
}

/** Every transport the server speaks, streams first (for checks, metrics and docs). */
export const allTransports: readonly TransportEntry[] = [
  ...Object.values(streamTransports),
  ...Object.values(batchTransports),
  ...Object.values(upgradeTransports),
];

/** True when `name` names an HTTP streaming transport. */
export function isStreamTransportName(name: unknown): name is StreamTransportName {
  return typeof name === 'string' && Object.hasOwn(streamTransports, name);
}

/** The names `@stream({ transports })` may list: the HTTP streams, then the upgrade. */
export const streamRouteTransportNames: readonly StreamRouteTransportName[] = [
  ...Object.values(streamTransports),
  ...Object.values(upgradeTransports),
].map((transport) => transport.name);

/** True when `name` names a transport a `@stream` route can offer (HTTP or upgrade). */
export function isStreamRouteTransportName(name: unknown): name is StreamRouteTransportName {
  return streamRouteTransportNames.some((known) => known === name);
}
