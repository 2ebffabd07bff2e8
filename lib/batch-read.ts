/**
 * Reading a batch for a request that follows one or several channels, with
 * one combined cursor (see `cursor.ts`).
 */
import type { Bus, Message, ReadResult } from './bus/bus.js';
import { formatCursor } from './cursor.js';
import type { Batch } from './envelope.js';

/** What a request reads: its channels and a position in each. */
export interface ReadPosition {
  readonly channels: readonly string[];
  readonly positions: readonly (string | undefined)[];
}

/** A batch plus the per-channel positions it leaves the reader at. */
export interface BatchRead extends Batch {
  readonly positions: readonly string[];
}

/**
 * Reads up to `limit` messages per channel after each position.
 *
 * A gap on any channel answers `gap: true` with no messages and every
 * channel at its head: the client re-syncs and follows on from there.
 * Messages from several channels are merged by publish time. With
 * `windowMs`, a cursor whose next message is older than that is a gap too
 * (the client re-syncs instead of replaying stale history).
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` from the bus.
 */
export function readBatch(
  bus: Bus,
  at: ReadPosition,
  limit: number,
  windowMs?: number,
): BatchRead | Promise<BatchRead> {
  const { channels, positions } = at;
  if (bus.readSync !== undefined && channels.length === 1 && windowMs === undefined) {
    // The hot path: one channel on an in-process bus.
    const result = bus.readSync(channels[0] as string, positions[0], limit);
    const { messages, cursor, gap } = result;
    return { messages, cursor, gap, positions: [cursor] };
  }
  const readSync = bus.readSync?.bind(bus);
  if (readSync) {
    // In-process bus: answer without a promise hop (the long-poll hot path).
    const results = channels.map((c, i) => readSync(c, positions[i], limit));
    const heads = () => channels.map((c) => readSync(c, undefined).cursor);
    return combine(channels, results, windowMs, heads) as BatchRead;
  }
  return readAsync(bus, at, limit, windowMs);
}

async function readAsync(
  bus: Bus,
  at: ReadPosition,
  limit: number,
  windowMs: number | undefined,
): Promise<BatchRead> {
  const { channels, positions } = at;
  const results = await Promise.all(channels.map((c, i) => bus.read(c, positions[i], limit)));
  const batch = combine(channels, results, windowMs, undefined);
  if (batch !== undefined) return batch;
  const heads = await Promise.all(channels.map(async (c) => (await bus.read(c, undefined)).cursor));
  return combine(channels, results, windowMs, () => heads) as BatchRead;
}

/**
 * One batch from per-channel reads. On a gap every channel restarts at its
 * head: `heads()` gives them, or, when it is undefined (async bus), the
 * caller is told to fetch them (`undefined`).
 */
function combine(
  channels: readonly string[],
  results: readonly ReadResult[],
  windowMs: number | undefined,
  heads: (() => string[]) | undefined,
): BatchRead | undefined {
  const oldest = windowMs === undefined ? 0 : Date.now() - windowMs;
  const gap = results.some(
    (r) => r.gap || (r.messages[0] !== undefined && r.messages[0].time < oldest),
  );
  if (channels.length === 1 && !gap) {
    const result = results[0] as ReadResult;
    return {
      messages: result.messages,
      cursor: result.cursor,
      gap: false,
      positions: [result.cursor],
    };
  }
  if (gap && heads === undefined) return undefined;
  const next = gap ? (heads as () => string[])() : results.map((r) => r.cursor);
  const messages: Message[] = gap ? [] : results.flatMap((r) => r.messages);
  if (channels.length > 1 && messages.length > 1) messages.sort((a, b) => a.time - b.time);
  return { messages, cursor: formatCursor(next, channels), gap, positions: next };
}
