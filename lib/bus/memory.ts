/**
 * The in-memory bus: the embedded, zero-set-up default for one process.
 *
 * Ids look like `<epoch>-<seq>`, with `seq` counting from 1 per channel and the
 * epoch drawn at random per bus instance, so a cursor from before a restart
 * yields `gap: true` instead of silently naming different messages. The format
 * is NOT part of the API: clients must treat ids as opaque strings.
 */
import { randomBytes } from 'node:crypto';
import { debuglog } from 'node:util';
import { CometError } from '../errors.js';
import type { Bus, Message, MessageListener, ReadFrom, ReadResult } from './bus.js';
import { EARLIEST } from './bus.js';
import { checkIdempotencyKey, IdempotencyMemo } from './idempotency.js';

const debug = debuglog('comet:bus');

/** An id of this bus's shape; canonical digits so one seq has exactly one id. */
const ID_SHAPE = /^([0-9a-z]{1,16})-(0|[1-9]\d{0,14})$/;
const EPOCH_SHAPE = /^[0-9a-z]{1,16}$/;

/** Options of {@link createMemoryBus}. */
export interface MemoryBusOptions {
  /** Messages kept per channel (default 1000; 0 keeps none). */
  readonly historyLimit?: number;
  /** Age in ms past which messages are dropped (default 300 000; 0 = no age bound). */
  readonly historyMaxAge?: number;
  /** The clock, ms since the Unix epoch (default `Date.now`); inject one in tests. */
  readonly now?: () => number;
  /** Prefix of every id (1–16 chars of `[0-9a-z]`; default: 8 random chars). */
  readonly epoch?: string;
  /** `limit` of {@link Bus.read} when none is given (default 100). */
  readonly defaultReadLimit?: number;
  /** Longest accepted channel name, in UTF-16 code units (default 256). */
  readonly maxChannelLength?: number;
}

/** A {@link Bus} living in this process's memory, with introspection for tests and metrics. */
export interface MemoryBus extends Bus {
  /** Live listeners on `channel`, or on every channel when none is given. */
  subscriberCount(channel?: string): number;
}

interface Subscription {
  readonly listener: MessageListener;
  /** Publish counter at subscription: publishes numbered at or below it are not delivered. */
  readonly stamp: number;
}

interface ChannelState {
  /** Seq of the last message ever published; never goes down. */
  seq: number;
  /** Retained messages are `items[start..]`, oldest first, consecutive seqs. */
  items: Message[];
  start: number;
  readonly subs: Set<Subscription>;
  /**
   * Recent non-empty reads by position and limit, valid while `seq` and the
   * retained count stay what they were (see `cachedRead`): pollers coming back
   * together ask the same question, and get the same answer object.
   */
  reads: Map<string, ReadResult> | undefined;
  readsSeq: number;
  readsRetained: number;
}

interface Pending {
  readonly state: ChannelState;
  readonly message: Message;
  readonly stamp: number;
}

function positiveInt(value: number | undefined, fallback: number, name: string, min = 1): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new CometError('COMET_ERR_OPTIONS_INVALID', `${name} must be an integer >= ${min}`);
  }
  return n;
}

function randomEpoch(): string {
  // 5 random bytes are 2^40 values: 8 base36 characters, collisions negligible.
  return randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0');
}

function retained(state: ChannelState): number {
  return state.items.length - state.start;
}

function notify(state: ChannelState, message: Message, stamp: number): void {
  for (const sub of state.subs) {
    // Listeners that joined during (or after) this publish miss it by design:
    // they read history from the cursor they got instead.
    if (sub.stamp >= stamp) continue;
    try {
      sub.listener(message);
    } catch (err) {
      // One broken listener must not starve the others or fail the publisher.
      debug('listener on %s threw: %O', message.channel, err);
      process.emitWarning(`A bus listener on channel ${message.channel} threw: ${String(err)}`, {
        type: 'CometWarning',
        code: 'COMET_WARN_BUS_LISTENER_THREW',
      });
    }
  }
}

