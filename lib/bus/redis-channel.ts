/**
 * One followed channel of the Redis bus: its local listeners and its position
 * (epoch + last delivered stream id), which makes live delivery gap-free and
 * duplicate-free.
 *
 * A Pub/Sub wake-up carries the new entry and the id of the entry before it.
 * When that previous id is the last one delivered here, the entry goes out
 * straight away (no read); otherwise — a wake-up missed during a reconnect, a
 * new epoch — the channel reads the stream after its position until caught
 * up. Reads run one at a time; a wake-up during a read only marks the channel
 * dirty. Delivery compares ids, so an entry seen both in a read and in a
 * wake-up goes out once.
 *
 * Nothing leaves a channel deaf: a failed read (BUSY, LOADING, a timeout) is
 * retried with backoff while the connection is up, and listeners are told
 * (`interrupted`) so held requests re-read on their own rather than wait; a
 * gap found while following is a `lost` signal, never a silent skip.
 */
import { debuglog } from 'node:util';
import type { GapListener, LiveGap, Message, MessageListener } from './bus.js';
import {
  type ChannelKeys,
  compareStreamIds,
  formatCursor,
  STREAM_START,
  UNBORN_EPOCH,
} from './redis-ids.js';
import { type Notification, parseNotification, type RangeReply } from './redis-scripts.js';

const debug = debuglog('comet:redis');

/** Where a channel reads from. */
export type RangeRequest =
  | { readonly kind: 'now' }
  | { readonly kind: 'earliest'; readonly limit: number }
  | {
      readonly kind: 'after';
      readonly epoch: string;
      readonly after: string;
      readonly limit: number;
    };

/** Runs the read script for a channel. */
export type ReadRange = (channel: string, request: RangeRequest) => Promise<RangeReply>;

/** Schedules `retry` after a backoff for the `attempt`-th consecutive failure. */
export type RetryScheduler = (attempt: number, retry: () => void) => void;

/** One local listener: its messages and its gap signal. */
export interface FollowListener {
  readonly message: MessageListener;
  readonly gap: GapListener | undefined;
}

/** See the module comment. */
export class ChannelFollow {
  readonly channel: string;
  readonly keys: ChannelKeys;
  readonly listeners = new Set<FollowListener>();
  /** The Pub/Sub listener: one function per followed channel, never shared. */
  readonly onNotify = (payload: string): void => this.#onNotify(payload);
  /** State of this channel's Redis subscription; managed by the follower. */
  subscribed: 'no' | 'pending' | 'yes' = 'no';
  /** Consecutive failed SUBSCRIBE / UNSUBSCRIBE calls; managed by the follower. */
  subscribeFailures = 0;
  released = false;
  readonly #readRange: ReadRange;
  readonly #batch: number;
  readonly #schedule: RetryScheduler;
  /** Undefined until the "from now" head has been read. */
  #epoch: string | undefined;
  #last = STREAM_START;
  #positioning = false;
  #reading = false;
  #dirty = false;
  /** Consecutive failed reads (head or catch-up); > 0 while the channel cannot follow. */
  #failures = 0;
  #retrying = false;

  constructor(
    channel: string,
    keys: ChannelKeys,
    readRange: ReadRange,
    batch: number,
    schedule: RetryScheduler,
  ) {
    this.channel = channel;
    this.keys = keys;
    this.#readRange = readRange;
    this.#batch = batch;
    this.#schedule = schedule;
  }

  /** True while the channel's last read failed (it retries with backoff). */
  get failing(): boolean {
    return this.#failures > 0 || this.subscribeFailures > 0;
  }

