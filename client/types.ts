/**
 * The shapes the browser client shares with the server's wire formats
 * (docs/reference/wire-formats.md) and with the application.
 */
import type { ClientTransportName } from '../lib/wire/transport-names.js';

/** One message as every transport carries it: `{"id", "channel", "data"}`. */
export interface Envelope {
  /** Opaque, strictly increasing per channel; doubles as the resume cursor. */
  readonly id: string;
  readonly channel: string;
  /** Any JSON value. */
  readonly data: unknown;
  /**
   * On a stream that follows several channels: the combined resume cursor
   * after this message (the `id` is then this message's own id).
   */
  readonly cursor?: string;
}

/** A batch as long-poll and JSONP answer it. */
export interface Batch {
  readonly messages: readonly Envelope[];
  readonly cursor: string | null;
  readonly gap: boolean;
}

/**
 * The transports the client knows: the server's own names (one type-only module shared
 * with `lib/`), so the two sides cannot spell a transport differently.
 */
export type TransportName = ClientTransportName;

/**
 * The client's old spelling of `'long-poll'`, still accepted in `transports` (and in a
 * remembered choice) and read as `'long-poll'`. Statuses always report `'long-poll'`.
 * @deprecated Write `'long-poll'`.
 */
export type DeprecatedTransportName = 'longpoll';

/** The default order: best first. */
export const defaultTransports: readonly TransportName[] = [
  'websocket',
  'sse',
  'ndjson',
  'long-poll',
  'jsonp',
  'iframe',
];

/** What `onReset` receives: history was lost between the old cursor and `cursor`. */
export interface ResetInfo {
  /** The server's head: delivery continues after it. */
  readonly cursor: string | null;
  /** The cursor the client had asked to resume from. */
  readonly previousCursor: string | null;
  readonly transport: TransportName;
}

/**
 * Why the client left a transport for the next one: `failed` (it never opened and the
 * server is there), `unsupported`, `buffering` (something on the way holds the stream
 * back: it opened but stays silent, or never opened while the batch route answers), or
 * `timeout` (it did not open within `openTimeoutMs`).
 */
export type FallbackReason = 'failed' | 'unsupported' | 'buffering' | 'timeout';

/** A refusal the client cannot recover from, as `onError` receives it. */
export interface RefusalInfo {
  /** The HTTP status (401, 403, 404, 406, …). */
  readonly status: number;
  /** The server's error code (`COMET_ERR_…`), or null when the answer carried none. */
  readonly code: string | null;
  /** The server's message, or null. */
  readonly message: string | null;
  readonly transport: TransportName;
}

/**
 * The connection's life as `onStatus` reports it, a union on `kind`.
 * `refused` is final: the server answered a 4xx the client cannot recover from
 * (401/403, an unknown route, …) and the client stopped; `onError` gets the same.
 */
export type Status =
  | { readonly kind: 'connecting'; readonly transport: TransportName }
  | { readonly kind: 'open'; readonly transport: TransportName }
  | { readonly kind: 'reconnecting'; readonly transport: TransportName; readonly delayMs: number }
  | {
      readonly kind: 'fallback';
      readonly from: TransportName;
      readonly to: TransportName;
      readonly reason: FallbackReason;
    }
  | {
      readonly kind: 'refused';
      readonly transport: TransportName;
      readonly status: number;
      readonly code: string | null;
      readonly message: string | null;
    }
  | { readonly kind: 'follower'; readonly transport: TransportName | null }
  | { readonly kind: 'closed' };

/** Is `value` an envelope (and not a control frame)? */
export function isEnvelope(value: unknown): value is Envelope {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { id?: unknown }).id === 'string' &&
    typeof (value as { channel?: unknown }).channel === 'string'
  );
}

/** Is `value` a gap control frame `{"gap": true, "cursor": …}`? */
export function isGapControl(value: unknown): value is { gap: true; cursor: string | null } {
  return typeof value === 'object' && value !== null && (value as { gap?: unknown }).gap === true;
}
