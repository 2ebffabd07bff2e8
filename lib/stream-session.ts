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
import type { ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import type { TransportMeter } from './meters.js';
import { watchQueuedResponse } from './queued-response.js';
import type { TimerHandle, TimerTarget, TimerWheel } from './timer-wheel.js';
import type { StreamWriter } from './transports/stream-transport.js';

const debug = debuglog('comet:stream');

/** What a session drives: an HTTP response's writer, or a WebSocket. */
export interface StreamConnection {
  /** The wire bytes of a frame, the same for every connection of its kind (build once, send to many). */
  wire(frame: Buffer): Buffer;
  /** Sends bytes made by {@link StreamConnection.wire}. */
  send(frame: Buffer): void;
  heartbeat(): void;
  /** Ends cleanly (closing bytes, end of response / close frame). */
  close(reason: StreamEndReason): void;
  /** Ends at once, dropping whatever is still queued. */
  destroy(): void;
  /** Bytes written but not yet taken by the peer (Node's and the socket's buffers). */
  readonly queuedBytes: number;
  /**
   * Registers the one target told when the underlying connection closes,
   * however it closes (a target, not a closure: nothing allocated per stream).
   */
  onClose(target: ConnectionCloseTarget): void;
}

/** Told once when a connection closes. */
export interface ConnectionCloseTarget {
  connectionClosed(): void;
}

/** Told once when a session ends (the stream's owner: release its subscriptions here). */
export interface StreamOwner {
  streamEnded(reason: StreamEndReason): void;
}

/** Why a stream ended. */
export type StreamEndReason =
  | 'ended' // the server called end() (shutdown, the application)
  | 'lifetime' // maxLifetimeMs reached
  | 'budget' // maxBytes written
  | 'slow' // more than maxQueuedBytes queued: connection destroyed
  | 'disconnect' // the peer went away (or stopped answering pings)
  | 'failed'; // the bus failed while the backlog was being read: the client resumes by cursor

/** Limits of one stream; every field has a default. */
export interface StreamSessionOptions {
  /** The shared timer wheel (see lib/timer-wheel.ts). */
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

/** Adapts an HTTP response and its {@link StreamWriter} to a {@link StreamConnection}. */
class HttpConnection implements StreamConnection {
  constructor(
    private readonly res: ServerResponse,
    private readonly writer: StreamWriter,
  ) {}
  wire(frame: Buffer): Buffer {
    return this.writer.wire(frame);
  }
  send(wired: Buffer): void {
    this.writer.sendWire(wired);
  }
  heartbeat(): void {
    this.writer.heartbeat();
  }
  close(): void {
    this.writer.close();
  }
  destroy(): void {
    // Destroying the socket frees what it had queued; the response follows.
    // On HTTP/2 the socket is the whole session's: reset only this stream.
    const stream = (this.res as { stream?: { destroy(): void } }).stream;
    if (stream !== undefined) stream.destroy();
    else this.res.socket?.destroy();
    this.res.destroy();
  }
  get queuedBytes(): number {
    // OutgoingMessage.writableLength already includes its socket's buffer.
    return this.res.writableLength;
  }
  onClose(target: ConnectionCloseTarget): void {
    (this.res as Closable)[kCloseTarget] = target;
    this.res.on('close', onResponseClose);
    // A pipelined response queued behind another gets no `close` of its own.
    watchQueuedResponse(this.res);
  }
}

const kCloseTarget = Symbol('comet.closeTarget');
type Closable = ServerResponse & { [kCloseTarget]?: ConnectionCloseTarget };

/** One shared `close` handler for every stream response: no closure per stream. */
function onResponseClose(this: Closable): void {
  const target = this[kCloseTarget];
  this[kCloseTarget] = undefined;
  target?.connectionClosed();
}

/** The {@link StreamConnection} of an HTTP stream: `res` plus the writer its transport opened. */
export function createHttpConnection(res: ServerResponse, writer: StreamWriter): StreamConnection {
  return new HttpConnection(res, writer);
}
