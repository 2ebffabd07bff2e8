/**
 * lib/hub/hub.ts against a fake bus (no sockets, fake timers): one bus
 * subscription per channel, the linger, fan-out over a snapshot of the
 * members, live gaps forwarded, shutdown.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveGap } from '../../../lib/bus/bus.js';
import { Hub, type HubMember, type Round } from '../../../lib/hub/hub.js';
import { createTimerWheel, type TimerWheel } from '../../../lib/suspend/timer-wheel.js';
import { FakeBus } from '../../helpers/fake-bus.js';

/** A member that records what the hub told it; `onNotify` runs inside notify. */
class Recorder implements HubMember {
  readonly seen: string[] = [];
  readonly rounds: Round[] = [];
  readonly gaps: string[] = [];
  shutdowns = 0;
  onNotify: ((round: Round) => void) | undefined;
  constructor(readonly name: string) {}
  notify(round: Round): void {
    this.seen.push(round.message.id);
    this.rounds.push(round);
    this.onNotify?.(round);
  }
  shutdown(): void {
    this.shutdowns++;
  }
  gap(channel: string, gap: LiveGap): void {
    this.gaps.push(`${channel}:${gap.kind}${gap.kind === 'lost' ? `@${gap.cursor}` : ''}`);
  }
}

let wheel: TimerWheel;
let bus: FakeBus;

beforeEach(() => {
  vi.useFakeTimers();
  wheel = createTimerWheel();
  bus = new FakeBus('sync');
});
afterEach(() => {
  wheel.close();
  vi.useRealTimers();
});

describe('hub subscriptions', () => {
  it('subscribes the bus once per channel, whatever the number of members', () => {
    const hub = new Hub(bus, { timers: wheel, linger: 50 });
    const a = new Recorder('a');
    const b = new Recorder('b');
    hub.join('room', a);
    hub.join('room', b);
    hub.join('other', a);
    expect(bus.subscriptionLog).toEqual(['+room', '+other']);
    expect(hub.memberCount('room')).toBe(2);
    expect(hub.memberCount()).toBe(2); // a follows two channels and counts once
    expect(hub.activeChannels).toBe(2);
  });

  it('lingers after the last member leaves, then releases the subscription', () => {
    const hub = new Hub(bus, { timers: wheel, linger: 50 });
    const a = new Recorder('a');
    hub.join('room', a);
    hub.leave('room', a);
    expect(bus.subscriptions('room')).toBe(1);
    expect(hub.activeChannels).toBe(1);
    vi.advanceTimersByTime(49);
    expect(bus.subscriptions('room')).toBe(1);
    vi.advanceTimersByTime(2);
    expect(bus.subscriptions('room')).toBe(0);
    expect(hub.activeChannels).toBe(0);
    expect(bus.subscriptionLog).toEqual(['+room', '-room']);
    expect(wheel.size).toBe(0);
  });

  it('a member coming back during the linger keeps the same subscription', () => {
    const hub = new Hub(bus, { timers: wheel, linger: 50 });
    const a = new Recorder('a');
    hub.join('room', a);
    hub.leave('room', a);
    vi.advanceTimersByTime(40);
    hub.join('room', a);
    expect(wheel.size).toBe(0); // the linger timer is gone
    vi.advanceTimersByTime(1_000);
    expect(bus.subscriptionLog).toEqual(['+room']);
    bus.add('room', 1);
    expect(a.seen).toEqual(['f-1']);
    // Leaving again starts a fresh linger.
    hub.leave('room', a);
    vi.advanceTimersByTime(50);
    expect(bus.subscriptionLog).toEqual(['+room', '-room']);
  });

  it('releases at once with linger 0, and leaving twice or unknown channels is harmless', () => {
    const hub = new Hub(bus, { timers: wheel, linger: 0 });
    const a = new Recorder('a');
    const b = new Recorder('b');
    hub.join('room', a);
    hub.join('room', b);
    hub.leave('room', a);
    expect(bus.subscriptions('room')).toBe(1);
    hub.leave('room', a);
    hub.leave('nowhere', a);
    hub.leave('room', b);
    expect(bus.subscriptionLog).toEqual(['+room', '-room']);
    expect(wheel.size).toBe(0);
  });

  it('a released channel subscribes afresh on the next join', () => {
    const hub = new Hub(bus, { timers: wheel, linger: 10 });
    const a = new Recorder('a');
    hub.join('room', a);
    hub.leave('room', a);
    vi.advanceTimersByTime(10);
    hub.join('room', a);
    bus.add('room', 1);
    expect(a.seen).toEqual(['f-1']);
    expect(bus.subscriptionLog).toEqual(['+room', '-room', '+room']);
  });
});

