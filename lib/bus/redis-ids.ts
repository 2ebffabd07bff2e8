/**
 * Ids, cursors and key names of the Redis bus.
 *
 * A message id is `<epoch>-<stream id>`, e.g. `3f9a1c07be52-1732579200000-0`.
 * The stream id is the Redis Streams entry id (`<ms>-<seq>`); the epoch is a
 * random token stored beside the stream and replaced whenever the stream's
 * history is found lost (FLUSHALL, failover to an empty replica, eviction).
 * Clients treat the whole string as opaque; only this module parses it.
 */
import { randomBytes } from 'node:crypto';
import { CometError } from '../base/errors.js';

/** A parsed cursor: which history (epoch) and where in it (stream id). */
export interface StreamPosition {
  readonly epoch: string;
  readonly streamId: string;
}

/** The Redis names used for one channel. */
export interface ChannelKeys {
  /** The stream holding the channel's history. */
  readonly stream: string;
  /** A hash beside it: `e` = epoch, `l` = last stream id ever added in that epoch. */
  readonly meta: string;
  /** The Pub/Sub channel that wakes up followers after each publish. */
  readonly notify: string;
}

/** The stream id "before everything" in a fresh epoch. */
export const STREAM_START = '0-0';

// Redis never emits leading zeros, so refusing them keeps one spelling per id
// and lets ids compare by (length, text).
const DECIMAL = '(?:0|[1-9]\\d{0,19})';
const CURSOR_SHAPE = new RegExp(`^([0-9a-z]{1,16})-(${DECIMAL}-${DECIMAL})$`);

/**
 * Parses a cursor this bus issued.
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for any other string.
 */
export function parseCursor(cursor: string): StreamPosition {
  const [, epoch, streamId] = (typeof cursor === 'string' && CURSOR_SHAPE.exec(cursor)) || [];
  if (epoch === undefined || streamId === undefined) {
    throw new CometError('COMET_ERR_CURSOR_MALFORMED');
  }
  return { epoch, streamId };
}

/** The opaque message id / cursor for a stream id in an epoch. */
export function formatCursor(epoch: string, streamId: string): string {
  return `${epoch}-${streamId}`;
}

/** A fresh random epoch token (48 bits, hex). */
export function newEpoch(): string {
  return randomBytes(6).toString('hex');
}

function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders two Redis stream ids (`<ms>-<seq>`, no leading zeros): -1, 0 or 1. */
export function compareStreamIds(a: string, b: string): number {
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  return (
    compareDecimal(a.slice(0, da), b.slice(0, db)) ||
    compareDecimal(a.slice(da + 1), b.slice(db + 1))
  );
}

/**
 * The epoch of a channel with no usable history yet (nothing published, or
 * its history lost and nothing published since): never a {@link newEpoch}
 * (those are 12 hex digits). Its one position, `0-0`, comes before every
 * entry of whatever history the next publish starts.
 */
export const UNBORN_EPOCH = '0';

/**
 * Orders two cursors of this bus; `undefined` for other epochs or shapes,
 * except that the unborn head comes before every id.
 */
export function compareCursors(a: string, b: string): number | undefined {
  const [, epochA, idA] = CURSOR_SHAPE.exec(a) ?? [];
  const [, epochB, idB] = CURSOR_SHAPE.exec(b) ?? [];
  if (idA === undefined || idB === undefined) return undefined;
  if (epochA === epochB) return compareStreamIds(idA, idB);
  if (epochA === UNBORN_EPOCH) return -1;
  if (epochB === UNBORN_EPOCH) return 1;
  return undefined;
}

/**
 * The Redis names for `channel` under `prefix`.
 *
 * The channel sits in a `{hash tag}` so the stream and its meta hash land in
 * the same Redis Cluster slot (the Lua scripts touch both atomically).
 */
export function channelKeys(prefix: string, channel: string): ChannelKeys {
  const base = `${prefix}{${channel}}`;
  return { stream: `${base}:stream`, meta: `${base}:meta`, notify: `${base}:notify` };
}
