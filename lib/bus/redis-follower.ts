/**
 * The live path of the Redis bus: ONE Pub/Sub subscription per active channel
 * per process, on one dedicated connection, shared by every local listener of
 * that channel; the last local listener leaving releases it. Each followed
 * channel is a {@link ChannelFollow}, which keeps delivery gap- and
 * duplicate-free.
 */
import { debuglog } from 'node:util';
import type { GapListener, MessageListener } from './bus.js';
import { ChannelFollow, type FollowListener, type ReadRange } from './redis-channel.js';
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
  /** Backoff before the `attempt`-th retry of a failed call, ms. */
  readonly retryDelay: (attempt: number) => number;
}

/** Counters of the live side, for `RedisBus.state()`. */
export interface FollowerCounters {
  /** Channels with local listeners. */
  readonly channels: number;
  /** Of those, channels whose last read or SUBSCRIBE failed (they retry). */
  readonly failing: number;
  /** Released channels whose UNSUBSCRIBE has not gone through yet (it retries). */
  readonly leftovers: number;
  /** Retries scheduled since the bus started. */
  readonly retries: number;
}

/** The live side of one Redis bus: see the module comment. */
export class RedisFollower {
  readonly #deps: FollowerDeps;
  readonly #follows = new Map<string, ChannelFollow>();
  /** Released channels whose UNSUBSCRIBE did not go through yet. */
  readonly #leftovers = new Set<ChannelFollow>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #listenerCount = 0;
  #retries = 0;
  readonly #schedule = (attempt: number, retry: () => void): void => {
    this.#retries += 1;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      retry();
    }, this.#deps.retryDelay(attempt));
    timer.unref();
    this.#timers.add(timer);
  };

  constructor(deps: FollowerDeps) {
    this.#deps = deps;
  }

  /** Adds a local listener; the first one on a channel opens its subscription. */
  add(channel: string, listener: MessageListener, onGap?: GapListener): () => void {
    let follow = this.#follows.get(channel);
    if (!follow) {
      const { keysOf, readRange, batch } = this.#deps;
      follow = new ChannelFollow(channel, keysOf(channel), readRange, batch, this.#schedule);
      this.#follows.set(channel, follow);
      // The head read goes out now, on the command connection, ahead of any
      // publish this process makes after subscribe() returns: "from now" holds
      // for local publishes even before the SUBSCRIBE is confirmed.
      follow.resume();
      this.#subscribe(follow);
    }
    const entry = follow;
    // A new object, so the same function subscribed twice counts (and is called) twice.
    const own: FollowListener = { message: listener, gap: onGap };
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
    for (const follow of this.#leftovers) if (follow.subscribed === 'yes') count += 1;
    return count;
  }

  /** See {@link FollowerCounters}. */
  counters(): FollowerCounters {
    let failing = 0;
    for (const follow of this.#follows.values()) if (follow.failing) failing += 1;
    return {
      channels: this.#follows.size,
      failing,
      leftovers: this.#leftovers.size,
      retries: this.#retries,
    };
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

  /** Drops every listener and retry without talking to Redis (the connections are closing). */
  clear(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
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
        follow.subscribeFailures = 0;
        if (follow.released) this.#unsubscribe(follow);
        else follow.resume();
      },
      (error: unknown) => {
        follow.subscribed = 'no';
        follow.subscribeFailures += 1;
        debug('subscribe %s failed: %s', follow.channel, String(error));
        // While the connection is up, retry; after a reconnect resync() does.
        this.#schedule(follow.subscribeFailures, () => this.#subscribe(follow));
      },
    );
  }

  #unsubscribe(follow: ChannelFollow): void {
    this.#leftovers.delete(follow);
    if (follow.subscribed !== 'yes') return;
    // Until the UNSUBSCRIBE is confirmed (node-redis drops our listener only
    // then, so a retry sends the command again).
    this.#leftovers.add(follow);
    if (!this.#deps.subscriber.isReady) return; // resync() sends it after the reconnect
    this.#deps.subscriber.unsubscribe(follow.keys.notify, follow.onNotify).then(
      () => {
        follow.subscribed = 'no';
        follow.subscribeFailures = 0;
        this.#leftovers.delete(follow);
      },
      (error: unknown) => {
        follow.subscribeFailures += 1;
        debug('unsubscribe %s failed: %s', follow.channel, String(error));
        this.#schedule(follow.subscribeFailures, () => {
          if (this.#leftovers.has(follow)) this.#unsubscribe(follow);
        });
      },
    );
  }
}