/**
 * Creates an in-memory {@link Bus}.
 *
 * History is bounded per channel by count and age; age eviction is lazy (on
 * publish and read, by the injected clock). Listeners run synchronously inside
 * `publish`, in subscription order; a publish made from a listener is delivered
 * after the current one finishes, so every listener sees messages in order.
 *
 * Channels are non-empty strings of at most `maxChannelLength` code units,
 * else `publish`, `read` and `subscribe` throw `COMET_ERR_CHANNEL_INVALID`; after
 * `close()` they throw `COMET_ERR_BUS_CLOSED` (unsubscribing stays a no-op). A
 * channel that ever had a message keeps a small record (its seq) until close,
 * so ids never go backwards.
 *
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for an out-of-range option.
 * @example
 * ```ts
 * const bus = createMemoryBus({ historyLimit: 500 });
 * const { cursor } = await bus.read('room:lobby');     // the head: "from now"
 * await bus.publish('room:lobby', { text: 'hi' });
 * const { messages } = await bus.read('room:lobby', cursor); // [the 'hi' message]
 * ```
 */
export function createMemoryBus(options: MemoryBusOptions = {}): MemoryBus {
  const historyLimit = positiveInt(options.historyLimit, 1000, 'historyLimit', 0);
  const maxAge = positiveInt(options.historyMaxAge, 300_000, 'historyMaxAge', 0);
  const defaultReadLimit = positiveInt(options.defaultReadLimit, 100, 'defaultReadLimit');
  const maxChannelLength = positiveInt(options.maxChannelLength, 256, 'maxChannelLength');
  const now = options.now ?? Date.now;
  const epoch = options.epoch ?? randomEpoch();
  if (!EPOCH_SHAPE.test(epoch)) {
    throw new CometError('COMET_ERR_OPTIONS_INVALID', 'epoch must be 1-16 chars of [0-9a-z]');
  }

  const channels = new Map<string, ChannelState>();
  const queue: Pending[] = [];
  let publishCount = 0;
  let totalSubs = 0;
  let delivering = false;
  let closed = false;

  function check(channel: string): void {
    if (closed) throw new CometError('COMET_ERR_BUS_CLOSED');
    if (typeof channel !== 'string' || channel.length === 0 || channel.length > maxChannelLength) {
      throw new CometError('COMET_ERR_CHANNEL_INVALID');
    }
  }

  function evict(state: ChannelState, time: number): void {
    const { items } = state;
    let start = Math.max(state.start, items.length - historyLimit);
    if (maxAge > 0) {
      while (start < items.length && time - items[start]!.time > maxAge) start++;
    }
    if (start === items.length) {
      items.length = 0;
      state.start = 0;
    } else if (start * 2 >= items.length) {
      // Compacting only once half the array is dead keeps publish O(1) amortised.
      items.splice(0, start);
      state.start = 0;
    } else {
      state.start = start;
    }
  }

  function deliver(state: ChannelState, message: Message, stamp: number): void {
    if (delivering) {
      queue.push({ state, message, stamp });
      return;
    }
    delivering = true;
    try {
      notify(state, message, stamp);
      for (let i = 0; i < queue.length; i++) {
        const next = queue[i]!;
        notify(next.state, next.message, next.stamp);
      }
    } finally {
      queue.length = 0;
      delivering = false;
    }
  }

  function readAfter(state: ChannelState | undefined, after: ReadFrom, limit: number): ReadResult {
    const seq = state?.seq ?? 0;
    const head = `${epoch}-${seq}`;
    const size = state ? retained(state) : 0;
    const oldest = seq - size + 1;
    let from: number;
    if (after === undefined) return { messages: [], cursor: head, gap: false };
    if (after === EARLIEST) {
      from = oldest;
    } else {
      const match = typeof after === 'string' ? ID_SHAPE.exec(after) : null;
      if (!match) throw new CometError('COMET_ERR_CURSOR_MALFORMED');
      const at = Number(match[2]);
      const lost = size > 0 ? at < oldest - 1 : at < seq;
      if (match[1] !== epoch || at > seq || lost) return { messages: [], cursor: head, gap: true };
      from = at + 1;
    }
    if (!state || from > seq) {
      return { messages: [], cursor: after === EARLIEST ? head : after, gap: false };
    }
    const begin = state.start + (from - oldest);
    const messages = state.items.slice(begin, begin + limit);
    return { messages, cursor: messages[messages.length - 1]!.id, gap: false };
  }

  function dropIfIdle(channel: string, state: ChannelState): void {
    // A channel that ever had a message keeps its seq so ids never go backwards.
    if (state.seq === 0 && state.subs.size === 0 && channels.get(channel) === state) {
      channels.delete(channel);
    }
  }

  function stateOf(channel: string): ChannelState {
    let state = channels.get(channel);
    if (!state) {
      state = {
        seq: 0,
        items: [],
        start: 0,
        subs: new Set(),
        reads: undefined,
        readsSeq: 0,
        readsRetained: 0,
      };
      channels.set(channel, state);
    }
    return state;
  }

  function readSync(channel: string, after?: string, limit = defaultReadLimit): ReadResult {
    check(channel);
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new CometError('COMET_ERR_OPTIONS_INVALID', 'limit must be an integer >= 1');
    }
    const state = channels.get(channel);
    if (state) evict(state, now());
    if (state === undefined || after === undefined) return readAfter(state, after, limit);
    return cachedRead(state, after, limit);
  }

  /** {@link readAfter} through the channel's read cache (a few dozen entries at most). */
  function cachedRead(state: ChannelState, after: string, limit: number): ReadResult {
    // A publish moves seq, an eviction shrinks what is retained: either
    // may change an answer, so the cache starts over.
    const size = retained(state);
    if (
      state.reads !== undefined &&
      (state.readsSeq !== state.seq || state.readsRetained !== size)
    ) {
      state.reads = undefined;
    }
    state.readsSeq = state.seq;
    state.readsRetained = size;
    const key = limit === defaultReadLimit ? after : `${limit} ${after}`;
    let result = state.reads?.get(key);
    if (result === undefined) {
      result = readAfter(state, after, limit);
      if (result.messages.length > 0 || result.gap) {
        if (state.reads === undefined || state.reads.size >= 64) state.reads = new Map();
        state.reads.set(key, result);
      }
    }
    return result;
  }

  // Idempotency keys, for 10 minutes (at most 10,000 of them).
  const idempotency = new IdempotencyMemo(600_000);

  return {
    async publish(channel, data, options) {
      check(channel);
      const key = options?.idempotencyKey;
      checkIdempotencyKey(key);
      const seen = key === undefined ? undefined : idempotency.lookup(channel, key);
      if (seen !== undefined) return seen;
      const state = stateOf(channel);
      const time = now();
      state.seq += 1;
      const message: Message = { id: `${epoch}-${state.seq}`, channel, data, time };
      state.items.push(message);
      evict(state, time);
      publishCount += 1;
      deliver(state, message, publishCount);
      if (key !== undefined) idempotency.remember(key, message);
      return message;
    },

    async read(channel, after, limit = defaultReadLimit) {
      return readSync(channel, after, limit);
    },

    readSync,

    compareIds(a, b) {
      const ma = ID_SHAPE.exec(a);
      const mb = ID_SHAPE.exec(b);
      if (!ma || !mb || ma[1] !== mb[1]) return undefined;
      return Number(ma[2]) - Number(mb[2]);
    },

    subscribe(channel, listener) {
      check(channel);
      const state = stateOf(channel);
      const sub: Subscription = { listener, stamp: publishCount };
      state.subs.add(sub);
      totalSubs += 1;
      let active = true;
      return () => {
        if (!active || closed) return;
        active = false;
        state.subs.delete(sub);
        totalSubs -= 1;
        dropIfIdle(channel, state);
      };
    },

    subscriberCount(channel) {
      if (channel === undefined) return totalSubs;
      return channels.get(channel)?.subs.size ?? 0;
    },

    async close() {
      closed = true;
      for (const state of channels.values()) state.subs.clear();
      channels.clear();
      queue.length = 0;
      totalSubs = 0;
    },
  };
}
