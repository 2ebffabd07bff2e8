/**
 * Reading a batch for a request that follows one or several channels, with
 * one combined cursor (see `cursor.ts`).
 */
import type { Bus, Message, ReadResult } from '../bus/bus.js';
import { formatCursor } from '../wire/cursor.js';
import type { Batch } from '../wire/envelope.js';

/** What a request reads: its channels and a position in each. */
export interface ReadPosition {
  readonly channels: readonly string[];
  readonly positions: readonly (string | undefined)[];
}

/** A batch plus the per-channel positions it leaves the reader at. */
export interface BatchRead extends Batch {
  readonly positions: readonly string[];
}

/** A bus that can read synchronously (an in-process bus: {@link Bus.readSync}). */
export type SyncBus = Bus & Required<Pick<Bus, 'readSync'>>;

/** True when `bus` reads synchronously (see {@link readBatchSync}). */
export function isSyncBus(bus: Bus): bus is SyncBus {
  return bus.readSync !== undefined;
}

/**
 * Reads up to `limit` messages per channel after each position, synchronously,
 * from an in-process bus: the long-poll hot path, with no promise hop.
 *
 * A gap on any channel answers `gap: true` with no messages and every
 * channel at its head: the client re-syncs and follows on from there.
 * Messages from several channels are merged by publish time. With
 * `windowMs`, a cursor whose next message is older than that is a gap too
 * (the client re-syncs instead of replaying stale history).
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` from the bus.
 */
export function readBatchSync(
  bus: SyncBus,
  at: ReadPosition,
  limit: number,
  windowMs?: number,
): BatchRead {
  const { channels, positions } = at;
  const [only] = channels;
  if (only !== undefined && channels.length === 1 && windowMs === undefined) {
    // The hottest path: one channel, no window.
    const { messages, cursor, gap } = bus.readSync(only, positions[0], limit);
    return { messages, cursor, gap, positions: [cursor] };
  }
  const results = channels.map((c, i) => bus.readSync(c, positions[i], limit));
  if (!isGap(results, windowMs)) return joined(channels, results);
  return reset(
    channels,
    channels.map((c) => bus.readSync(c, undefined).cursor),
  );
}

/**
 * {@link readBatchSync}'s semantics for any bus: synchronous underneath when
 * the bus can (`readSync`), else one read per channel in parallel (and one
 * more for each head on a gap).
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` from the bus (as a rejection).
 */
export async function readBatch(
  bus: Bus,
  at: ReadPosition,
  limit: number,
  windowMs?: number,
): Promise<BatchRead> {
  if (isSyncBus(bus)) return readBatchSync(bus, at, limit, windowMs);
  const { channels, positions } = at;
  const results = await Promise.all(channels.map((c, i) => bus.read(c, positions[i], limit)));
  if (!isGap(results, windowMs)) return joined(channels, results);
  const heads = await Promise.all(channels.map(async (c) => (await bus.read(c, undefined)).cursor));
  return reset(channels, heads);
}

/** Whether any channel's read is a gap, or (with `windowMs`) starts with a message older than that. */
function isGap(results: readonly ReadResult[], windowMs: number | undefined): boolean {
  const oldest = windowMs === undefined ? 0 : Date.now() - windowMs;
  return results.some((r) => r.gap || (r.messages[0] !== undefined && r.messages[0].time < oldest));
}

/** The batch of per-channel reads without a gap: messages merged by publish time. */
function joined(channels: readonly string[], results: readonly ReadResult[]): BatchRead {
  const [only] = results;
  if (only !== undefined && results.length === 1) {
    return { messages: only.messages, cursor: only.cursor, gap: false, positions: [only.cursor] };
  }
  const next = results.map((r) => r.cursor);
  const messages: Message[] = results.flatMap((r) => r.messages);
  if (messages.length > 1) messages.sort((a, b) => a.time - b.time);
  return { messages, cursor: formatCursor(next, channels), gap: false, positions: next };
}

/** The gap batch: no messages, every channel restarting at its head. */
function reset(channels: readonly string[], heads: string[]): BatchRead {
  return { messages: [], cursor: formatCursor(heads, channels), gap: true, positions: heads };
}
