/**
 * The hub: one process's view of the bus for everything it holds open.
 *
 * It keeps ONE bus subscription per active channel, whatever the number of
 * held long-polls and streams following it (the Redis bus turns that into
 * one Redis subscription per process per channel), and fans each message
 * out to the members following the channel. Members share a {@link Round}
 * per message so that bytes are encoded once per transport and variant and
 * the same `Buffer` goes to every member that needs it.
 *
 * It is also the one door to the bus for everything above it: the
 * long-poll waiter, the stream member and the routes read history
 * ({@link Hub.reader}, {@link Hub.read}), check cursors
 * ({@link Hub.parseCursor}) and encode envelopes ({@link Hub.encodeBatch})
 * here, and follow channels with {@link Hub.join}. None of them holds the bus.
 */
import { debuglog } from 'node:util';
import type { Bus, LiveGap, Message, ReadResult } from '../bus/bus.js';
import type { TimerHandle, TimerTarget, TimerWheel } from '../suspend/timer-wheel.js';
import { parseCursor } from '../wire/cursor.js';
import { type Batch, createEnvelopeCache, type EnvelopeCache } from '../wire/envelope.js';
import {
  type BatchRead,
  isSyncBus,
  type ReadPosition,
  readBatch,
  readBatchSync,
} from './batch-read.js';
import { Meters } from './meters.js';

const debug = debuglog('comet:hub');

/** Shared work for one message's fan-out: what one member builds under a key, the others reuse. */
export class Round {
  /** The message being delivered. */
  readonly message: Message;
  /**
   * The first key stored and its value: a room's subscribers nearly all
   * share one transport and variant, so most rounds never need the map
   * (and members looking up the same shared key string compare pointers).
   */
  #firstKey: string | undefined;
  #firstValue: unknown;
  #memo: Map<string, unknown> | undefined;

  constructor(message: Message) {
    this.message = message;
  }

  /** The value stored under `key`, if any. */
  get<T>(key: string): T | undefined {
    if (key === this.#firstKey) return this.#firstValue as T;
    return this.#memo?.get(key) as T | undefined;
  }

  /** Stores `value` under `key` for the rest of this round. */
  set(key: string, value: unknown): void {
    if (this.#firstKey === undefined || key === this.#firstKey) {
      this.#firstKey = key;
      this.#firstValue = value;
      return;
    }
    this.#memo ??= new Map();
    this.#memo.set(key, value);
  }
}

/** Something held open that follows channels: a long-poll waiter or a stream. */
export interface HubMember {
  /** A message arrived on a followed channel. Must not throw. */
  notify(round: Round): void;
  /** The server is shutting down: answer or end now, with the current cursor. */
  shutdown(): void;
  /** Live delivery on `channel` skipped (or may have skipped) messages. Must not throw. */
  gap?(channel: string, gap: LiveGap): void;
}

/**
 * How a hub reads history: synchronously on an in-process bus (no promise
 * hop on the hot path), by promise on a remote one. Each variant has its
 * own type, so a caller branches once on `sync` and never casts.
 */
export type HistoryReader =
  | {
      readonly sync: true;
      /** A batch at `at`, now. */
      now(at: ReadPosition, limit: number, windowMs?: number): BatchRead;
      /** One channel's read as the bus answers it: the same object for the same question. */
      channelNow(channel: string, from: string, limit: number): ReadResult;
    }
  | {
      readonly sync: false;
      /** A batch at `at`, when the bus answers. */
      later(at: ReadPosition, limit: number, windowMs?: number): Promise<BatchRead>;
    };

/** Options of {@link Hub}. */
export interface HubOptions {
  /** The shared timer (for lingering subscriptions). */
  readonly timers: TimerWheel;
  /**
   * How long a channel's bus subscription outlives its last member, ms.
   * Long-pollers leave and come back every message; without the linger each
   * round trip would unsubscribe and subscribe again (a Redis UNSUBSCRIBE /
   * SUBSCRIBE pair per poll). Default 10,000; 0 releases at once.
   */
  readonly linger?: number;
  /** Where the hub and its members count deliveries, gaps and drains. Default: a new one. */
  readonly meters?: Meters;
}

/** One active channel: its members and its bus subscription. */
class ChannelEntry implements TimerTarget {
  readonly members = new Set<HubMember>();
  unsubscribe: () => void = () => {};
  lingering: TimerHandle | undefined;

  constructor(
    private readonly hub: Hub,
    readonly channel: string,
  ) {}

  /** The linger ran out: release the subscription if still unused. */
  onTimer(): void {
    this.lingering = undefined;
    if (this.members.size === 0) this.hub.release(this);
  }
}

/** See the module comment. */
export class Hub {
  /** How this hub reads history (see {@link HistoryReader}). */
  readonly reader: HistoryReader;
  /** The counts of this hub's comet instance (see lib/hub/meters.ts). */
  readonly meters: Meters;
  readonly #bus: Bus;
  /** The envelope cache shared by every transport of this hub. */
  readonly #envelopes: EnvelopeCache;
  readonly #channels = new Map<string, ChannelEntry>();
  readonly #timers: TimerWheel;
  readonly #linger: number;
  #closing = false;