describe('hub fan-out', () => {
  it('hands every member the same round for one message', () => {
    const hub = new Hub(bus, { timers: wheel });
    const a = new Recorder('a');
    const b = new Recorder('b');
    hub.join('room', a);
    hub.join('room', b);
    a.onNotify = (round) => round.set('bytes', 'encoded once');
    const m = bus.add('room', { text: 'hi' });
    expect(a.seen).toEqual([m.id]);
    expect(b.seen).toEqual([m.id]);
    expect(b.rounds[0]).toBe(a.rounds[0]);
    expect(b.rounds[0]?.get('bytes')).toBe('encoded once');
    expect(b.rounds[0]?.get('other')).toBeUndefined();
    // The next message is a new round.
    bus.add('room', 2);
    expect(a.rounds[1]).not.toBe(a.rounds[0]);
  });

  it('a round keeps each key apart, the first one included', () => {
    const hub = new Hub(bus, { timers: wheel });
    const a = new Recorder('a');
    hub.join('room', a);
    bus.add('room', 1);
    const round = a.rounds[0] as Round;
    expect(round.get('sse')).toBeUndefined();
    round.set('sse', 'first');
    round.set('ndjson', 'second');
    round.set('iframe', 'third');
    round.set('sse', 'first again');
    round.set('ndjson', 'second again');
    // An equal string built apart is the same key.
    expect(round.get(['s', 's', 'e'].join(''))).toBe('first again');
    expect(round.get('ndjson')).toBe('second again');
    expect(round.get('iframe')).toBe('third');
    expect(round.get('websocket')).toBeUndefined();
  });

  it('members leaving during notify: everyone present when the message came is told once', () => {
    const hub = new Hub(bus, { timers: wheel, linger: 0 });
    const members = ['a', 'b', 'c', 'd'].map((n) => new Recorder(n));
    for (const m of members) hub.join('room', m);
    const [a, b, c, d] = members as [Recorder, Recorder, Recorder, Recorder];
    // a answers and leaves, and takes c with it (a waiter completing); b leaves itself.
    a.onNotify = () => {
      hub.leave('room', a);
      hub.leave('room', c);
    };
    b.onNotify = () => hub.leave('room', b);
    const m = bus.add('room', 1);
    for (const member of members) expect(member.seen).toEqual([m.id]);
    expect(hub.memberCount('room')).toBe(1);
    // The next message reaches only who is left.
    bus.add('room', 2);
    expect(d.seen).toEqual(['f-1', 'f-2']);
    expect(a.seen).toEqual(['f-1']);
    expect(c.seen).toEqual(['f-1']);
  });

  it('a member joining during notify waits for the next message', () => {
    const hub = new Hub(bus, { timers: wheel });
    const a = new Recorder('a');
    const late = new Recorder('late');
    hub.join('room', a);
    a.onNotify = () => hub.join('room', late);
    bus.add('room', 1);
    expect(late.seen).toEqual([]);
    a.onNotify = undefined;
    bus.add('room', 2);
    expect(late.seen).toEqual(['f-2']);
  });

  it('a member that throws does not keep the others from the message', () => {
    const hub = new Hub(bus, { timers: wheel });
    const a = new Recorder('a');
    const b = new Recorder('b');
    hub.join('room', a);
    hub.join('room', b);
    a.onNotify = () => {
      throw new Error('boom');
    };
    bus.add('room', 1);
    expect(b.seen).toEqual(['f-1']);
  });

  it('a lingering channel delivers to nobody and keeps no members', () => {
    const hub = new Hub(bus, { timers: wheel, linger: 100 });
    const a = new Recorder('a');
    hub.join('room', a);
    hub.leave('room', a);
    bus.add('room', 1);
    expect(a.seen).toEqual([]);
  });
});

describe('hub live gaps', () => {
  it('forwards a live gap to each member of the channel, with its channel', () => {
    const hub = new Hub(bus, { timers: wheel });
    const a = new Recorder('a');
    const b = new Recorder('b');
    const silent: HubMember = { notify() {}, shutdown() {} }; // no gap handler
    hub.join('room', a);
    hub.join('room', silent);
    hub.join('room', b);
    hub.join('other', b);
    bus.liveGap('room', { kind: 'lost', cursor: 'f-7' });
    bus.liveGap('other', { kind: 'interrupted' });
    expect(a.gaps).toEqual(['room:lost@f-7']);
    expect(b.gaps).toEqual(['room:lost@f-7', 'other:interrupted']);
  });

  it('a member throwing on a gap does not keep it from the others', () => {
    const hub = new Hub(bus, { timers: wheel });
    const thrower: HubMember = {
      notify() {},
      shutdown() {},
      gap() {
        throw new Error('boom');
      },
    };
    const b = new Recorder('b');
    hub.join('room', thrower);
    hub.join('room', b);
    bus.liveGap('room', { kind: 'interrupted' });
    expect(b.gaps).toEqual(['room:interrupted']);
  });
});

