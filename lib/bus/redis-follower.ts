/**
 * The live path of the Redis bus: one Pub/Sub subscription per active channel
 * per process, shared by every local listener, and a per-channel position
 * (epoch + last delivered stream id) that makes delivery gap-free and
 * duplicate-free.
 *
 * A Pub/Sub message is only a wake-up that carries the new entry and the id
 * of the entry before it. When that previous id is the last one delivered
 * here, the entry is delivered straight away (no read); otherwise — a missed
 * wake-up, a reconnect, a new epoch — the follower reads the stream after its
 * position until it is caught up. Reads per channel run one at a time; a
 * wake-up during a read only marks the channel dirty. Delivery is by id
 * comparison, so an entry seen both in a read and in a wake-up goes out once.
 */
import { debuglog } from 'node:util';
import type { Message, MessageListener } from './bus.js';
import { type ChannelKeys, compareStreamIds, formatCursor, STREAM_START } from './redis-ids.js';
import { type Notification, parseNotification, type RangeReply } from './redis-scripts.js';

const debug = debuglog('comet:redis');

/** Where a follower reads from. */
export type RangeRequest =
  | { readonly kind: 'now' }
  | { readonly kind: 'earliest'; readonly limit: number }
  | {
      readonly kind: 'after';
      readonly epoch: string;
      readonly after: string;
      readonly limit: number;
    };

/** The subset of a node-redis client used for Pub/Sub. */
export interface PubSubClient {
  readonly isReady: boolean;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
}

/** What a follower needs from the bus around it. */
export interface FollowerDeps {
  readonly subscriber: PubSubClient;
  readonly keysOf: (channel: string) => ChannelKeys;
  readonly readRange: (channel: string, request: RangeRequest) => Promise<RangeReply>;
  /** Entries fetched per catch-up read. */
  readonly batch: number;
}

interface Follow {
  readonly channel: string;
  readonly keys: ChannelKeys;
  readonly listeners: Set<MessageListener>;
  readonly onNotify: (payload: string) => void;
  subscribed: 'no' | 'pending' | 'yes';
  /** Undefined until the "from now" head has been read. */
  epoch: string | undefined;
  last: string;
  fromEarliest: boolean;
  positioning: boolean;
  reading: boolean;
  dirty: boolean;
  released: boolean;
}

/** The live side of one Redis bus: see the module comment. */
export class RedisFollower {
  readonly #deps: FollowerDeps;
  readonly #follows = new Map<string, Follow>();
  /** Released channels whose UNSUBSCRIBE failed (connection down): retried on resync. */
  readonly #leftovers = new Set<Follow>();
  #listenerCount = 0;

  constructor(deps: FollowerDeps) {
    this.#deps = deps;
  }

  /** Adds a local listener; the first one on a channel opens its subscription. */
  add(channel: string, listener: MessageListener): () => void {
    let follow = this.#follows.get(channel);
    if (!follow) {
      follow = this.#open(channel);
      this.#follows.set(channel, follow);
    }
    const entry = follow;
    // A wrapper, so the same function subscribed twice still counts twice.
    const own: MessageListener = (message) => listener(message);
    entry.listeners.add(own);
    this.#listenerCount += 1;
    let active = true;
    return () => {
      if (!active || entry.released) return;
      active = false;
      entry.listeners.delete(own);
      this.#listenerCount -= 1;
      if (entry.listeners.size === 0) this.#release(entry);
    };
  }

  /** Local listeners on `channel`, or on every channel. */
  listenerCount(channel?: string): number {
    if (channel === undefined) return this.#listenerCount;
    return this.#follows.get(channel)?.listeners.size ?? 0;
  }

  /** Channels this process currently holds a Redis subscription for. */
  subscriptionCount(): number {
    let count = 0;
    for (const follow of this.#follows.values()) if (follow.subscribed === 'yes') count += 1;
    return count;
  }

  /**
   * After a (re)connect of either connection: subscribe what is not yet
   * subscribed, then re-read every channel from its last delivered id.
   * node-redis re-subscribes known channels before it emits `ready`, so the
   * reads here cannot miss a wake-up.
   */
  resync(): void {
    for (const follow of this.#leftovers) this.#unsubscribe(follow);
    for (const follow of this.#follows.values()) {
      this.#subscribe(follow);
      if (follow.epoch === undefined) void this.#position(follow);
      else void this.#pump(follow);
    }
  }

  /** Drops every listener without talking to Redis (the connections are closing). */
  clear(): void {
    for (const follow of this.#follows.values()) {
      follow.released = true;
      follow.listeners.clear();
    }
    this.#follows.clear();
    this.#leftovers.clear();
    this.#listenerCount = 0;
  }

  #open(channel: string): Follow {
    const follow: Follow = {
      channel,
      keys: this.#deps.keysOf(channel),
      listeners: new Set(),
      onNotify: (payload) => this.#onNotify(follow, payload),
      subscribed: 'no',
      epoch: undefined,
      last: '',
      fromEarliest: false,
      positioning: false,
      reading: false,
      dirty: false,
      released: false,
    };
    // The head read goes out now, on the command connection, ahead of any
    // publish this process makes after subscribe() returns: "from now" holds
    // for local publishes even before the SUBSCRIBE is confirmed.
    void this.#position(follow);
    this.#subscribe(follow);
    return follow;
  }

  #release(follow: Follow): void {
    follow.released = true;
    this.#follows.delete(follow.channel);
    if (follow.subscribed === 'yes') this.#unsubscribe(follow);
  }