  constructor(bus: Bus, options: HubOptions) {
    this.#bus = bus;
    this.#envelopes = createEnvelopeCache();
    this.reader = isSyncBus(bus)
      ? {
          sync: true,
          now: (at, limit, windowMs) => readBatchSync(bus, at, limit, windowMs),
          channelNow: (channel, from, limit) => bus.readSync(channel, from, limit),
        }
      : { sync: false, later: (at, limit, windowMs) => readBatch(bus, at, limit, windowMs) };
    this.#timers = options.timers;
    this.#linger = options.linger ?? 10_000;
    this.meters = options.meters ?? new Meters();
  }

  /** A batch at `at` (channels and positions), by promise whatever the bus. */
  read(at: ReadPosition, limit: number, windowMs?: number): Promise<BatchRead> {
    return readBatch(this.#bus, at, limit, windowMs);
  }

  /**
   * The client's cursor as one read position per channel, every id checked
   * to be of this bus's shape.
   * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for a cursor that is not ours.
   */
  parseCursor(raw: string | undefined, channels: readonly string[]): (string | undefined)[] {
    return parseCursor(raw, channels, this.#bus);
  }

  /** The bus's order of two ids of one channel (`undefined`: not comparable). */
  compareIds(a: string, b: string): number | undefined {
    return this.#bus.compareIds(a, b);
  }

  /** The envelope JSON text of `message`, encoded once per message. */
  encodeMessage(message: Message): string {
    return this.#envelopes.envelope(message);
  }

  /** The batch JSON text. */
  encodeBatch(batch: Batch): string {
    return this.#envelopes.batch(batch);
  }

  /**
   * The same, remembered for this very `batch` object: pollers coming back
   * together ask the same question, and an in-process bus hands them the
   * same {@link HistoryReader} `channelNow` result, encoded once.
   */
  encodeSharedBatch(batch: Batch): string {
    return this.#envelopes.sharedBatch(batch);
  }

  /** True once {@link Hub.shutdown} started: no new members are accepted. */
  get closing(): boolean {
    return this.#closing;
  }

  /**
   * Members following `channel`, or distinct members on any channel when
   * omitted (a request following two channels counts once). O(members).
   */
  memberCount(channel?: string): number {
    if (channel !== undefined) return this.#channels.get(channel)?.members.size ?? 0;
    const distinct = new Set<HubMember>();
    for (const entry of this.#channels.values()) for (const m of entry.members) distinct.add(m);
    return distinct.size;
  }

  /** Channels with a live bus subscription (lingering ones included). */
  get activeChannels(): number {
    return this.#channels.size;
  }

  /** Starts delivering `channel`'s messages to `member` (subscribing the bus if first). */
  join(channel: string, member: HubMember): void {
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      const created = new ChannelEntry(this, channel);
      created.unsubscribe = this.#bus.subscribe(
        channel,
        (m) => this.#fanOut(created.members, m),
        (gap) => this.#fanOutGap(created, gap),
      );
      entry = created;
      this.#channels.set(channel, entry);
    } else if (entry.lingering !== undefined) {
      this.#timers.remove(entry.lingering);
      entry.lingering = undefined;
    }
    entry.members.add(member);
  }

  /** Stops delivering to `member`; the last member leaving releases the bus subscription. */
  leave(channel: string, member: HubMember): void {
    const entry = this.#channels.get(channel);
    if (entry === undefined || !entry.members.delete(member)) return;
    if (entry.members.size > 0 || entry.lingering !== undefined) return;
    if (this.#linger > 0 && !this.#closing) entry.lingering = this.#timers.add(this.#linger, entry);
    else this.release(entry);
  }

  /** @internal Drops a channel's bus subscription (no members left). */
  release(entry: ChannelEntry): void {
    if (this.#channels.get(entry.channel) !== entry) return;
    if (entry.lingering !== undefined) this.#timers.remove(entry.lingering);
    entry.lingering = undefined;
    this.#channels.delete(entry.channel);
    entry.unsubscribe();
  }

  /** Answers or ends every member now (graceful shutdown) and refuses new ones. */
  shutdown(): void {
    this.#closing = true;
    const members = new Set<HubMember>();
    for (const entry of this.#channels.values()) for (const m of entry.members) members.add(m);
    this.meters.shutdownDrains += members.size;
    for (const member of members) member.shutdown();
    // Members answered and left; release what lingers.
    for (const entry of [...this.#channels.values()])
      if (entry.members.size === 0) this.release(entry);
  }

  #fanOutGap(entry: ChannelEntry, gap: LiveGap): void {
    debug('%s: live gap (%s)', entry.channel, gap.kind);
    for (const member of [...entry.members]) {
      try {
        member.gap?.(entry.channel, gap);
      } catch (error) {
        debug('member threw on gap: %o', error);
      }
    }
  }

  #fanOut(members: Set<HubMember>, message: Message): void {
    if (members.size === 0) return;
    const round = new Round(message);
    // Members leave during notify (a waiter answers and completes): iterate a snapshot.
    for (const member of [...members]) {
      try {
        member.notify(round);
      } catch (error) {
        debug('member threw on notify: %o', error);
      }
    }
  }
}
