/**
 * The live path of the Redis bus: ONE Pub/Sub subscription per active channel
 * per process, on one dedicated connection, shared by every local listener of
 * that channel; the last local listener leaving releases it. Each followed
 * channel is a {@link ChannelFollow}, which keeps delivery gap- and
 * duplicate-free.
 */
import { debuglog } from 'node:util';
import type { MessageListener } from './bus.js';
import { ChannelFollow, type ReadRange } from './redis-channel.js';
import type { ChannelKeys } from './redis-ids.js';

const debug = debuglog('comet:redis');

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
  readonly readRange: ReadRange;
  /** Entries fetched per catch-up read. */
  readonly batch: number;
}

/** The live side of one Redis bus: see the module comment. */
export class RedisFollower {
  readonly #deps: FollowerDeps;
  readonly #follows = new Map<string, ChannelFollow>();
  /** Released channels whose UNSUBSCRIBE could not be sent (connection down). */
  readonly #leftovers = new Set<ChannelFollow>();
  #listenerCount = 0;

  constructor(deps: FollowerDeps) {
    this.#deps = deps;
  }

  /** Adds a local listener; the first one on a channel opens its subscription. */
  add(channel: string, listener: MessageListener): () => void {
    let follow = this.#follows.get(channel);
    if (!follow) {
      const { keysOf, readRange, batch } = this.#deps;
      follow = new ChannelFollow(channel, keysOf(channel), readRange, batch);
      this.#follows.set(channel, follow);
      // The head read goes out now, on the command connection, ahead of any
      // publish this process makes after subscribe() returns: "from now" holds
      // for local publishes even before the SUBSCRIBE is confirmed.
      follow.resume();
      this.#subscribe(follow);
    }
    const entry = follow;
    // A wrapper, so the same function subscribed twice counts (and is called) twice.
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
   * node-redis re-subscribes known channels before it emits `ready`, so these
   * reads cannot miss a wake-up.
   */
  resync(): void {
    for (const follow of this.#leftovers) this.#unsubscribe(follow);
    for (const follow of this.#follows.values()) {
      this.#subscribe(follow);
      follow.resume();
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

  #release(follow: ChannelFollow): void {
    follow.released = true;
    this.#follows.delete(follow.channel);
    if (follow.subscribed === 'yes') this.#unsubscribe(follow);
  }

  #subscribe(follow: ChannelFollow): void {
    const { subscriber } = this.#deps;
    if (follow.subscribed !== 'no' || follow.released || !subscriber.isReady) return;
    follow.subscribed = 'pending';
    subscriber.subscribe(follow.keys.notify, follow.onNotify).then(
      () => {
        follow.subscribed = 'yes';
        if (follow.released) this.#unsubscribe(follow);
        else follow.resume();
      },
      (error: unknown) => {
        follow.subscribed = 'no';
        debug('subscribe %s failed: %s', follow.channel, String(error));
      },
    );
  }

  #unsubscribe(follow: ChannelFollow): void {
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
}
