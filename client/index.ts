/**
 * koa-comet's browser client: follow a route over the best transport the browser and
 * network allow, with fallback, reconnection and exactly-once resume.
 */
import type { BackoffOptions } from './backoff.js';
import type { TransportMemory } from './connection.js';
import { Hub, type HubListener } from './hub.js';
import { createSessionMemory } from './memory.js';
import { type SendResult, send } from './send.js';
import { transportNamed } from './transports/registry.js';
import {
  type DeprecatedTransportName,
  defaultTransports,
  type Envelope,
  type RefusalInfo,
  type ResetInfo,
  type Status,
  type TransportName,
} from './types.js';
import { absoluteUrl } from './url.js';

export type { BackoffOptions } from './backoff.js';
export type { TransportMemory } from './connection.js';
export { SendError, type SendResult } from './send.js';
export type {
  DeprecatedTransportName,
  Envelope,
  FallbackReason,
  RefusalInfo,
  ResetInfo,
  Status,
  TransportName,
} from './types.js';
export { defaultTransports } from './types.js';

/** Options of {@link subscribe}. */
export interface SubscribeOptions {
  /** Called once per message, in order; an id already delivered is never delivered again. */
  onMessage(envelope: Envelope): void;
  /** History was lost (the cursor is older than the server's history): re-sync the page. */
  onReset?(info: ResetInfo): void;
  /** The connection's life: connecting, open, reconnecting, fallback, refused, closed. */
  onStatus?(status: Status): void;
  /**
   * The server refused in a way retrying cannot fix (401/403, an unknown route, an
   * invalid channel — `{status, code, message, transport}`): the subscription has
   * stopped (`onStatus` says `refused` too). A malformed cursor is not an error: it
   * is handled as a gap (`onReset`).
   */
  onError?(error: RefusalInfo): void;
  /**
   * Transports to try, best first (default: websocket, sse, ndjson, long-poll, jsonp,
   * iframe). The old spelling `'longpoll'` is still read as `'long-poll'` (deprecated).
   */
  transports?: readonly (TransportName | DeprecatedTransportName)[];
  /** Where to start: an id, `'earliest'`, or omitted for "from now". */
  cursor?: string;
  /**
   * The long-poll route, used by `longpoll` and `jsonp` and by the buffering probe.
   * Defaults to `url` itself: the client derives nothing from route names, so when the
   * stream and long-poll routes differ (`/rooms/x/live` and `/rooms/x/messages` in the
   * demo) pass both.
   */
  longpollUrl?: string;
  /**
   * Where `send()` POSTs when there is no open WebSocket. Defaults to
   * `longpollUrl` (the demo's `POST /rooms/x/messages`).
   */
  publishUrl?: string;
  /** Send cookies on cross-origin requests (fetch `include`, EventSource `withCredentials`). */
  withCredentials?: boolean;
  /** Reconnect schedule: exponential with full jitter (defaults 500 ms initial, 30 s cap). */
  backoff?: BackoffOptions;
  /** A stream silent this long is checked against a poll for a buffering proxy (default 10 000 ms; 0 disables). */
  bufferingDeadlineMs?: number;
  /**
   * A transport that has not opened this long has failed (default 10 000 ms; 0 disables):
   * a WebSocket handshake, a stream's headers, a forever frame's document; for long-poll
   * and JSONP the hold (`longpollTimeoutS`) is added. The client steps down, reporting
   * `fallback` with reason `'buffering'` (the batch route answers meanwhile, so something
   * holds the stream back) or `'timeout'`.
   */
  openTimeoutMs?: number;
  /** Long-poll hold, whole seconds 0–60 (default 25). */
  longpollTimeoutS?: number;
  /** Share one connection among this origin's tabs through a leader tab (default true). */
  shareAcrossTabs?: boolean;
  /** Where the transport that worked is remembered (default: sessionStorage). */
  memory?: TransportMemory;
}

