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

/** Called for every message published on a subscribed channel, in order. */
export type MessageListener = (message: Message) => void;

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
   * @throws CometError `COMET_ERR_BUS_UNAVAILABLE` when the backend cannot take it
   * now, `COMET_ERR_BUS_CLOSED` after {@link Bus.close}.
   */
  publish(channel: string, data: unknown): Promise<Message>;

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
   * Calls `listener` for each message published on `channel` from now on.
   * Returns the unsubscribe function (idempotent).
   */
  subscribe(channel: string, listener: MessageListener): () => void;

  /**
   * Orders two ids of one channel: negative when `a` comes before `b`, 0
   * when equal, positive after; `undefined` when they cannot be compared
   * (different epochs, or not ids of this bus). Lets a live follower drop a
   * message it already sent from history, whatever the id format.
   */
  compareIds(a: string, b: string): number | undefined;

  /** Releases every resource; later publishes reject with `COMET_ERR_BUS_CLOSED`. */
  close(): Promise<void>;
}

/** The cursor value meaning "from the oldest message still in history". */
export const EARLIEST = 'earliest';
