/**
 * Options of the Redis bus, and the node-redis client surface it relies on.
 */
import { CometError } from '../base/errors.js';
import type { ReconnectOptions } from './redis-connection.js';

/**
 * The node-redis client surface the bus uses; a client from `createClient()`
 * of the `redis` package fits it (tested with redis@6.3.1, RESP2 and RESP3).
 */
export interface RedisBusClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand<T = unknown>(args: readonly string[], options?: { timeout?: number }): Promise<T>;
  duplicate(overrides?: { disableOfflineQueue?: boolean; name?: string }): RedisBusClient;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  close(): Promise<unknown>;
  destroy(): void;
}

/** Options of {@link createRedisBus}. */
export interface RedisBusOptions {
  /** Redis URL (default `redis://127.0.0.1:6379`); ignored when `client` is given. */
  readonly url?: string;
  /**
   * A node-redis client to use for commands. The bus connects it if needed,
   * duplicates it for Pub/Sub, and leaves it open on `close()` (it is yours).
   * Prefer `disableOfflineQueue: true` on it; the bus bounds waits anyway.
   */
  readonly client?: RedisBusClient;
  /** Prefix of every key and Pub/Sub channel (default `comet:`). */
  readonly keyPrefix?: string;
  /** History bound by count per channel, `MAXLEN` (default 1000; 0 = none). */
  readonly maxLen?: number;
  /** History bound by age in ms, `MINID` (default 0 = none). */
  readonly maxAge?: number;
  /** Trim exactly (`=`) instead of approximately (`~`, cheaper; the default). */
  readonly exactTrim?: boolean;
  /** `limit` of {@link Bus.read} when none is given (default 100). */
  readonly defaultReadLimit?: number;
  /** Longest channel name accepted (default 256). */
  readonly maxChannelLength?: number;
  /** Deepest nesting of arrays / objects a message's data may have (default 64). */
  readonly maxDepth?: number;
  /** How long a call waits for a reconnecting Redis before it rejects, ms (default 1000). */
  readonly readyTimeout?: number;
  /**
   * Deadline of every call, ms (default 5000): a publish or read that Redis
   * has not answered by then rejects with `COMET_ERR_BUS_TIMEOUT` (503), even
   * when the command was already written (a stalled Redis). A publish that
   * timed out may still have been stored: retry it with the same
   * `idempotencyKey`.
   */
  readonly commandTimeout?: number;
  /**
   * Most publish and read calls waiting for Redis at once (default 1000);
   * past it, calls reject at once with `COMET_ERR_BUS_OVERLOADED` (503).
   */
  readonly maxPending?: number;
  /**
   * Most bytes of message data waiting for Redis at once (default 16 MiB);
   * past it, publishes reject at once with `COMET_ERR_BUS_OVERLOADED` (503).
   */
  readonly maxPendingBytes?: number;
  /**
   * `PING` on each connection every this many ms (default 5000; 0 = never),
   * so a dead peer or a half-open TCP connection is noticed.
   */
  readonly pingInterval?: number;
  /**
   * A connection with no traffic for this many ms is dropped and reconnected
   * (default 15000; 0 = never). With the ping, no traffic means Redis stopped
   * answering.
   */
  readonly socketTimeout?: number;
  /**
   * Idle channels' keys expire after this many ms without a publish
   * (default 7 days; 0 = never), so abandoned rooms do not stay in Redis.
   * An expired channel starts a new history: a cursor from before reads as a
   * gap.
   */
  readonly channelTtl?: number;
  /** How long an `idempotencyKey` is remembered, ms (default 10 minutes). */
  readonly idempotencyWindow?: number;
  /** Connect timeout of the clients the bus creates, ms (default 5000). */
  readonly connectTimeout?: number;
  /** Backoff between reconnect attempts of the clients the bus creates. */
  readonly reconnect?: ReconnectOptions;
  /** `CLIENT SETNAME` of the connections (default `comet-bus`; Pub/Sub gets `:sub`). */
  readonly name?: string;
  /** Clock for `Message.time` (default `Date.now`). */
  readonly now?: () => number;
}

/** Reads an integer option, or throws `COMET_ERR_OPTIONS_INVALID`. */
export function count(
  value: number | undefined,
  fallback: number,
  name: string,
  min: number,
): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < min) {
    throw new CometError('COMET_ERR_OPTIONS_INVALID', `${name} must be an integer >= ${min}`);
  }
  return result;
}