/** A live subscription. */
export interface Subscription {
  /** Stops delivery to this subscriber; the shared connection closes with its last subscriber. */
  close(): void;
  /** The transport in use now (the leader tab's when this tab follows), or null before any. */
  readonly transport: TransportName | null;
  /** The last id delivered (the resume cursor), or null before any. */
  readonly cursor: string | null;
  /** `leader` when this tab holds the shared connection, `follower` when another tab does. */
  readonly role: 'leader' | 'follower';
  /**
   * Publishes `data`: on the WebSocket when it is open (the route needs the
   * `publish` option), else by POST to `publishUrl`. Resolves with the new
   * message's `{ id }` either way; rejects with a `SendError` carrying the
   * server's code.
   */
  send(data: unknown): Promise<SendResult>;
}

const hubsKey = Symbol.for('koa-comet.hubs');

/** A name from `transports`, with the deprecated spelling read as the current one. */
function known(name: string): TransportName[] {
  const transport = transportNamed(name);
  return transport === null ? [] : [transport];
}

/**
 * Follows `url` (a `@stream` route, or a `@longpoll` route with `transports` limited to
 * `long-poll`/`jsonp`) and calls `onMessage` for every message, exactly once, in order.
 *
 * Every subscription to the same URLs in a tab shares one connection; tabs of one
 * origin share one through a leader tab. A 401/403 (or another refusal retrying
 * cannot fix) stops the subscription with `onStatus({ kind: 'refused' })` and
 * `onError`, and is never bypassed by falling back. A cursor the server cannot parse
 * is handled as a gap: `onReset`, then delivery from the head.
 *
 * @example
 * ```ts
 * import { subscribe } from '/comet/koa-comet.js';
 * const sub = subscribe('/rooms/lobby/live', {
 *   longpollUrl: '/rooms/lobby/messages',
 *   onMessage: (m) => console.log(m.id, m.data),
 *   onReset: () => location.reload(),
 * });
 * ```
 */
export function subscribe(url: string, options: SubscribeOptions): Subscription {
  const hubs = tabHubs();
  const streamUrl = absoluteUrl(url).href;
  const longpollUrl = absoluteUrl(options.longpollUrl ?? url).href;
  const transports = options.transports?.flatMap(known) ?? defaultTransports;
  const withCredentials = options.withCredentials ?? false;
  const publishUrl = absoluteUrl(options.publishUrl ?? options.longpollUrl ?? url).href;
  const key = JSON.stringify([streamUrl, longpollUrl, transports, withCredentials]);
  let hub = hubs.get(key);
  if (hub === undefined) {
    const created = new Hub(
      {
        streamUrl,
        longpollUrl,
        transports,
        withCredentials,
        cursor: options.cursor ?? null,
        backoff: options.backoff ?? {},
        bufferingDeadlineMs: options.bufferingDeadlineMs ?? 10_000,
        openTimeoutMs: options.openTimeoutMs ?? 10_000,
        longpollTimeoutS: options.longpollTimeoutS ?? 25,
        shareAcrossTabs: options.shareAcrossTabs ?? true,
        memory: options.memory ?? createSessionMemory(),
      },
      () => hubs.delete(key),
    );
    hubs.set(key, created);
    hub = created;
  }
  const listener: HubListener = {
    onMessage: (envelope) => options.onMessage(envelope),
    onReset: (info) => options.onReset?.(info),
    onStatus: (status) => {
      options.onStatus?.(status);
      if (status.kind === 'refused') {
        const { kind: _, ...refusal } = status;
        options.onError?.(refusal);
      }
    },
  };
  const shared = hub;
  const remove = shared.add(listener);
  return {
    close: remove,
    get transport() {
      return shared.transport;
    },
    get cursor() {
      return shared.cursor;
    },
    get role() {
      return shared.role;
    },
    send: (data) => send((d) => shared.publish(d), publishUrl, data, withCredentials),
  };
}

/**
 * The tab's hubs. They live on `globalThis` on purpose: "one connection per tab"
 * must hold even when a page loads both the module and the script-tag build.
 */
function tabHubs(): Map<string, Hub> {
  const holder = globalThis as unknown as Record<symbol, Map<string, Hub> | undefined>;
  holder[hubsKey] ??= new Map();
  return holder[hubsKey];
}