describe('hub shutdown', () => {
  it('tells each distinct member once, counts the drains, releases what lingers', () => {
    const hub = new Hub(bus, { timers: wheel, linger: 10_000 });
    const a = new Recorder('a');
    const b = new Recorder('b');
    const gone = new Recorder('gone');
    hub.join('room', a);
    hub.join('other', a);
    hub.join('other', b);
    hub.join('idle', gone);
    hub.leave('idle', gone); // lingering
    // Members answer and leave when told (as waiters do).
    a.shutdown = () => {
      a.shutdowns++;
      hub.leave('room', a);
      hub.leave('other', a);
    };
    b.shutdown = () => {
      b.shutdowns++;
      hub.leave('other', b);
    };
    hub.shutdown();
    expect(hub.closing).toBe(true);
    expect([a.shutdowns, b.shutdowns, gone.shutdowns]).toEqual([1, 1, 0]);
    expect(hub.meters.shutdownDrains).toBe(2);
    expect(hub.activeChannels).toBe(0);
    expect(bus.subscriptions('room') + bus.subscriptions('other') + bus.subscriptions('idle')).toBe(
      0,
    );
    expect(wheel.size).toBe(0);
  });

  it('once closing, a last member leaving releases at once (no linger)', () => {
    const hub = new Hub(bus, { timers: wheel, linger: 10_000 });
    const stays = new Recorder('stays'); // ignores shutdown
    hub.join('room', stays);
    hub.shutdown();
    expect(hub.activeChannels).toBe(1);
    hub.leave('room', stays);
    expect(hub.activeChannels).toBe(0);
    expect(bus.subscriptionLog).toEqual(['+room', '-room']);
    expect(wheel.size).toBe(0);
  });
});

describe('the hub as the one door to the bus', () => {
  it('reads synchronously through its reader on a bus with readSync', () => {
    const hub = new Hub(bus, { timers: wheel });
    const first = bus.add('a', 1);
    bus.add('a', 2);
    expect(hub.reader.sync).toBe(true);
    if (!hub.reader.sync) return;
    const read = hub.reader.now({ channels: ['a'], positions: [first.id] }, 10);
    expect(read.messages.map((m) => m.data)).toEqual([2]);
    expect(read.positions).toEqual([bus.head('a')]);
    // One channel as the bus answers it: the object the shared encoding keys on.
    const one = hub.reader.channelNow('a', first.id, 10);
    expect(one.messages.map((m) => m.data)).toEqual([2]);
    expect(hub.encodeSharedBatch(one)).toBe(hub.encodeSharedBatch(one));
  });

  it('reads by promise on a remote bus, and only when the bus answers', async () => {
    const remote = new FakeBus('async');
    const hub = new Hub(remote, { timers: wheel });
    remote.add('a', 'x');
    expect(hub.reader.sync).toBe(false);
    if (hub.reader.sync) return;
    let settled = false;
    const pending = hub.reader.later({ channels: ['a'], positions: ['earliest'] }, 10).then((r) => {
      settled = true;
      return r;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    expect(remote.pending).toHaveLength(1);
    remote.resolveAll();
    const read = await pending;
    expect(read.messages.map((m) => m.data)).toEqual(['x']);
  });

  it('checks a cursor against the bus id shape', () => {
    const hub = new Hub(bus, { timers: wheel });
    const m = bus.add('a', 1);
    expect(hub.parseCursor(m.id, ['a'])).toEqual([m.id]);
    expect(hub.parseCursor(undefined, ['a', 'b'])).toEqual([undefined, undefined]);
    expect(() => hub.parseCursor('not-an-id-of-ours!', ['a'])).toThrow(
      expect.objectContaining({ code: 'COMET_ERR_CURSOR_MALFORMED' }),
    );
    expect(hub.compareIds(m.id, m.id)).toBe(0);
  });

  it('encodes a message once and a batch as the wire envelope', () => {
    const hub = new Hub(bus, { timers: wheel });
    const m = bus.add('a', { text: 'hi' });
    expect(JSON.parse(hub.encodeMessage(m))).toEqual({
      id: m.id,
      channel: 'a',
      data: { text: 'hi' },
    });
    expect(hub.encodeMessage(m)).toBe(hub.encodeMessage(m));
    const batch = JSON.parse(hub.encodeBatch({ messages: [m], cursor: m.id, gap: false }));
    expect(batch).toEqual({
      messages: [{ id: m.id, channel: 'a', data: { text: 'hi' } }],
      cursor: m.id,
      gap: false,
    });
  });
});
