/**
 * lib/longpoll/waiter.ts against fake buses (no sockets, fake timers,
 * reads answered by hand): parking and waking, the read repeated when a
 * message lands mid-read, shutdown during the first read of a "from now"
 * request, timeouts, read failures, and answerAtOnce.
 */
import { describe, expect, it, vi } from 'vitest';
import { CometError } from '../../../lib/base/errors.js';
import { Hub } from '../../../lib/hub/hub.js';
import {
  answerAtOnce,
  createLongPollRoute,
  holdLongPoll,
  type LongPollRouteOptions,
} from '../../../lib/longpoll/waiter.js';
import type { TimerWheel } from '../../../lib/suspend/timer-wheel.js';
import { jsonpTransport } from '../../../lib/wire/jsonp.js';
import { longPollTransport } from '../../../lib/wire/long-poll.js';
import { FakeBus } from '../../helpers/fake-bus.js';
import { type FakeResponse, fakeExchange } from '../../helpers/fake-http.js';
import { withFakeWheel } from '../../helpers/fake-wheel.js';

interface Batch {
  messages: { id: string; channel: string; data: unknown }[];
  cursor: string;
  gap: boolean;
}

let wheel: TimerWheel;
let bus: FakeBus;
let hub: Hub;
let route: LongPollRouteOptions;

function setUp(mode: 'sync' | 'async'): void {
  bus = new FakeBus(mode);
  hub = new Hub(bus, { timers: wheel, linger: 0 });
  route = createLongPollRoute({ hub, timers: wheel, maxBatch: 10 });
}

function hold(
  positions: (string | undefined)[],
  timeoutMs = 1_000,
  channels = ['room'],
): { fake: FakeResponse; waiter: ReturnType<typeof holdLongPoll> } {
  const { req, res, fake } = fakeExchange();
  const waiter = holdLongPoll(req, res, route, {
    channels,
    positions,
    timeoutMs,
    transport: longPollTransport,
    variant: '',
  });
  return { fake, waiter };
}

const batchOf = (fake: FakeResponse) => fake.json() as Batch;
const ids = (fake: FakeResponse) => batchOf(fake).messages.map((m) => m.id);

