/**
 * The in-memory bus: the embedded, zero-set-up default for one process.
 *
 * Ids look like `<epoch>-<seq>`, with `seq` counting from 1 across the whole
 * bus (so a channel's ids increase, not necessarily by one) and the epoch
 * drawn at random per bus instance, so a cursor from before a restart yields
 * `gap: true` instead of silently naming different messages. The format is
 * NOT part of the API: clients must treat ids as opaque strings.
 *
 * Memory is bounded whatever the requests: history per channel (count, age),
 * a byte budget across all channels, and channels with neither history nor
 * subscribers are forgotten (see `memory-ledger.ts`).
 */
import { randomBytes } from 'node:crypto';
import { debuglog } from 'node:util';
import { CometError } from '../base/errors.js';
import type { Bus, BusStats, Message, MessageListener, ReadFrom, ReadResult } from './bus.js';
import { EARLIEST } from './bus.js';
import { encodeData } from './encode-data.js';
import { checkIdempotencyKey, IdempotencyMemo } from './idempotency.js';
import { type Entry, Ledger, messageBytes } from './memory-ledger.js';

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
  /**
   * Bytes of history kept across all channels (default 64 MiB; 0 = no byte
   * bound). Past it the oldest messages go first, whatever their channel;
   * a reader behind them gets a gap. A message counts its data's JSON size
   * plus about 160 bytes.
   */
  readonly historyMaxBytes?: number;
  /** The wall clock of `Message.time`, ms since the Unix epoch (default `Date.now`). */
  readonly now?: () => number;
  /**
   * The monotonic clock history ages by, ms (default `performance.now()`);
   * inject one in tests. A wall clock stepped by NTP must not age history.
   */
  readonly clock?: () => number;
  /** Prefix of every id (1–16 chars of `[0-9a-z]`; default: 8 random chars). */
  readonly epoch?: string;
  /** `limit` of {@link Bus.read} when none is given (default 100). */
  readonly defaultReadLimit?: number;
  /** Longest accepted channel name, in UTF-16 code units (default 256). */
  readonly maxChannelLength?: number;
  /** Deepest nesting of arrays / objects a message's data may have (default 64). */
  readonly maxDepth?: number;
}

/** A {@link Bus} living in this process's memory, with introspection for tests and metrics. */
export interface MemoryBus extends Bus {
  /** Live listeners on `channel`, or on every channel when none is given. */
  subscriberCount(channel?: string): number;
  /**
   * Bytes (estimated, see `historyMaxBytes`) and messages of retained
   * history across channels, and channels with a record (history or
   * subscribers).
   */
  stats(): Required<Omit<BusStats, 'reconnects' | 'commandsFailed'>>;
}

interface Subscription {
  readonly listener: MessageListener;
  /** Publish counter at subscription: publishes numbered at or below it are not delivered. */
  readonly stamp: number;
}