  #subscribe(follow: Follow): void {
    const { subscriber } = this.#deps;
    if (follow.subscribed !== 'no' || follow.released || !subscriber.isReady) return;
    follow.subscribed = 'pending';
    subscriber.subscribe(follow.keys.notify, follow.onNotify).then(
      () => {
        follow.subscribed = 'yes';
        if (follow.released) this.#unsubscribe(follow);
        else void this.#pump(follow);
      },
      (error: unknown) => {
        follow.subscribed = 'no';
        debug('subscribe %s failed: %s', follow.channel, String(error));
      },
    );
  }

  #unsubscribe(follow: Follow): void {
    this.#leftovers.delete(follow);
    if (!this.#deps.subscriber.isReady) {
      this.#leftovers.add(follow);
      return;
    }
    this.#deps.subscriber.unsubscribe(follow.keys.notify, follow.onNotify).then(
      () => {
        follow.subscribed = 'no';
      },
      () => this.#leftovers.add(follow),
    );
  }

  async #position(follow: Follow): Promise<void> {
    if (follow.positioning || follow.epoch !== undefined) return;
    follow.positioning = true;
    try {
      const head = await this.#deps.readRange(follow.channel, { kind: 'now' });
      follow.epoch = head.epoch;
      follow.last = head.head;
    } catch (error) {
      debug('head of %s not read: %s', follow.channel, String(error));
      return;
    } finally {
      follow.positioning = false;
    }
    await this.#pump(follow);
  }

  #onNotify(follow: Follow, payload: string): void {
    if (follow.released) return;
    const note = parseNotification(payload);
    if (note && this.#inStep(follow, note)) {
      follow.last = note.streamId;
      const data: unknown = JSON.parse(note.data);
      const id = formatCursor(note.epoch, note.streamId);
      this.#emit(follow, { id, channel: follow.channel, data, time: note.time });
      return;
    }
    if (note && note.epoch === follow.epoch && compareStreamIds(note.streamId, follow.last) <= 0) {
      return; // already delivered by a read
    }
    void this.#pump(follow);
  }

  #inStep(follow: Follow, note: Notification): boolean {
    return (
      !follow.reading &&
      !follow.fromEarliest &&
      note.epoch === follow.epoch &&
      note.previous === follow.last
    );
  }

  /** Reads after the channel's position until caught up; one loop per channel at a time. */
  async #pump(follow: Follow): Promise<void> {
    if (follow.reading) {
      follow.dirty = true;
      return;
    }
    if (follow.released || follow.subscribed !== 'yes' || follow.epoch === undefined) return;
    follow.reading = true;
    try {
      do {
        follow.dirty = false;
        await this.#readOnce(follow);
      } while (follow.dirty && !follow.released);
    } catch (error) {
      // The next wake-up or reconnect resumes from the same position.
      debug('catch-up of %s failed: %s', follow.channel, String(error));
    } finally {
      follow.reading = false;
    }
  }

  async #readOnce(follow: Follow): Promise<void> {
    const { batch, readRange } = this.#deps;
    const request: RangeRequest = follow.fromEarliest
      ? { kind: 'earliest', limit: batch }
      : { kind: 'after', epoch: follow.epoch!, after: follow.last, limit: batch };
    const range = await readRange(follow.channel, request);
    if (follow.released) return;
    if (range.gap) {
      // History moved past us (trimmed, or a new epoch): listeners have no gap
      // signal, so follow on from the oldest message still there.
      debug('%s: gap while following, continuing from the earliest message', follow.channel);
      follow.fromEarliest = true;
      follow.dirty = true;
      return;
    }
    if (follow.fromEarliest) {
      // Everything the earliest read returns is new to us; with none, the head is.
      follow.fromEarliest = false;
      follow.epoch = range.epoch;
      follow.last = range.messages.length > 0 ? STREAM_START : range.head;
    }
    for (const message of range.messages) {
      const streamId = streamIdOf(message.id, range.epoch);
      if (compareStreamIds(streamId, follow.last) <= 0) continue;
      follow.last = streamId;
      this.#emit(follow, message);
    }
    if (range.messages.length >= batch) follow.dirty = true;
  }

  #emit(follow: Follow, message: Message): void {
    for (const listener of follow.listeners) {
      try {
        listener(message);
      } catch (error) {
        // One failing listener must not starve the others or stop the channel.
        debug('listener on %s threw: %s', follow.channel, String(error));
      }
    }
  }
}

function streamIdOf(id: string, epoch: string): string {
  return id.slice(epoch.length + 1);
}
