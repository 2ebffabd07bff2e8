/**
 * The Redis bus: history in Redis Streams, live delivery by Pub/Sub wake-ups.
 *
 * Storage: each channel is a stream (`XADD … MAXLEN ~ n` / `MINID ~`) plus a
 * small meta hash holding the channel's epoch, written together by one Lua
 * script, so a cursor issued by one process is valid on every process and a
 * lost history (FLUSHALL, failover to an empty replica) shows as a new epoch:
 * old cursors get `gap: true`, never other messages under old ids.
 *
 * Live path — the choice: Pub/Sub as a wake-up, not a blocking `XREAD` loop.
 * The publish script also `PUBLISH`es the new entry (with the id before it) to
 * a per-channel notify channel. Each process holds ONE subscription per
 * active channel on one dedicated connection, shared by all local listeners,
 * and keeps the last stream id it delivered; when a wake-up does not follow
 * on from that id (missed during a reconnect, say) it reads the stream after
 * it. So: no blocked connection per process, no polling, one Pub/Sub message
 * per publish per subscribed process, and the stream stays the source of
 * truth. A blocking XREAD loop would need to be interrupted whenever the set
 * of active channels changes and re-reads every stream on each wake-up.
 *
 * Outages: both connections reconnect with exponential backoff and full
 * jitter; on each reconnect every active channel is re-read from the last id
 * it delivered, so listeners see no gap. A read or (UN)SUBSCRIBE that fails
 * while connected (BUSY, LOADING) is retried with the same backoff. The
 * offline queue is disabled: publishes and reads wait at most `readyTimeout`
 * ms for a reconnecting Redis, then reject with `COMET_ERR_BUS_UNAVAILABLE`
 * (503); every call has a deadline of `commandTimeout` ms in all
 * (`COMET_ERR_BUS_TIMEOUT`, 503), a ping and a socket timeout notice a dead
 * peer, and the calls waiting at once are bounded (`COMET_ERR_BUS_OVERLOADED`).
 */

import { debuglog } from 'node:util';
import { CometError, isCometError } from '../base/errors.js';
import {
  type Bus,
  type BusObserver,
  type BusState,
  type BusStats,
  EARLIEST,
  type Message,
  type PublishOptions,
  type ReadFrom,
  type ReadResult,
} from './bus.js';
import { encodeData } from './encode-data.js';
import { checkIdempotencyKey } from './idempotency.js';
import type { RangeRequest } from './redis-channel.js';
import { fullJitterBackoff, readyGate, shutDown, toBusError } from './redis-connection.js';
import { type FollowerCounters, RedisFollower } from './redis-follower.js';
import {
  channelKeys,
  compareCursors,
  compareStreamIds,
  formatCursor,
  newEpoch,
  parseCursor,
  UNBORN_EPOCH,
} from './redis-ids.js';
import { redisModule } from './redis-module.js';
import { count, type RedisBusClient, type RedisBusOptions } from './redis-options.js';
import {
  decodePublish,
  decodeRange,
  publishScript,
  type RangeReply,
  readScript,
  runScript,
} from './redis-scripts.js';

const debug = debuglog('comet:redis');

/** Channels whose highest seen id is remembered (see `raiseFloor`). */
const MAX_FLOORS = 10_000;

export type { ReconnectOptions } from './redis-connection.js';
export type { RedisBusClient, RedisBusOptions } from './redis-options.js';

/** What {@link RedisBus.state} reports. */
export interface RedisBusState extends BusState, FollowerCounters {
  /**
   * `ready`: both connections up and no channel failing; `degraded`: up, but
   * some channels cannot follow right now, or an UNSUBSCRIBE waits for its
   * retry; `down`: a connection is reconnecting; `closed`: after `close()`.
   */
  readonly status: BusState['status'];
  /** Publish and read calls waiting for Redis now. */
  readonly pending: number;
  /** Bytes of message data waiting for Redis now (until Redis answers, past a deadline). */
  readonly pendingBytes: number;
}

