/**
 * The lifecycle every stream shares, whatever its transport: heartbeat,
 * maximum lifetime, byte budget, slow-reader bound, and release on
 * disconnect (docs/reference/wire-formats.md, "Every stream").
 *
 * A stream ends exactly once, and however it ends every timer is removed and
 * the caller's `onEnd` (its unsubscribe) runs at once. Lifetime and budget
 * end it cleanly — the client resumes by cursor; a reader that lets more
 * than `maxQueuedBytes` pile up is cut off (its buffered bytes go with the
 * socket), and it too resumes by cursor, so nothing is lost.
 *
 * Timers come from a shared {@link TimerWheel}: ten thousand streams with a
 * 25 s heartbeat arm one Node timer, not ten thousand. The lifetime deadline
 * is kept on the wheel's monotonic clock, never the wall clock.
 */
import { debuglog } from 'node:util';
import type { TransportMeter } from '../hub/meters.js';
import type { TimerHandle, TimerTarget, TimerWheel } from '../suspend/timer-wheel.js';
import type { ConnectionCloseTarget, StreamConnection, StreamEndReason } from './connection.js';

const debug = debuglog('comet:stream');

/** Told once when a session ends (the stream's owner: release its subscriptions here). */
export interface StreamOwner {
  streamEnded(reason: StreamEndReason): void;
}

/** Limits of one stream; every field has a default. */
export interface StreamSessionOptions {
  /** The shared timer wheel (see lib/suspend/timer-wheel.ts). */
  wheel: TimerWheel;
  /** Keep-alive interval. Default 25,000 ms. */
  heartbeatMs?: number;
  /** After this long the stream ends cleanly. Default 600,000 ms (10 min). */
  maxLifetimeMs?: number;
  /** After this many bytes of frames the stream ends cleanly. Default 16 MiB. */
  maxBytes?: number;
  /** More than this many bytes queued for the peer destroys the connection. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** Called exactly once when the stream ends, however: release the subscription here. */
  onEnd?: (reason: StreamEndReason) => void;
  /** Where the stream counts frames, bytes, heartbeats and its end (one per route and transport). */
  meter?: TransportMeter;
}

/** The defaults of {@link StreamSessionOptions}. */
export const streamSessionDefaults = {
  heartbeatMs: 25_000,
  maxLifetimeMs: 600_000,
  maxBytes: 16 * 1024 * 1024,
  maxQueuedBytes: 1024 * 1024,
} as const;

/** One live stream. */
export interface StreamSession {
  /**
   * Writes a shared frame. Returns false when the session has ended (before
   * or because of this frame): the caller may drop it from its fan-out list.
   */
  send(frame: Buffer): boolean;
  /** Ends cleanly with reason `'ended'`. Does nothing if already ended. */
  end(): void;
  /** Ends with reason `'failed'` (the bus could not answer). Does nothing if already ended. */
  fail(): void;
  readonly ended: boolean;
  /** Frame bytes written so far (heartbeats excluded). */
  readonly bytesSent: number;
}

/**
 * One wheel entry per stream: the next heartbeat, or the end of its
 * lifetime when that comes first.
 */
class Session implements StreamSession, TimerTarget, ConnectionCloseTarget {
  ended = false;
  bytesSent = 0;
  private readonly conn: StreamConnection;
  private readonly options: StreamSessionOptions;
  private readonly owner: StreamOwner | undefined;
  private readonly deadline: number;
  private timer: TimerHandle;

  constructor(conn: StreamConnection, options: StreamSessionOptions, owner?: StreamOwner) {
    this.conn = conn;
    this.options = options;
    this.owner = owner;
    const lifetime = options.maxLifetimeMs ?? streamSessionDefaults.maxLifetimeMs;
    // Whole milliseconds: a small integer is stored in the field itself,
    // where a fraction would cost every held stream a number box.
    this.deadline = Math.ceil(options.wheel.now() + lifetime);
    this.timer = this.arm();
    conn.onClose(this);
    const meter = options.meter;
    if (meter !== undefined) {
      meter.open++;
      meter.opened++;
    }
    debug('%s stream opened', meter?.transport ?? '');
  }

  send(frame: Buffer): boolean {
    if (this.ended) return false;
    this.conn.send(frame);
    this.bytesSent += frame.length;
    const meter = this.options.meter;
    if (meter !== undefined) {
      meter.deliveries++;
      meter.bytes += frame.length;
    }
    const { maxQueuedBytes = streamSessionDefaults.maxQueuedBytes } = this.options;
    if (this.conn.queuedBytes > maxQueuedBytes) this.finish('slow');
    else if (this.bytesSent >= (this.options.maxBytes ?? streamSessionDefaults.maxBytes)) {
      this.finish('budget');
    }
    return !this.ended;
  }

  end(): void {
    this.finish('ended');
  }

  fail(): void {
    this.finish('failed');
  }

  /** @internal The connection closed under us. */
  connectionClosed(): void {
    this.finish('disconnect');
  }

  /** The tick: end at the lifetime, else write keep-alive bytes, apply the queue bound, re-arm. */
  onTimer(): void {
    if (this.ended) return;
    if (this.options.wheel.now() >= this.deadline) {
      this.finish('lifetime');
      return;
    }
    this.conn.heartbeat();
    if (this.options.meter !== undefined) this.options.meter.heartbeats++;
    const { maxQueuedBytes = streamSessionDefaults.maxQueuedBytes } = this.options;
    if (this.conn.queuedBytes > maxQueuedBytes) {
      this.finish('slow');
      return;
    }
    if (!this.ended) this.timer = this.arm();
  }

  private arm(): TimerHandle {
    const heartbeat = this.options.heartbeatMs ?? streamSessionDefaults.heartbeatMs;
    const left = this.deadline - this.options.wheel.now();
    return this.options.wheel.add(Math.max(0, Math.min(heartbeat, left)), this);
  }

  /** The one transition to ended; later calls are no-ops. */
  finish(reason: StreamEndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.options.wheel.remove(this.timer);
    const meter = this.options.meter;
    if (meter !== undefined) {
      meter.open--;
      meter.ends[reason]++;
    }
    debug('%s stream ended: %s after %d bytes', meter?.transport ?? '', reason, this.bytesSent);
    if (reason === 'slow') this.conn.destroy();
    else if (reason !== 'disconnect') this.conn.close(reason);
    this.owner?.streamEnded(reason);
    this.options.onEnd?.(reason);
  }
}

/**
 * Starts the lifecycle of one stream over `connection`.
 *
 * @example
 * ```ts
 * const writer = sseTransport.open(res, { variant: '' });
 * const off = bus.subscribe(channel, (m) => session.send(sseTransport.encode(m, '')));
 * const session = createStreamSession(createHttpConnection(res, writer), { wheel, onEnd: off });
 * ```
 */
export function createStreamSession(
  connection: StreamConnection,
  options: StreamSessionOptions,
  owner?: StreamOwner,
): StreamSession {
  return new Session(connection, options, owner);
}
