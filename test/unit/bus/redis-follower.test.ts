/**
 * The Redis bus's live side against a scripted Redis (no sockets, fake
 * timers): a failed first read or (UN)SUBSCRIBE is retried with backoff, a
 * gap found while following is signalled, never skipped silently.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveGap, Message } from '../../../lib/bus/bus.js';
import type { RangeRequest } from '../../../lib/bus/redis-channel.js';
import { type PubSubClient, RedisFollower } from '../../../lib/bus/redis-follower.js';
import { channelKeys } from '../../../lib/bus/redis-ids.js';
import type { RangeReply } from '../../../lib/bus/redis-scripts.js';

const EPOCH = 'a1b2c3d4e5f6';

/** A Pub/Sub client whose calls fail `failures` times first. */
function pubSub(subscribeFailures = 0, unsubscribeFailures = 0) {
  const listeners = new Map<string, (payload: string) => void>();
  let sub = subscribeFailures;
  let unsub = unsubscribeFailures;
  const client: PubSubClient & { calls: string[] } = {
    isReady: true,
    calls: [],
    async subscribe(channel, listener) {
      client.calls.push(`SUBSCRIBE ${channel}`);
      if (sub-- > 0) throw new Error('BUSY Redis is busy running a script');
      listeners.set(channel, listener);
    },
    async unsubscribe(channel) {
      client.calls.push(`UNSUBSCRIBE ${channel}`);
      if (unsub-- > 0) throw new Error('LOADING Redis is loading the dataset in memory');
      listeners.delete(channel);
    },
  };
  return { client, listeners };
}

function reply(head: string, messages: Message[] = [], gap = false): RangeReply {
  return { epoch: EPOCH, head, gap, messages };
}

let follower: RedisFollower | undefined;
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  follower?.clear();
  follower = undefined;
  vi.useRealTimers();
});

function create(subscriber: PubSubClient, readRange: (r: RangeRequest) => Promise<RangeReply>) {
  follower = new RedisFollower({
    subscriber,
    keysOf: (channel) => channelKeys('t:', channel),
    readRange: (_channel, request) => readRange(request),
    batch: 100,
    retryDelay: (attempt) => 100 * attempt,
  });
  return follower;
}

describe('RedisFollower', () => {
  it('a first read refused with LOADING and a SUBSCRIBE refused with BUSY are retried, then messages flow', async () => {
    const { client, listeners } = pubSub(2);
    let headFailures = 3;
    const reads: RangeRequest[] = [];
    const f = create(client, async (request) => {
      reads.push(request);
      if (request.kind === 'now' && headFailures-- > 0) throw new Error('LOADING');
      return reply('5-0');
    });
    const got: Message[] = [];
    const gaps: LiveGap[] = [];
    f.add(
      'room',
      (m) => got.push(m),
      (g) => gaps.push(g),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(f.counters().failing).toBe(1);
    // Listeners are told at once, so held requests re-read rather than wait.
    expect(gaps).toEqual([{ kind: 'interrupted' }]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(f.counters()).toMatchObject({ failing: 0, channels: 1 });
    expect(f.subscriptionCount()).toBe(1);
    expect(client.calls.filter((c) => c.startsWith('SUBSCRIBE'))).toHaveLength(3);
    // Recovered: told again (what was published meanwhile is in history).
    expect(gaps).toEqual([{ kind: 'interrupted' }, { kind: 'interrupted' }]);
    listeners.get('t:{room}:notify')!(`${EPOCH}\n6-0\n5-0\n1\n"live"`);
    expect(got.map((m) => m.data)).toEqual(['live']);
  });

  it('an UNSUBSCRIBE that fails is retried until Redis confirms it', async () => {
    const { client, listeners } = pubSub(0, 2);
    const f = create(client, async () => reply('1-0'));
    const off = f.add('room', () => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(f.subscriptionCount()).toBe(1);
    off();
    await vi.advanceTimersByTimeAsync(0);
    expect(f.counters().leftovers).toBe(1);
    expect(f.subscriptionCount()).toBe(1); // Redis still holds it
    await vi.advanceTimersByTimeAsync(1_000);
    expect(client.calls.filter((c) => c.startsWith('UNSUBSCRIBE'))).toHaveLength(3);
    expect(f.counters().leftovers).toBe(0);
    expect(f.subscriptionCount()).toBe(0);
    expect(listeners.size).toBe(0);
  });

  it('a gap found while following is a `lost` signal with the head, then delivery goes on', async () => {
    const { client, listeners } = pubSub();
    let trimmed = false;
    const f = create(client, async (request) => {
      if (request.kind === 'now') return reply('1-0');
      if (!trimmed) {
        trimmed = true;
        return reply('9-0', [], true); // entries after 1-0 were trimmed
      }
      return reply('9-0');
    });
    const got: Message[] = [];
    const gaps: LiveGap[] = [];
    f.add(
      'room',
      (m) => got.push(m),
      (g) => gaps.push(g),
    );
    await vi.advanceTimersByTimeAsync(0);
    // A wake-up that does not follow on from 1-0: the follower reads, finds the gap.
    listeners.get('t:{room}:notify')!(`${EPOCH}\n9-0\n8-0\n1\n"x"`);
    await vi.advanceTimersByTimeAsync(0);
    expect(gaps).toEqual([{ kind: 'lost', cursor: `${EPOCH}-9-0` }]);
    expect(got).toEqual([]);
    listeners.get('t:{room}:notify')!(`${EPOCH}\n10-0\n9-0\n1\n"next"`);
    expect(got.map((m) => m.data)).toEqual(['next']);
  });
});
