/**
 * The event bus contract every backend implements (docs/architecture.md, "The bus").
 *
 * Ids are opaque strings to clients and strictly increasing per channel. A
 * client that resumes with an id gets every message after it, in order,
 * exactly once. History is bounded; a cursor older than history, or from
 * another epoch (a restarted in-memory bus, a flushed Redis stream), yields
 * `gap: true` — never silently different messages.
 */

/** One published message. */
export interface Message {
  /** Opaque, strictly increasing per channel; doubles as the resume cursor. */
  readonly id: string;
  readonly channel: string;
  /** Any JSON value. */
  readonly data: unknown;
  /** Publish time, ms since the epoch. */
  readonly time: number;
}

/**
 * Where to start reading a channel:
 * - `undefined` — "from now": no messages, `cursor` is the current head;
 * - `'earliest'` — from the oldest message still in history;
 * - an id — every message after it.
 */
export type ReadFrom = string | undefined;

/** The answer to {@link Bus.read}. */
export interface ReadResult {
  /** Messages after the cursor, oldest first, at most `limit`. */
  readonly messages: readonly Message[];
  /**
   * Where the next read continues: the id of the last message returned, or
   * the position given when there were none. On a gap, the current head.
   */
  readonly cursor: string;
  /**
   * True when the given cursor is older than history or from another epoch.
   * `messages` is then empty and `cursor` is the head: the caller re-syncs
   * its state and follows on from there.
   */
  readonly gap: boolean;
}

/** What a bus holds in this process now (see {@link Bus.stats}). */
export interface BusStats {
  /** Estimated bytes of history retained in this process (in-process buses). */
  readonly bytes?: number;
  /** Messages retained in this process. */
  readonly messages?: number;
  /** Channels the bus keeps a record of in this process. */
  readonly channels?: number;
  /** Messages published through this bus object since it was created. */
  readonly publishes?: number;
  /** Bytes of those messages' data, JSON-encoded. */
  readonly publishedBytes?: number;
  /** Live subscriptions (listeners) on this bus object. */
  readonly subscriptions?: number;
  /** Reconnections to the backend (a network bus). */
  readonly reconnects?: number;
  /** Backend commands that failed or ran out of time (a network bus). */
  readonly commandsFailed?: number;
}

/** Called for every message published on a subscribed channel, in order. */
export type MessageListener = (message: Message) => void;

/**
 * Live delivery on a channel skipped messages, or may have (a network bus;
 * the in-memory bus never does):
 * - `lost` — messages after the last one delivered are gone from history
 *   (trimmed while this process could not follow, or the history itself was
 *   lost); delivery goes on with the messages after `cursor`. A stream sends
 *   its `reset` frame with `cursor`.
 * - `interrupted` — live delivery stopped, or restarted at a position that
 *   may be past messages still in history: re-read from your own position.
 */
export type LiveGap =
  | { readonly kind: 'lost'; readonly cursor: string }
  | { readonly kind: 'interrupted' };

/** Told of a {@link LiveGap} on a subscribed channel. */
export type GapListener = (gap: LiveGap) => void;

/**
 * A bus's health, for a `/health` or readiness route: `ready`; `degraded`
 * (it works, but some channels cannot follow right now and retry); `down`
 * (it cannot reach its backend: calls fail with 503); `closed`.
 */
export interface BusState {
  readonly status: 'ready' | 'degraded' | 'down' | 'closed';
}

/** Options of {@link Bus.publish}. */
export interface PublishOptions {
  /**
   * De-duplication: a publish with the key of a message stored on the same
   * channel within the bus's idempotency window stores nothing and resolves
   * to that message (a client retrying a publish that timed out sends the
   * same key). 1 to 128 visible ASCII characters.
   */
  readonly idempotencyKey?: string;
}

/**
 * A message bus: publish, read after a cursor, subscribe to live messages.
 *
 * @example
 * ```ts
 * const bus = createMemoryBus();
 * const off = bus.subscribe('room:lobby', (m) => console.log(m.data));
 * await bus.publish('room:lobby', { text: 'hi' });
 * off();
 * ```
 */
export interface Bus {
  /**
   * Appends `data` to `channel`'s history and notifies subscribers.
   * The data is encoded as JSON here, once: what a later read could not
   * encode again (a cycle, a BigInt, nesting deeper than the bus's `maxDepth`,
   * 64 by default) is refused with `COMET_ERR_MESSAGE_INVALID` and nothing is
   * stored, so no accepted message can make a read of its channel fail.
   * @throws CometError `COMET_ERR_BUS_UNAVAILABLE` when the backend cannot take it
   * now, `COMET_ERR_BUS_TIMEOUT` when it did not answer in time (the message
   * may still have been stored: retry with the same `idempotencyKey`),
   * `COMET_ERR_BUS_CLOSED` after {@link Bus.close},
   * `COMET_ERR_IDEMPOTENCY_KEY_INVALID` for a key out of shape.
   */
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<Message>;

  /**
   * Reads up to `limit` messages after `after` (see {@link ReadFrom}).
   * @throws CometError `COMET_ERR_CURSOR_MALFORMED` when `after` is not an id of
   * this bus's shape.
   */
  read(channel: string, after?: ReadFrom, limit?: number): Promise<ReadResult>;

  /**
   * Optional: the same read, answered synchronously. In-process buses offer
   * it so a held request can be answered or parked without a promise hop
   * (the hot path of every long-poll); network buses leave it out.
   * @throws CometError as {@link Bus.read}, synchronously.
   */
  readSync?(channel: string, after?: ReadFrom, limit?: number): ReadResult;

  /**
   * Calls `listener` for each message published on `channel` from now on,
   * and `onGap` when live delivery skipped (or may have skipped) messages.
   * Returns the unsubscribe function (idempotent).
   */
  subscribe(channel: string, listener: MessageListener, onGap?: GapListener): () => void;

  /**
   * Orders two ids of one channel: negative when `a` comes before `b`, 0
   * when equal, positive after; `undefined` when they cannot be compared
   * (different epochs, or not ids of this bus). Lets a live follower drop a
   * message it already sent from history, whatever the id format.
   * `compareIds(id, id)` is 0 exactly when `id` has this bus's shape (of any
   * epoch): the middleware checks a client's cursor with it before a
   * response starts, so anything else is a 400 on every route.
   */
  compareIds(a: string, b: string): number | undefined;

  /**
   * Optional: what the bus holds in this process's memory now (buses that
   * keep history in the process offer it; `comet().stats()` shows it).
   */
  stats?(): BusStats;

  /**
   * Optional: the bus's health (see {@link BusState}). A bus without it is
   * in-process and always `ready` until closed.
   */
  state?(): BusState;

  /** Releases every resource; later publishes reject with `COMET_ERR_BUS_CLOSED`. */
  close(): Promise<void>;

  /**
   * Optional: installs the observer told of each publish's round trip to a
   * backend (a network bus); one observer per bus, the last one wins.
   */
  observe?(observer: BusObserver): void;
}

/** Told of bus events worth a histogram (see {@link Bus.observe}). */
export interface BusObserver {
  /** A publish's round trip to the backend, in seconds. */
  publish(seconds: number): void;
}

/** The cursor value meaning "from the oldest message still in history". */
export const EARLIEST = 'earliest';