/** Lets pending promise callbacks (the waiter's `.then` chain on a read) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

withFakeWheel((w) => {
  wheel = w;
});

describe('long-poll waiter on a synchronous bus', () => {
  it('answers at once when messages follow the cursor, and leaves the hub', () => {
    setUp('sync');
    bus.add('room', 'a');
    bus.add('room', 'b');
    const { fake, waiter } = hold(['f-1']);
    expect(waiter.state).toBe('completed');
    expect(fake.statusCode).toBe(200);
    expect(batchOf(fake)).toEqual({
      messages: [{ id: 'f-2', channel: 'room', data: 'b' }],
      cursor: 'f-2',
      gap: false,
    });
    expect(hub.memberCount()).toBe(0);
    expect(wheel.size).toBe(0);
    expect(route.meters['long-poll']).toMatchObject({ open: 0, opened: 1, responses: 1 });
  });

  it('parks with nothing to send and is woken by the next message', () => {
    setUp('sync');
    bus.add('room', 'old');
    const { fake, waiter } = hold([undefined]);
    expect(waiter.state).toBe('suspended');
    expect(fake.body).toBeUndefined();
    expect(hub.memberCount('room')).toBe(1);
    bus.add('room', 'new');
    expect(ids(fake)).toEqual(['f-2']);
    expect(batchOf(fake).cursor).toBe('f-2');
    expect(waiter.state).toBe('completed');
    expect(hub.memberCount()).toBe(0);
    expect(wheel.size).toBe(0);
  });

  it('times out with an empty answer at the head it parked on', () => {
    setUp('sync');
    bus.add('room', 'old');
    const { fake, waiter } = hold([undefined], 1_000);
    vi.advanceTimersByTime(999);
    expect(fake.body).toBeUndefined();
    vi.advanceTimersByTime(2);
    expect(batchOf(fake)).toEqual({ messages: [], cursor: 'f-1', gap: false });
    expect(waiter.state).toBe('completed');
    expect(hub.memberCount()).toBe(0);
    expect(wheel.size).toBe(0);
  });

  it('timeout 0 answers empty at once (a plain poll)', () => {
    setUp('sync');
    bus.add('room', 'old');
    const { fake, waiter } = hold(['f-1'], 0);
    expect(batchOf(fake)).toEqual({ messages: [], cursor: 'f-1', gap: false });
    expect(waiter.state).toBe('completed');
  });

  it('a cursor from another epoch answers a gap with the head', () => {
    setUp('sync');
    bus.add('room', 'a');
    const { fake } = hold(['x-9']);
    expect(batchOf(fake)).toEqual({ messages: [], cursor: 'f-1', gap: true });
    expect(hub.meters.gaps).toBe(1);
  });

  it('waiters woken by one message at one position share one read and one body', () => {
    setUp('sync');
    const first = hold([undefined]);
    const second = hold([undefined]);
    const other = hold([undefined], 1_000, ['elsewhere']);
    const readsBefore = bus.reads.length;
    bus.add('room', 'hello');
    expect(bus.reads.length - readsBefore).toBe(1);
    expect(first.fake.body).toBe(second.fake.body);
    expect(ids(first.fake)).toEqual(['f-1']);
    expect(other.fake.body).toBeUndefined();
  });

  it('a client leaving releases the waiter: no write, no member, no timer', () => {
    setUp('sync');
    const { fake, waiter } = hold([undefined]);
    fake.disconnect();
    expect(waiter.state).toBe('completed');
    expect(fake.body).toBeUndefined();
    expect(hub.memberCount()).toBe(0);
    expect(wheel.size).toBe(0);
    expect(route.meters['long-poll'].open).toBe(0);
    bus.add('room', 'late');
    expect(fake.body).toBeUndefined();
  });

  it('shutdown answers a parked waiter with its cursor', () => {
    setUp('sync');
    bus.add('room', 'a');
    const { fake, waiter } = hold(['f-1']);
    hub.shutdown();
    expect(batchOf(fake)).toEqual({ messages: [], cursor: 'f-1', gap: false });
    expect(waiter.state).toBe('completed');
    expect(hub.meters.shutdownDrains).toBe(1);
  });

  it('a live gap while parked reads again from the cursor', () => {
    setUp('sync');
    const { fake } = hold([undefined]);
    // A message whose live delivery was lost: stored, never announced.
    bus.add('room', 'x', true);
    expect(fake.body).toBeUndefined();
    bus.liveGap('room', { kind: 'interrupted' });
    expect(ids(fake)).toEqual(['f-1']);
  });

  it('follows several channels with one combined cursor', () => {
    setUp('sync');
    const { fake } = hold([undefined, undefined], 1_000, ['a', 'b']);
    bus.add('b', 'on b');
    const batch = batchOf(fake);
    expect(batch.messages.map((m) => m.channel)).toEqual(['b']);
    expect(batch.cursor.startsWith('c.')).toBe(true);
  });
});

describe('long-poll waiter on an asynchronous bus', () => {
  it('a message arriving during a wake-up read that finds nothing is not missed', async () => {
    setUp('async');
    const old = bus.add('room', 'a');
    const { fake, waiter } = hold(['f-1'], 10_000);
    bus.resolveAll();
    await settle();
    expect(waiter.state).toBe('suspended');
    bus.redeliver(old); // a lagging wake-up for a message already passed
    expect(bus.pending).toHaveLength(1);
    bus.add('room', 'b'); // announced while the wake-up read is in flight
    bus.resolveAll();
    await settle();
    bus.resolveAll();
    await settle();
    expect(ids(fake)).toEqual(['f-2']);
  });

  it('a message arriving while the read is in flight repeats the read', async () => {
    setUp('async');
    bus.add('room', 'old');
    const { fake, waiter } = hold(['f-1']);
    expect(bus.pending).toHaveLength(1);
    // Published after the backend took the read: the read answers nothing.
    bus.add('room', 'mid-read');
    bus.resolveAll();
    await settle();
    // Without the repeat the waiter would park past a message no wake-up will announce.
    expect(fake.body).toBeUndefined();
    expect(bus.pending).toHaveLength(1);
    expect(bus.pending[0]?.after).toBe('f-1');
    bus.resolveAll();
    await settle();
    expect(ids(fake)).toEqual(['f-2']);
    expect(waiter.state).toBe('completed');
  });

  it('parks after an empty read and wakes with one shared read per message', async () => {
    setUp('async');
    const a = hold(['f-0']);
    const b = hold(['f-0']);
    bus.resolveAll();
    await settle();
    expect(a.waiter.state).toBe('suspended');
    bus.add('room', 'hi');
    expect(bus.pending).toHaveLength(1); // one read for both
    bus.resolveAll();
    await settle();
    expect(ids(a.fake)).toEqual(['f-1']);
    expect(b.fake.body).toBe(a.fake.body);
  });

  it('shutdown during the first read of a "from now" request answers with the head when it lands', async () => {
    setUp('async');
    bus.add('room', 'a');
    bus.add('room', 'b');
    const { fake, waiter } = hold([undefined]);
    expect(bus.pending).toHaveLength(1);
    hub.shutdown();
    // No cursor yet: answering now would hand back "" and lose what follows.
    expect(fake.body).toBeUndefined();
    expect(waiter.state).toBe('suspended');
    bus.resolveAll();
    await settle();
    expect(batchOf(fake)).toEqual({ messages: [], cursor: 'f-2', gap: false });
    expect(fake.getHeader('connection')).toBe('close');
    expect(waiter.state).toBe('completed');
    expect(hub.memberCount()).toBe(0);
  });

  it('shutdown during the first read of a request with a cursor answers at once with it', () => {
    setUp('async');
    bus.add('room', 'a');
    const { fake, waiter } = hold(['f-1']);
    hub.shutdown();
    expect(batchOf(fake)).toEqual({ messages: [], cursor: 'f-1', gap: false });
    expect(waiter.state).toBe('completed');
    bus.resolveAll(); // the late read changes nothing
  });

  it('"from now": the hold starts once the head is known', async () => {
    setUp('async');
    bus.add('room', 'a');
    const { fake } = hold([undefined], 1_000);
    vi.advanceTimersByTime(600); // the head read is slow
    expect(fake.body).toBeUndefined();
    bus.resolveAll();
    await settle();
    expect(fake.body).toBeUndefined(); // 400 ms of hold left, not an empty cursor
    vi.advanceTimersByTime(399);
    expect(fake.body).toBeUndefined();
    vi.advanceTimersByTime(2);
    expect(batchOf(fake)).toEqual({ messages: [], cursor: 'f-1', gap: false });
  });

  it('"from now": a head read slower than the hold answers at once with the head', async () => {
    setUp('async');
    bus.add('room', 'a');
    const { fake } = hold([undefined], 1_000);
    vi.advanceTimersByTime(5_000);
    expect(fake.body).toBeUndefined(); // no timer ran before the head was known
    bus.resolveAll();
    await settle();
    expect(batchOf(fake)).toEqual({ messages: [], cursor: 'f-1', gap: false });
  });

  it('a coded read failure is its 4xx; anything else is a 503 COMET_ERR_BUS_UNAVAILABLE', async () => {
    setUp('async');
    const coded = hold(['f-0']);
    bus.pending[0]?.reject(new CometError('COMET_ERR_CURSOR_MALFORMED'));
    await settle();
    expect(coded.fake.statusCode).toBe(400);
    expect(coded.fake.json()).toMatchObject({ error: { code: 'COMET_ERR_CURSOR_MALFORMED' } });
    expect(coded.waiter.state).toBe('completed');

    const broken = hold(['f-0']);
    bus.pending[0]?.reject(new Error('connection reset'));
    await settle();
    expect(broken.fake.statusCode).toBe(503);
    expect(broken.fake.json()).toMatchObject({ error: { code: 'COMET_ERR_BUS_UNAVAILABLE' } });
    expect(hub.meters.errors.get('COMET_ERR_BUS_UNAVAILABLE')).toBe(1);
    expect(hub.memberCount()).toBe(0);
    expect(wheel.size).toBe(0);
  });

  it('a client leaving mid-read: the late read writes nothing', async () => {
    setUp('async');
    bus.add('room', 'a');
    const { fake, waiter } = hold(['f-0']);
    fake.disconnect();
    expect(waiter.state).toBe('completed');
    bus.resolveAll();
    await settle();
    expect(fake.body).toBeUndefined();
  });
});

describe('answerAtOnce', () => {
  it('writes a batch when messages already follow the cursor (one channel)', () => {
    setUp('sync');
    bus.add('room', 'a');
    const { res, fake } = fakeExchange();
    expect(answerAtOnce(res, route, ['room'], 'f-0', longPollTransport, '')).toBe(true);
    expect(ids(fake)).toEqual(['f-1']);
    expect(fake.getHeader('content-length')).toBe(String(Buffer.byteLength(fake.body ?? '')));
    expect(route.meters['long-poll']).toMatchObject({ responses: 1, deliveries: 1 });
    expect(hub.memberCount()).toBe(0);
  });

  it('writes nothing and returns false when the request has to wait', () => {
    setUp('sync');
    bus.add('room', 'a');
    for (const cursor of [undefined, '', 'f-1']) {
      const { res, fake } = fakeExchange();
      expect(answerAtOnce(res, route, ['room'], cursor, longPollTransport, '')).toBe(false);
      expect(fake.headersSent).toBe(false);
    }
  });

  it('answers a gap, several channels, and JSONP', () => {
    setUp('sync');
    bus.add('a', 1);
    bus.add('b', 2);
    const gap = fakeExchange();
    expect(answerAtOnce(gap.res, route, ['a'], 'x-1', longPollTransport, '')).toBe(true);
    expect(batchOf(gap.fake)).toMatchObject({ messages: [], gap: true, cursor: 'f-1' });
    const two = fakeExchange();
    expect(answerAtOnce(two.res, route, ['a', 'b'], 'earliest', longPollTransport, '')).toBe(true);
    expect(ids(two.fake)).toEqual(['f-1', 'f-2']);
    const jsonp = fakeExchange();
    expect(answerAtOnce(jsonp.res, route, ['a'], 'f-0', jsonpTransport, 'cb')).toBe(true);
    expect(jsonp.fake.body?.includes('cb(')).toBe(true);
  });

  it('refuses a malformed cursor with COMET_ERR_CURSOR_MALFORMED', () => {
    setUp('sync');
    const { res } = fakeExchange();
    expect(() => answerAtOnce(res, route, ['a', 'b'], 'nonsense', longPollTransport, '')).toThrow(
      expect.objectContaining({ code: 'COMET_ERR_CURSOR_MALFORMED' }),
    );
  });

  it('returns false on an asynchronous bus (the waiter reads instead)', () => {
    setUp('async');
    bus.add('room', 'a');
    const { res, fake } = fakeExchange();
    expect(answerAtOnce(res, route, ['room'], 'f-0', longPollTransport, '')).toBe(false);
    expect(answerAtOnce(res, route, ['room', 'b'], 'earliest', longPollTransport, '')).toBe(false);
    expect(fake.headersSent).toBe(false);
    expect(bus.reads).toEqual([]);
  });
});
