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
 */
import { debuglog } from 'node:util';
import type { Message, MessageListener } from './bus.js';
import { type ChannelKeys, compareStreamIds, formatCursor, STREAM_START } from './redis-ids.js';
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
      /** Skip the gap checks: only the epoch must match. */
      readonly lenient?: boolean;
    };

/** Runs the read script for a channel. */
export type ReadRange = (channel: string, request: RangeRequest) => Promise<RangeReply>;

/** See the module comment. */
export class ChannelFollow {
  readonly channel: string;
  readonly keys: ChannelKeys;
  readonly listeners = new Set<MessageListener>();
  /** The Pub/Sub listener: one function per followed channel, never shared. */
  readonly onNotify = (payload: string): void => this.#onNotify(payload);
  /** State of this channel's Redis subscription; managed by the follower. */
  subscribed: 'no' | 'pending' | 'yes' = 'no';
  released = false;
  readonly #readRange: ReadRange;
  readonly #batch: number;
  /** Undefined until the "from now" head has been read. */
  #epoch: string | undefined;
  #last = STREAM_START;
  /** After a gap: read on past the position without the gap check. */
  #lenient = false;
  #positioning = false;
  #reading = false;
  #dirty = false;

  constructor(channel: string, keys: ChannelKeys, readRange: ReadRange, batch: number) {
    this.channel = channel;
    this.keys = keys;
    this.#readRange = readRange;
    this.#batch = batch;
  }

  /** Reads the head if not done yet, else catches up from the last delivered id. */
  resume(): void {
    if (this.#epoch === undefined) void this.#position();
    else void this.#pump();
  }

  async #position(): Promise<void> {
    if (this.#positioning || this.#epoch !== undefined) return;
    this.#positioning = true;
    try {
      const head = await this.#readRange(this.channel, { kind: 'now' });
      this.#epoch = head.epoch;
      this.#last = head.head;
    } catch (error) {
      debug('head of %s not read: %s', this.channel, String(error));
      return;
    } finally {
      this.#positioning = false;
    }
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
    return (
      !this.#reading && !this.#lenient && note.epoch === this.#epoch && note.previous === this.#last
    );
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
    } catch (error) {
      // The next wake-up or reconnect resumes from the same position.
      debug('catch-up of %s failed: %s', this.channel, String(error));
    } finally {
      this.#reading = false;
    }
  }

  async #readOnce(epoch: string): Promise<void> {
    const limit = this.#batch;
    const after = this.#last;
    const request: RangeRequest = { kind: 'after', epoch, after, limit, lenient: this.#lenient };
    const range = await this.#readRange(this.channel, request);
    if (this.released) return;
    if (range.gap) {
      // Listeners have no gap signal: carry on with what history still holds —
      // the whole new history after an epoch change, else what follows our
      // position (ids of one epoch compare, so nothing goes out twice).
      debug('%s: gap while following (epoch %s -> %s)', this.channel, epoch, range.epoch);
      if (range.epoch !== epoch) {
        this.#epoch = range.epoch;
        this.#last = STREAM_START;
      }
      this.#lenient = true;
      this.#dirty = true;
      return;
    }
    for (const message of range.messages) {
      const streamId = message.id.slice(range.epoch.length + 1);
      if (compareStreamIds(streamId, this.#last) <= 0) continue;
      this.#last = streamId;
      this.#lenient = false;
      this.#emit(message);
    }
    if (range.messages.length >= limit) this.#dirty = true;
  }

  #emit(message: Message): void {
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch (error) {
        // One failing listener must not starve the others or stop the channel.
        debug('listener on %s threw: %s', this.channel, String(error));
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