/** A {@link Bus} over Redis, with counters for tests and benchmarks. */
export interface RedisBus extends Bus {
  /** The bus's health, for a `/health` or readiness route (see {@link RedisBusState}). */
  state(): RedisBusState;
  /** Publish, reconnect and failure counts, and the Redis subscriptions (for the metrics). */
  stats(): BusStats;
  /** Local listeners on `channel`, or on every channel. */
  subscriberCount(channel?: string): number;
  /** Redis Pub/Sub subscriptions this bus holds: one per channel with local listeners. */
  redisSubscriptionCount(): number;
  /**
   * Resolves once both connections are up.
   * @throws CometError `COMET_ERR_BUS_UNAVAILABLE` after `timeout` ms (default 5000).
   */
  ready(timeout?: number): Promise<void>;
}

/**
 * Creates a {@link Bus} backed by Redis (see the module comment for the design).
 *
 * Channels are non-empty strings of at most `maxChannelLength` code units,
 * else calls throw `COMET_ERR_CHANNEL_INVALID`. Data is stored as JSON (a
 * value JSON cannot represent, like `undefined`, is stored as `null`); data
 * JSON cannot encode, or nested deeper than `maxDepth`, is refused with
 * `COMET_ERR_MESSAGE_INVALID`.
 * `subscribe` listeners get every message published after the call, once, in
 * order, across reconnects; the first listener on a channel opens this
 * process's one Pub/Sub subscription for it, the last one leaving closes it.
 * `publish` and `read` reject with `COMET_ERR_BUS_UNAVAILABLE` when Redis is
 * not back within `readyTimeout` or does not answer within `commandTimeout`.
 * `close()` quits both connections (an injected client stays open) and is
 * idempotent; afterwards calls throw `COMET_ERR_BUS_CLOSED`.
 *
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for an out-of-range option.
 * @example
 * ```ts
 * const bus = createRedisBus({ url: process.env.REDIS_URL, maxLen: 5000 });
 * bus.subscribe('room:lobby', (m) => console.log(m.id, m.data));
 * await bus.publish('room:lobby', { text: 'hi' }); // seen by every process
 * await bus.close();
 * ```
 */
