/**
 * The transport names the server and the browser client share. Type-only (no
 * run-time code): `client/` imports it with `import type`, so the client bundle
 * carries nothing from the server, and a name cannot be spelt one way on one
 * side and another way on the other.
 *
 * The run-time lists (the server's registry in `registry.ts`, the client's in
 * `client/transports/registry.ts`) are typed `Record<…Name, …>`, so a name added
 * here and forgotten in either registry is a compile error.
 */

/** The HTTP streaming transports a `@stream` route offers (`?transport=` takes these names). */
export type StreamTransportName = 'sse' | 'ndjson' | 'multipart' | 'iframe';

/** The transports that answer one batch (`{"messages","cursor","gap"}`) per request. */
export type BatchTransportName = 'poll' | 'long-poll' | 'jsonp';

/** The transport that upgrades a `@stream` route's request. */
export type UpgradeTransportName = 'websocket';

/** What `@stream({ transports })` lists: the HTTP streams and the upgrade. */
export type StreamRouteTransportName = StreamTransportName | UpgradeTransportName;

/** Every transport the server speaks: metrics labels and stats use these names. */
export type TransportName = StreamTransportName | BatchTransportName | UpgradeTransportName;

/**
 * The transports the browser client follows a route with (it does not short-poll
 * and has no multipart reader): a subset of {@link TransportName}, spelt the same.
 */
export type ClientTransportName = Exclude<TransportName, 'poll' | 'multipart'>;

/** How a transport meets a route: one batch per request, a streamed response, or an upgrade. */
export type TransportKind = 'batch' | 'stream' | 'upgrade';
