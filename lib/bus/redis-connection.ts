/**
 * Connection plumbing for the Redis bus: the reconnect backoff, waiting a
 * bounded time for a (re)connecting client, and closing without hanging.
 */
import { CometError } from '../base/errors.js';
import { redisModule } from './redis-module.js';

/** Exponential backoff with full jitter between reconnect attempts. */
export interface ReconnectOptions {
  /** First ceiling in ms (default 50). */
  readonly baseDelay?: number;
  /** Largest ceiling in ms (default 2000). */
  readonly maxDelay?: number;
  /** Uniform [0, 1) source, injectable for tests (default `Math.random`). */
  readonly random?: () => number;
}

/**
 * A node-redis `reconnectStrategy`: attempt `n` waits a uniformly random time
 * in [0, min(maxDelay, baseDelay·2ⁿ)) — "full jitter", so a fleet of nodes that
 * lost Redis together does not reconnect in lockstep. It never gives up: the
 * bus stays usable once Redis is back.
 */
export function fullJitterBackoff(options: ReconnectOptions = {}): (retries: number) => number {
  const base = options.baseDelay ?? 50;
  const max = options.maxDelay ?? 2000;
  const random = options.random ?? Math.random;
  return (retries) => Math.floor(random() * Math.min(max, base * 2 ** Math.min(retries, 30)));
}

/** The events and state of a node-redis client used here. */
export interface Connectable {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  once(event: 'ready', listener: () => void): unknown;
  close(): Promise<unknown>;
  destroy(): void;
}

/**
 * Returns `whenReady(timeout)`: resolves once `client` is ready; rejects with
 * `COMET_ERR_BUS_UNAVAILABLE` after `timeout` ms (at once when `timeout` is 0).
 * Waiting callers are bounded in time, so an outage never builds an unbounded
 * backlog, and they share one `ready` listener however many there are.
 */
export function readyGate(client: Connectable): (timeout: number) => Promise<void> {
  let next: Promise<void> | undefined;
  const nextReady = () => {
    next ??= new Promise<void>((resolve) => {
      client.once('ready', () => {
        next = undefined;
        resolve();
      });
    });
    return next;
  };
  return (timeout) => {
    if (client.isReady) return Promise.resolve();
    if (timeout <= 0) return Promise.reject(new CometError('COMET_ERR_BUS_UNAVAILABLE'));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CometError('COMET_ERR_BUS_UNAVAILABLE')), timeout);
    });
    return Promise.race([nextReady(), expired]).finally(() => clearTimeout(timer));
  };
}

/**
 * Quits `client` politely when it is connected, else (or when QUIT takes
 * longer than `timeout` ms) drops the socket. Never rejects.
 */
export async function shutDown(client: Connectable, timeout: number): Promise<void> {
  if (!client.isOpen) return;
  if (!client.isReady) {
    client.destroy();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeout);
  });
  const outcome = await Promise.race([
    client.close().then(
      () => 'done' as const,
      () => 'late' as const,
    ),
    late,
  ]);
  clearTimeout(timer);
  if (outcome === 'late' && client.isOpen) client.destroy();
}

/**
 * Maps a failed Redis call to the bus's error: coded errors pass, node-redis's
 * own timeout is a timeout, the rest is "unavailable".
 */
export function toBusError(error: unknown): CometError {
  if (error instanceof CometError) return error;
  const timedOut = error instanceof redisModule().TimeoutError;
  const code = timedOut ? 'COMET_ERR_BUS_TIMEOUT' : 'COMET_ERR_BUS_UNAVAILABLE';
  return new CometError(code, undefined, { cause: error });
}