export function createRedisBus(options: RedisBusOptions = {}): RedisBus {
  const prefix = options.keyPrefix ?? 'comet:';
  const maxLen = count(options.maxLen, 1000, 'maxLen', 0);
  const maxAge = count(options.maxAge, 0, 'maxAge', 0);
  const defaultReadLimit = count(options.defaultReadLimit, 100, 'defaultReadLimit', 1);
  const maxChannelLength = count(options.maxChannelLength, 256, 'maxChannelLength', 1);
  const maxDepth = count(options.maxDepth, 64, 'maxDepth', 1);
  const readyTimeout = count(options.readyTimeout, 1000, 'readyTimeout', 0);
  const commandTimeout = count(options.commandTimeout, 5000, 'commandTimeout', 1);
  const maxPending = count(options.maxPending, 1000, 'maxPending', 1);
  const maxPendingBytes = count(options.maxPendingBytes, 16 * 1024 * 1024, 'maxPendingBytes', 1);
  const pingInterval = count(options.pingInterval, 5000, 'pingInterval', 0);
  const socketTimeout = count(options.socketTimeout, 15_000, 'socketTimeout', 0);
  const channelTtl = count(options.channelTtl, 7 * 24 * 3600 * 1000, 'channelTtl', 0);
  const idempotencyWindow = count(options.idempotencyWindow, 600_000, 'idempotencyWindow', 1);
  const backoff = fullJitterBackoff(options.reconnect);
  const trimLength = maxLen > 0 ? String(maxLen) : '';
  const trimAge = maxAge > 0 ? String(maxAge) : '';
  const trimOp = options.exactTrim ? '=' : '~';
  const now = options.now ?? Date.now;

  const name = options.name ?? 'comet-bus';
  const owned = options.client === undefined;
  const client: RedisBusClient =
    options.client ??
    redisModule().createClient({
      url: options.url ?? 'redis://127.0.0.1:6379',
      name,
      disableOfflineQueue: true,
      ...(pingInterval > 0 ? { pingInterval } : {}),
      socket: {
        connectTimeout: count(options.connectTimeout, 5000, 'connectTimeout', 1),
        reconnectStrategy: backoff,
        ...(socketTimeout > 0 ? { socketTimeout } : {}),
      },
    });
  const subscriber = client.duplicate({ disableOfflineQueue: true, name: `${name}:sub` });
  const commandsReady = readyGate(client);
  const subscriberReady = readyGate(subscriber);
  let closed = false;
  let closing: Promise<void> | undefined;

  // The highest id seen per channel in its current epoch (see redis-scripts.ts:
  // a Redis whose history went back below it starts a new epoch). Bounded:
  // a channel pushed out only loses that check.
  const floors = new Map<string, { epoch: string; id: string }>();
  function raiseFloor(channel: string, epoch: string, id: string): void {
    if (epoch === UNBORN_EPOCH) return; // nothing to go back from; keep what we knew
    const floor = floors.get(channel);
    if (floor !== undefined && floor.epoch === epoch && compareStreamIds(id, floor.id) <= 0) return;
    floors.delete(channel);
    if (floors.size >= MAX_FLOORS) floors.delete(floors.keys().next().value as string);
    floors.set(channel, { epoch, id });
  }
  const floorArgs = (channel: string): [string, string] => {
    const floor = floors.get(channel);
    return floor === undefined ? ['', ''] : [floor.epoch, floor.id];
  };

  async function readRange(
    channel: string,
    request: RangeRequest,
    track?: (command: Promise<unknown>) => void,
  ): Promise<RangeReply> {
    await commandsReady(readyTimeout);
    const args =
      request.kind === 'after'
        ? ['after', request.epoch, request.after, String(request.limit)]
        : [request.kind, '', '', request.kind === 'now' ? '0' : String(request.limit)];
    const { stream, meta } = channelKeys(prefix, channel);
    const reply = await runScript(
      client,
      readScript,
      [stream, meta],
      [...args, ...floorArgs(channel)],
      commandTimeout,
      track,
    );
    const range = decodeRange(channel, reply);
    raiseFloor(channel, range.epoch, range.head);
    return range;
  }

  const follower = new RedisFollower({
    subscriber,
    keysOf: (channel) => channelKeys(prefix, channel),
    readRange,
    batch: defaultReadLimit,
    // Backoff for calls that failed while connected, at least 50 ms apart.
    retryDelay: (attempt) => 50 + backoff(attempt),
  });
  // Counts for `stats()` (the Prometheus metrics read them at scrape time).
  let publishes = 0;
  let publishedBytes = 0;
  let reconnects = 0;
  let commandsFailed = 0;
  let observer: BusObserver | undefined;
  const onError = (error: unknown) => debug('redis connection: %s', String(error));
  const onReady = () => follower.resync();
  const onReconnecting = () => {
    reconnects += 1;
    debug('reconnecting');
  };
  for (const connection of [client, subscriber]) {
    connection.on('error', onError);
    connection.on('ready', onReady);
    connection.on('reconnecting', onReconnecting);
  }
  if (!client.isOpen) client.connect().catch(onError);
  subscriber.connect().catch(onError);

  function check(channel: string): void {
    if (closed) throw new CometError('COMET_ERR_BUS_CLOSED');
    if (typeof channel !== 'string' || channel.length === 0 || channel.length > maxChannelLength) {
      throw new CometError('COMET_ERR_CHANNEL_INVALID');
    }
  }

  // Calls waiting for Redis, bounded (a stalled Redis must not grow the heap).
  // A call counts until its command settles, even after its deadline:
  // node-redis holds the command (and its data) until Redis answers or the
  // connection drops (the socket timeout sees to that).
  let pending = 0;
  let pendingBytes = 0;
  type Track = (command: Promise<unknown>) => void;
  async function bounded<T>(bytes: number, call: (track: Track) => Promise<T>): Promise<T> {
    if (pending >= maxPending || pendingBytes + bytes > maxPendingBytes) {
      throw new CometError('COMET_ERR_BUS_OVERLOADED');
    }
    pending += 1;
    pendingBytes += bytes;
    const release = () => {
      pending -= 1;
      pendingBytes -= bytes;
    };
    let command: Promise<unknown> | undefined;
    try {
      return await call((sent) => {
        command = sent;
      });
    } finally {
      if (command === undefined) release();
      else command.then(release, release);
    }
  }

  function toResult(range: RangeReply, after: ReadFrom): ReadResult {
    const head = formatCursor(range.epoch, range.head);
    const last = range.messages.at(-1);
    if (last) return { messages: range.messages, cursor: last.id, gap: false };
    if (range.gap) return { messages: [], cursor: head, gap: true };
    return {
      messages: [],
      cursor: after === undefined || after === EARLIEST ? head : after,
      gap: false,
    };
  }

  return {
    async publish(channel, data, publishOptions?: PublishOptions): Promise<Message> {
      check(channel);
      const key = publishOptions?.idempotencyKey;
      checkIdempotencyKey(key);
      // Full already: refuse before encoding (a burst during a stall).
      if (pending >= maxPending || pendingBytes >= maxPendingBytes) {
        throw new CometError('COMET_ERR_BUS_OVERLOADED');
      }
      // Refused here, before Redis, when it could not be encoded again on a read.
      const json = encodeData(data, maxDepth);
      const time = now();
      const { stream, meta, notify } = channelKeys(prefix, channel);
      const keys = [stream, meta, `${stream.slice(0, -':stream'.length)}:idem:${key ?? ''}`];
      const ttl = channelTtl > 0 ? String(channelTtl) : '';
      const window = key === undefined ? '' : String(idempotencyWindow);
      const args = [newEpoch(), json, String(time), trimLength, trimAge, trimOp, notify];
      const bytes = Buffer.byteLength(json);
      const started = performance.now();
      try {
        const message = await bounded(bytes, async (track) => {
          await commandsReady(readyTimeout);
          args.push(...floorArgs(channel), ttl, window);
          const reply = await runScript(client, publishScript, keys, args, commandTimeout, track);
          const stored = decodePublish(reply);
          raiseFloor(channel, stored.epoch, stored.streamId);
          const id = formatCursor(stored.epoch, stored.streamId);
          return { id, channel, data, time: stored.time };
        });
        publishes += 1;
        publishedBytes += bytes;
        observer?.publish((performance.now() - started) / 1000);
        return message;
      } catch (error) {
        if (closed) throw new CometError('COMET_ERR_BUS_CLOSED');
        commandsFailed += 1;
        throw toBusError(error);
      }
    },

    async read(channel, after, limit = defaultReadLimit): Promise<ReadResult> {
      check(channel);
      if (!Number.isSafeInteger(limit) || limit < 1) {
        throw new CometError('COMET_ERR_OPTIONS_INVALID', 'limit must be an integer >= 1');
      }
      let request: RangeRequest = { kind: 'now' };
      if (after === EARLIEST) request = { kind: 'earliest', limit };
      else if (after !== undefined) {
        const { epoch, streamId } = parseCursor(after);
        request = { kind: 'after', epoch, after: streamId, limit };
      }
      try {
        const range = await bounded(0, (track) => readRange(channel, request, track));
        return toResult(range, after);
      } catch (error) {
        if (closed) throw new CometError('COMET_ERR_BUS_CLOSED');
        if (!isCometError(error) || error.status >= 500) commandsFailed += 1;
        throw toBusError(error);
      }
    },

    subscribe(channel, listener, onGap) {
      check(channel);
      return follower.add(channel, listener, onGap);
    },

    compareIds: compareCursors,

    subscriberCount: (channel) => follower.listenerCount(channel),
    redisSubscriptionCount: () => follower.subscriptionCount(),

    state() {
      const counters = follower.counters();
      let status: RedisBusState['status'] = 'ready';
      if (closed) status = 'closed';
      else if (!client.isReady || !subscriber.isReady) status = 'down';
      else if (counters.failing > 0 || counters.leftovers > 0) status = 'degraded';
      return { status, pending, pendingBytes, ...counters };
    },

    stats() {
      return {
        publishes,
        publishedBytes,
        subscriptions: follower.subscriptionCount(),
        reconnects,
        // Calls that failed, and the follower's failed reads and SUBSCRIBEs (each retried).
        commandsFailed: commandsFailed + follower.counters().retries,
      };
    },

    observe(next) {
      observer = next;
    },

    async ready(timeout = 5000) {
      await Promise.all([commandsReady(timeout), subscriberReady(timeout)]);
    },

    close() {
      closing ??= (async () => {
        closed = true;
        follower.clear();
        // An injected client outlives the bus: take our listeners off it.
        if (!owned) {
          client.off('error', onError);
          client.off('ready', onReady);
          client.off('reconnecting', onReconnecting);
        }
        await Promise.all([
          shutDown(subscriber, commandTimeout),
          owned ? shutDown(client, commandTimeout) : undefined,
        ]);
      })();
      return closing;
    },
  };
}