interface ChannelState {
  readonly name: string;
  /** Seq of the last message published here since the record was made (0: none). */
  last: number;
  /** A cursor below this seq lost messages of this channel (a gap). */
  lost: number;
  /** Retained messages are `items[start..]`, oldest first, increasing seqs. */
  items: Entry<ChannelState>[];
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

/** Index in `items` of the first retained message after `seq` (binary search). */
function firstAfter(state: ChannelState, seq: number): number {
  let lo = state.start;
  let hi = state.items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // Every slot from `start` on holds a message.
    if ((state.items[mid]?.seq ?? Number.POSITIVE_INFINITY) <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
 * History is bounded per channel by count and age, and across channels by
 * bytes (`historyMaxBytes`, oldest first). Aged history goes on reads and
 * publishes of its channel and, for every channel, on one unref'd timer; ages
 * run on a monotonic clock. Listeners run synchronously inside
 * `publish`, in subscription order; a publish made from a listener is delivered
 * after the current one finishes, so every listener sees messages in order.
 *
 * Channels are non-empty strings of at most `maxChannelLength` code units,
 * else `publish`, `read` and `subscribe` throw `COMET_ERR_CHANNEL_INVALID`; after
 * `close()` they throw `COMET_ERR_BUS_CLOSED` (unsubscribing stays a no-op). A
 * channel with neither history nor subscribers is forgotten; ids come from
 * one bus-wide sequence, so they never go backwards, and a cursor from before
 * it was forgotten is answered as a gap.
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
  const maxBytes = positiveInt(options.historyMaxBytes, 64 * 1024 * 1024, 'historyMaxBytes', 0);
  const defaultReadLimit = positiveInt(options.defaultReadLimit, 100, 'defaultReadLimit');
  const maxChannelLength = positiveInt(options.maxChannelLength, 256, 'maxChannelLength');
  const maxDepth = positiveInt(options.maxDepth, 64, 'maxDepth');
  const now = options.now ?? Date.now;
  const clock = options.clock ?? (() => performance.now());
  const epoch = options.epoch ?? randomEpoch();
  if (!EPOCH_SHAPE.test(epoch)) {
    throw new CometError('COMET_ERR_OPTIONS_INVALID', 'epoch must be 1-16 chars of [0-9a-z]');
  }
  // Expiry runs at most this often: aged history goes within this much of its age.
  const expiryEvery = Math.min(1000, maxAge);

  const channels = new Map<string, ChannelState>();
  const ledger = new Ledger<ChannelState>();
  const queue: Pending[] = [];
  /** The bus-wide sequence: the number in the newest id. */
  let seq = 0;
  let publishCount = 0;
  /** Bytes of published data, JSON-encoded (for metrics). */
  let publishedBytes = 0;
  let totalSubs = 0;
  let delivering = false;
  let closed = false;
  let expiry: NodeJS.Timeout | undefined;

  function check(channel: string): void {
    if (closed) throw new CometError('COMET_ERR_BUS_CLOSED');
    if (typeof channel !== 'string' || channel.length === 0 || channel.length > maxChannelLength) {
      throw new CometError('COMET_ERR_CHANNEL_INVALID');
    }
  }

  /** Drops the channel's oldest retained message. */
  function dropOldest(state: ChannelState): void {
    const entry = state.items[state.start];
    // Unreachable: callers drop only from a non-empty history. Thrown, not
    // skipped, so an eviction loop can never spin on it.
    if (entry === undefined) throw new Error('memory bus: no message at the start of history');
    state.lost = entry.seq;
    ledger.drop(entry);
    // Cached answers may hold the message: they must not keep it past its eviction.
    state.reads = undefined;
    const { items } = state;
    const start = state.start + 1;
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

  /** The channel's own bounds: count, then age (at `at` on the monotonic clock). */
  function evict(state: ChannelState, at: number): void {
    while (retained(state) > historyLimit) dropOldest(state);
    if (maxAge === 0) return;
    while (retained(state) > 0 && at - (state.items[state.start]?.at ?? at) > maxAge) {
      dropOldest(state);
    }
  }

  /** Forgets a channel with neither history nor subscribers; its last seq becomes a floor. */
  function forgetIfIdle(state: ChannelState): void {
    if (retained(state) > 0 || state.subs.size > 0 || channels.get(state.name) !== state) return;
    channels.delete(state.name);
    ledger.forget(state.name, Math.max(state.last, state.lost));
  }

  /** The bus-wide bounds: bytes, then (when `at` is given) age; oldest first. */
  function evictAcross(at?: number): void {
    for (let oldest = ledger.oldest(); oldest !== undefined; oldest = ledger.oldest()) {
      const over = maxBytes > 0 && ledger.bytes > maxBytes;
      if (!over && (at === undefined || maxAge === 0 || at - oldest.at <= maxAge)) return;
      dropOldest(oldest.channel);
      forgetIfIdle(oldest.channel);
    }
  }

  /** Arms the one expiry timer for the oldest message, if not armed. */
  function armExpiry(): void {
    if (expiry !== undefined || maxAge === 0 || closed) return;
    const oldest = ledger.oldest();
    if (oldest === undefined) return;
    const wait = Math.max(expiryEvery, Math.ceil(oldest.at + maxAge - clock()) + 1);
    expiry = setTimeout(onExpiry, wait);
    expiry.unref();
  }

  function onExpiry(): void {
    expiry = undefined;
    evictAcross(clock());
    armExpiry();
  }

  function deliver(state: ChannelState, message: Message, stamp: number): void {
    if (delivering) {
      queue.push({ state, message, stamp });
      return;
    }
    delivering = true;
    try {
      notify(state, message, stamp);
      // An array iterator reads the length at each step: publishes queued by a
      // listener on the way are delivered in this same loop.
      for (const next of queue) notify(next.state, next.message, next.stamp);
    } finally {
      queue.length = 0;
      delivering = false;
    }
  }

  /** "From now": the channel's last id, or the bus's when it has none (nothing of it lies above). */
  function headOf(state: ChannelState | undefined): string {
    return `${epoch}-${state !== undefined && state.last > 0 ? state.last : seq}`;
  }

  function readAfter(
    channel: string,
    state: ChannelState | undefined,
    after: ReadFrom,
    limit: number,
  ): ReadResult {
    const head = headOf(state);
    if (after === undefined) return { messages: [], cursor: head, gap: false };
    let begin: number;
    if (after === EARLIEST) {
      begin = state?.start ?? 0;
    } else {
      const match = typeof after === 'string' ? ID_SHAPE.exec(after) : null;
      if (!match) throw new CometError('COMET_ERR_CURSOR_MALFORMED');
      const at = Number(match[2]);
      const floor = state === undefined ? ledger.floor(channel) : state.lost;
      if (match[1] !== epoch || at > seq || at < floor) {
        return { messages: [], cursor: head, gap: true };
      }
      begin = state === undefined ? 0 : firstAfter(state, at);
    }
    const end = state === undefined ? 0 : Math.min(state.items.length, begin + limit);
    if (state === undefined || begin >= end) {
      return { messages: [], cursor: after === EARLIEST ? head : after, gap: false };
    }
    const messages: Message[] = [];
    let cursor = after === EARLIEST ? head : after;
    for (let i = begin; i < end; i++) {
      const message = state.items[i]?.message;
      if (message === undefined) continue;
      messages.push(message);
      cursor = message.id;
    }
    return { messages, cursor, gap: false };
  }

  function stateOf(channel: string): ChannelState {
    let state = channels.get(channel);
    if (!state) {
      state = {
        name: channel,
        last: 0,
        lost: ledger.floor(channel),
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
    let state = channels.get(channel);
    if (state) {
      evict(state, clock());
      forgetIfIdle(state);
      if (channels.get(channel) !== state) state = undefined;
    }
    if (state === undefined || after === undefined) return readAfter(channel, state, after, limit);
    return cachedRead(state, after, limit);
  }

  /** {@link readAfter} through the channel's read cache (a few dozen entries at most). */
  function cachedRead(state: ChannelState, after: string, limit: number): ReadResult {
    // A publish moves `last`, an eviction shrinks what is retained: either
    // may change an answer, so the cache starts over.
    const size = retained(state);
    if (
      state.reads !== undefined &&
      (state.readsSeq !== state.last || state.readsRetained !== size)
    ) {
      state.reads = undefined;
    }
    state.readsSeq = state.last;
    state.readsRetained = size;
    const key = limit === defaultReadLimit ? after : `${limit} ${after}`;
    let result = state.reads?.get(key);
    if (result === undefined) {
      result = readAfter(state.name, state, after, limit);
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
      // Encoded now so that what cannot be encoded is refused, not stored.
      const encoded = encodeData(data, maxDepth);
      const state = stateOf(channel);
      const at = clock();
      seq += 1;
      state.last = seq;
      const message: Message = { id: `${epoch}-${seq}`, channel, data, time: now() };
      const entry: Entry<ChannelState> = {
        message,
        seq,
        bytes: messageBytes(channel, encoded),
        at,
        channel: state,
        live: true,
      };
      state.items.push(entry);
      ledger.push(entry);
      evict(state, at);
      evictAcross();
      publishCount += 1;
      publishedBytes += Buffer.byteLength(encoded);
      deliver(state, message, publishCount);
      forgetIfIdle(state);
      armExpiry();
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
        forgetIfIdle(state);
      };
    },

    subscriberCount(channel) {
      if (channel === undefined) return totalSubs;
      return channels.get(channel)?.subs.size ?? 0;
    },

    stats() {
      return {
        bytes: ledger.bytes,
        messages: ledger.count,
        channels: channels.size,
        publishes: publishCount,
        publishedBytes,
        subscriptions: totalSubs,
      };
    },

    async close() {
      closed = true;
      if (expiry !== undefined) clearTimeout(expiry);
      expiry = undefined;
      for (const state of channels.values()) state.subs.clear();
      channels.clear();
      ledger.clear();
      queue.length = 0;
      totalSubs = 0;
    },
  };
}
