/**
 * Holds, heartbeats, lifetimes and lingers run on a monotonic clock: a wall
 * clock stepped back or forward (NTP, an operator, a VM resumed) neither
 * stretches nor freezes nor cuts them. Fake timers step `Date` alone
 * (`vi.setSystemTime`) while `performance.now()` keeps counting.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryBus } from '../../../lib/bus/memory.js';
import { Hub, type HubMember } from '../../../lib/hub/hub.js';
import type {
  ConnectionCloseTarget,
  StreamConnection,
  StreamEndReason,
} from '../../../lib/stream/connection.js';
import { createStreamSession } from '../../../lib/stream/session.js';
import { startAsync } from '../../../lib/suspend/async-context.js';
import type { TimerWheel } from '../../../lib/suspend/timer-wheel.js';
import { withFakeWheel } from '../../helpers/fake-wheel.js';

const steps = [
  ['back 60 s', -60_000],
  ['forward 1 h', 3_600_000],
  ['back 1 h', -3_600_000],
] as const;

/** Steps the wall clock only: timers and `performance.now()` go on as before. */
function stepWallClock(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

class FakeConnection implements StreamConnection {
  readonly log: string[] = [];
  queuedBytes = 0;
  wire(frame: Buffer): Buffer {
    return frame;
  }
  send(): void {}
  heartbeat(): void {
    this.log.push('heartbeat');
  }
  close(reason: StreamEndReason): void {
    this.log.push(`close:${reason}`);
  }
  destroy(): void {}
  onClose(_target: ConnectionCloseTarget): void {}
}

let wheel: TimerWheel;

withFakeWheel((w) => {
  wheel = w;
});

describe.each(steps)('wall clock stepped %s', (_label, step) => {
  it('a 20 s long-poll hold expires after 20 s', () => {
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    const ac = startAsync(res.req, res, { timeout: 20_000, timers: wheel });
    ac.suspend();
    stepWallClock(step);
    vi.advanceTimersByTime(19_999);
    expect(ac.state).toBe('suspended');
    vi.advanceTimersByTime(1);
    expect(ac.state).toBe('completed');
  });

  it('a stream keeps its 25 s heartbeat and its 10 min lifetime', () => {
    const conn = new FakeConnection();
    const session = createStreamSession(conn, { wheel });
    stepWallClock(step);
    vi.advanceTimersByTime(25_000);
    expect(conn.log).toEqual(['heartbeat']);
    expect(session.ended).toBe(false);
    vi.advanceTimersByTime(600_000 - 25_000 - 1);
    expect(session.ended).toBe(false);
    vi.advanceTimersByTime(1);
    expect(conn.log.at(-1)).toBe('close:lifetime');
    expect(conn.log.filter((l) => l === 'heartbeat')).toHaveLength(23);
  });

  it("a channel's lingering subscription is released after the linger", () => {
    const bus = createMemoryBus();
    const hub = new Hub(bus, { timers: wheel, linger: 10_000 });
    const member: HubMember = { notify() {}, shutdown() {} };
    hub.join('room', member);
    hub.leave('room', member);
    stepWallClock(step);
    vi.advanceTimersByTime(9_999);
    expect(hub.activeChannels).toBe(1);
    vi.advanceTimersByTime(1);
    expect(hub.activeChannels).toBe(0);
  });

  it('memory-bus history ages by elapsed time, not by the wall clock', async () => {
    const bus = createMemoryBus({ historyMaxAge: 60_000 });
    const first = await bus.publish('room', 1);
    stepWallClock(step);
    vi.advanceTimersByTime(59_000);
    expect((await bus.read('room', 'earliest')).messages).toEqual([first]);
    vi.advanceTimersByTime(1_001);
    expect((await bus.read('room', 'earliest')).messages).toEqual([]);
    await bus.close();
  });
});