  /** Reads the head if not done yet, else catches up from the last delivered id. */
  resume(): void {
    if (this.#epoch === undefined) void this.#position();
    else void this.#pump();
  }

  async #position(): Promise<void> {
    if (this.#positioning || this.#epoch !== undefined || this.released) return;
    this.#positioning = true;
    try {
      const head = await this.#readRange(this.channel, { kind: 'now' });
      this.#epoch = head.epoch;
      this.#last = head.head;
    } catch (error) {
      // Until the head is read nothing can be delivered: listeners re-read on
      // their own (a held request is answered, by its read or its error).
      if (this.#failures === 0) this.#emitGap({ kind: 'interrupted' });
      this.#failed('head', error);
      return;
    } finally {
      this.#positioning = false;
    }
    // Listeners that joined while the head could not be read may have missed
    // messages published before it: they re-read from their own positions.
    if (this.#recovered()) this.#emitGap({ kind: 'interrupted' });
    await this.#pump();
  }

  #onNotify(payload: string): void {
    if (this.released) return;
    const note = parseNotification(payload);
    const data = note && this.#inStep(note) ? parseJson(note.data) : undefined;
    if (note && data) {
      this.#last = note.streamId;
      const id = formatCursor(note.epoch, note.streamId);
      this.#emit({ id, channel: this.channel, data: data.value, time: note.time });
      return;
    }
    if (note && note.epoch === this.#epoch && compareStreamIds(note.streamId, this.#last) <= 0) {
      return; // already delivered by a read
    }
    void this.#pump();
  }

  #inStep(note: Notification): boolean {
    return !this.#reading && note.epoch === this.#epoch && note.previous === this.#last;
  }

  /** Reads after the position until caught up; one loop at a time. */
  async #pump(): Promise<void> {
    if (this.#reading) {
      this.#dirty = true;
      return;
    }
    if (this.released || this.subscribed !== 'yes' || this.#epoch === undefined) return;
    this.#reading = true;
    try {
      do {
        this.#dirty = false;
        await this.#readOnce(this.#epoch);
      } while (this.#dirty && !this.released);
      this.#recovered();
    } catch (error) {
      // Retried from the same position: nothing is skipped.
      this.#failed('catch-up', error);
    } finally {
      this.#reading = false;
    }
  }

  async #readOnce(epoch: string): Promise<void> {
    const limit = this.#batch;
    const after = this.#last;
    const range = await this.#readRange(this.channel, { kind: 'after', epoch, after, limit });
    if (this.released) return;
    if (range.gap) {
      // A new history (lost, expired, restored from an older snapshot) goes on
      // from its start; within one history, entries after our position were
      // trimmed: go on from the head. Either way listeners are told.
      // (From the unborn history, the first one is not fresh: its start was trimmed.)
      const fresh = range.epoch !== epoch && epoch !== UNBORN_EPOCH;
      const last = fresh ? STREAM_START : range.head;
      debug(
        '%s: gap while following (%s %s -> %s %s)',
        this.channel,
        epoch,
        after,
        range.epoch,
        last,
      );
      this.#epoch = range.epoch;
      this.#last = last;
      this.#emitGap({ kind: 'lost', cursor: formatCursor(range.epoch, last) });
      this.#dirty = true;
      return;
    }
    // From the unborn history to the one the first publish started.
    if (epoch === UNBORN_EPOCH) this.#epoch = range.epoch;
    for (const message of range.messages) {
      const streamId = message.id.slice(range.epoch.length + 1);
      if (compareStreamIds(streamId, this.#last) <= 0) continue;
      this.#last = streamId;
      this.#emit(message);
    }
    if (range.messages.length >= limit) this.#dirty = true;
  }

  /** A read failed: say so and retry with backoff. */
  #failed(what: string, error: unknown): void {
    this.#failures += 1;
    debug(
      '%s read of %s failed (%d in a row): %s',
      what,
      this.channel,
      this.#failures,
      String(error),
    );
    if (this.#retrying || this.released) return;
    this.#retrying = true;
    this.#schedule(this.#failures, () => {
      this.#retrying = false;
      if (!this.released) this.resume();
    });
  }

  /** Clears the failure count; true when there was one. */
  #recovered(): boolean {
    if (this.#failures === 0) return false;
    debug('%s follows again after %d failed reads', this.channel, this.#failures);
    this.#failures = 0;
    return true;
  }

  #emit(message: Message): void {
    for (const listener of this.listeners) {
      try {
        listener.message(message);
      } catch (error) {
        // One failing listener must not starve the others or stop the channel.
        debug('listener on %s threw: %s', this.channel, String(error));
      }
    }
  }

  #emitGap(gap: LiveGap): void {
    for (const listener of this.listeners) {
      try {
        listener.gap?.(gap);
      } catch (error) {
        debug('gap listener on %s threw: %s', this.channel, String(error));
      }
    }
  }
}

/** Someone else's payload on our channel must not throw inside node-redis: read instead. */
function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}
