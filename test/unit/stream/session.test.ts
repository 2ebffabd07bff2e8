import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  ConnectionCloseTarget,
  StreamConnection,
  StreamEndReason,
} from '../../../lib/stream/connection.js';
import { createStreamSession, type StreamSessionOptions } from '../../../lib/stream/session.js';
import { createTimerWheel, type TimerWheel } from '../../../lib/suspend/timer-wheel.js';

/** A connection that records what the session did to it. */
class FakeConnection implements StreamConnection {
  log: string[] = [];
  queuedBytes = 0;
  closeListener: (() => void) | undefined;
  wire(frame: Buffer): Buffer {
    return frame;
  }
  send(frame: Buffer): void {
    this.log.push(`send:${frame.toString()}`);
  }
  heartbeat(): void {
    this.log.push('heartbeat');
  }
  close(reason: StreamEndReason): void {
    this.log.push(`close:${reason}`);
  }
  destroy(): void {
    this.log.push('destroy');
  }
  onClose(target: ConnectionCloseTarget): void {
    this.closeListener = () => target.connectionClosed();
  }
}

let wheel: TimerWheel;
let conn: FakeConnection;
let ends: StreamEndReason[];

function start(options: Partial<StreamSessionOptions> = {}) {
  return createStreamSession(conn, { wheel, onEnd: (r) => ends.push(r), ...options });
}

beforeEach(() => {
  vi.useFakeTimers();
  wheel = createTimerWheel();
  conn = new FakeConnection();
  ends = [];
});
afterEach(() => {
  wheel.close();
  vi.useRealTimers();
});

describe('stream session', () => {
  it('writes a heartbeat every 25 s by default', () => {
    start();
    vi.advanceTimersByTime(24_999);
    expect(conn.log).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(conn.log).toEqual(['heartbeat']);
    vi.advanceTimersByTime(50_000);
    expect(conn.log).toEqual(['heartbeat', 'heartbeat', 'heartbeat']);
  });

  it('ends cleanly at its maximum lifetime and releases its timers', () => {
    const s = start({ maxLifetimeMs: 60_000, heartbeatMs: 10_000 });
    vi.advanceTimersByTime(60_000);
    expect(s.ended).toBe(true);
    expect(ends).toEqual(['lifetime']);
    expect(conn.log.at(-1)).toBe('close:lifetime');
    expect(wheel.size).toBe(0);
    vi.advanceTimersByTime(100_000);
    expect(conn.log.filter((l) => l === 'heartbeat')).toHaveLength(5);
  });

  it('defaults to a 10 minute lifetime', () => {
    const s = start({ heartbeatMs: 1_000_000 });
    vi.advanceTimersByTime(599_999);
    expect(s.ended).toBe(false);
    vi.advanceTimersByTime(1);
    expect(ends).toEqual(['lifetime']);
  });

  it('ends cleanly after the frame that reaches the byte budget', () => {
    const s = start({ maxBytes: 10 });
    expect(s.send(Buffer.from('12345'))).toBe(true);
    expect(s.send(Buffer.from('67890'))).toBe(false);
    expect(s.bytesSent).toBe(10);
    expect(conn.log).toEqual(['send:12345', 'send:67890', 'close:budget']);
    expect(ends).toEqual(['budget']);
    expect(s.send(Buffer.from('x'))).toBe(false);
    expect(conn.log).toHaveLength(3);
    expect(wheel.size).toBe(0);
  });

  it('destroys a connection whose queue passes the bound (1 MiB by default)', () => {
    const s = start();
    conn.queuedBytes = 1024 * 1024;
    expect(s.send(Buffer.from('a'))).toBe(true);
    conn.queuedBytes = 1024 * 1024 + 1;
    expect(s.send(Buffer.from('b'))).toBe(false);
    expect(conn.log).toEqual(['send:a', 'send:b', 'destroy']);
    expect(ends).toEqual(['slow']);
    expect(wheel.size).toBe(0);
  });

  it('checks the queue bound on heartbeats too (a reader idle and stuck)', () => {
    start({ maxQueuedBytes: 100 });
    conn.queuedBytes = 101;
    vi.advanceTimersByTime(25_000);
    expect(conn.log).toEqual(['heartbeat', 'destroy']);
    expect(ends).toEqual(['slow']);
  });

  it('releases everything at once when the peer goes away', () => {
    const s = start();
    conn.closeListener?.();
    expect(ends).toEqual(['disconnect']);
    expect(s.ended).toBe(true);
    expect(wheel.size).toBe(0);
    expect(conn.log).toEqual([]);
    conn.closeListener?.();
    s.end();
    expect(ends).toEqual(['disconnect']);
  });

  it('end() closes once with reason ended', () => {
    const s = start();
    s.end();
    s.end();
    conn.closeListener?.();
    expect(ends).toEqual(['ended']);
    expect(conn.log).toEqual(['close:ended']);
  });

  it('ten thousand sessions share the wheel: one entry each, one armed timer', () => {
    for (let i = 0; i < 10_000; i++) start();
    expect(wheel.size).toBe(10_000);
    expect(vi.getTimerCount()).toBe(1);
  });
});
