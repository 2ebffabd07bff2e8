/**
 * The client-facing cursor of a request that follows one or more channels.
 *
 * Following one channel, the cursor is the bus id itself (so a message id
 * doubles as a resume point, as SSE's `Last-Event-ID` expects). Following
 * several, it is one compact token holding an id per channel:
 * `c.` + entries joined by `.`, each entry a 4-character tag of the channel
 * name (24 bits of FNV-1a, base64url) followed by the channel's id. No
 * channel names travel, so at {@link MAX_CHANNELS} channels the token fits
 * {@link MAX_CURSOR_LENGTH} whatever the names (ids of both shipped buses
 * are at most 58 characters: 32 × (4 + 58) + 31 + 2 = 2,017). The older
 * `m.` + base64url(JSON `{channel: id}`) form is still read. Clients never
 * look inside either.
 */

import { CometError } from '../base/errors.js';
import { EARLIEST } from '../bus/bus.js';

/** Longest cursor accepted from a client, in characters. */
export const MAX_CURSOR_LENGTH = 2048;

/** Most channels one request may follow (more is a 400 `COMET_ERR_CHANNELS_TOO_MANY`). */
export const MAX_CHANNELS = 32;

const MULTI_PREFIX = 'm.';
const COMPACT_PREFIX = 'c.';
const TAG_LENGTH = 4;
/** What a compact entry's id may hold: `.` separates entries. */
const COMPACT_ID = /^[A-Za-z0-9_-]*$/;
const COMPACT_TOKEN = /^[A-Za-z0-9_.-]+$/;

/** What can tell its own ids from anything else: `compareIds(id, id)` is 0 only for those. */
export interface IdChecker {
  compareIds(a: string, b: string): number | undefined;
}

/**
 * Splits a client cursor into one read position per channel (same order as
 * `channels`): `undefined` (from now), `'earliest'`, or a bus id.
 * An empty string is the same as no cursor. With `bus`, every id is also
 * checked to be of that bus's shape (see {@link checkPositions}).
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for a token that is not ours.
 */
export function parseCursor(
  raw: string | undefined,
  channels: readonly string[],
  bus?: IdChecker,
): (string | undefined)[] {
  const positions = splitCursor(raw, channels);
  if (bus !== undefined) checkPositions(bus, positions);
  return positions;
}

function splitCursor(raw: string | undefined, channels: readonly string[]): (string | undefined)[] {
  if (raw === undefined || raw === '') return channels.map(() => undefined);
  if (raw.length > MAX_CURSOR_LENGTH) throw malformed();
  if (raw === EARLIEST) return channels.map(() => EARLIEST);
  if (channels.length === 1) return [parseSingleCursor(raw)];
  if (raw.startsWith(COMPACT_PREFIX))
    return decodeCompact(raw.slice(COMPACT_PREFIX.length), channels);
  if (!raw.startsWith(MULTI_PREFIX)) throw malformed();
  const map = decodeMap(raw.slice(MULTI_PREFIX.length));
  return channels.map((channel) => map[channel]);
}

/**
 * Refuses a position that is not "from now", `earliest`, or an id of the
 * bus's own shape (`compareIds(id, id) === 0`). Run before a response
 * starts, so a cursor the bus cannot parse is a 400 on every route and
 * transport; a well-formed id of another epoch passes (the read answers a gap).
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED`.
 */
export function checkPositions(bus: IdChecker, positions: readonly (string | undefined)[]): void {
  for (const p of positions) {
    if (p !== undefined && p !== EARLIEST && bus.compareIds(p, p) !== 0) throw malformed();
  }
}

/**
 * The read position of a request that follows one channel: the same as
 * `parseCursor(raw, [channel])[0]`, without the array.
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for a token that is not ours.
 */
export function parseSingleCursor(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (
    raw.length > MAX_CURSOR_LENGTH ||
    raw.startsWith(MULTI_PREFIX) ||
    raw.startsWith(COMPACT_PREFIX)
  ) {
    throw malformed();
  }
  return raw;
}

/** Joins per-channel positions (same order as `channels`) into one client cursor. */
export function formatCursor(ids: readonly string[], channels: readonly string[]): string {
  if (channels.length === 1) return ids[0] ?? '';
  if (ids.every((id) => COMPACT_ID.test(id))) {
    const entries = channels.map((channel, i) => channelTag(channel) + (ids[i] ?? ''));
    return COMPACT_PREFIX + entries.join('.');
  }
  // Ids of a bus that uses other characters: the self-describing form.
  const map: Record<string, string> = {};
  channels.forEach((channel, i) => {
    map[channel] = ids[i] ?? '';
  });
  return MULTI_PREFIX + Buffer.from(JSON.stringify(map)).toString('base64url');
}

/** 24 bits of FNV-1a over the name's UTF-16 units, as 4 base64url characters. */
function channelTag(channel: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < channel.length; i++) {
    h ^= channel.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h = (h ^ (h >>> 24)) & 0xffffff;
  const bytes = Buffer.from([h >>> 16, (h >>> 8) & 0xff, h & 0xff]);
  return bytes.toString('base64url');
}

/**
 * Positions from a compact token. Channels whose tags collide take their
 * entries in order; a channel with no entry (the request follows a channel
 * the cursor did not know) starts from now.
 */
function decodeCompact(token: string, channels: readonly string[]): (string | undefined)[] {
  if (!COMPACT_TOKEN.test(token)) throw malformed();
  const byTag = new Map<string, string[]>();
  for (const entry of token.split('.')) {
    if (entry.length < TAG_LENGTH) throw malformed();
    const tag = entry.slice(0, TAG_LENGTH);
    const list = byTag.get(tag);
    if (list === undefined) byTag.set(tag, [entry.slice(TAG_LENGTH)]);
    else list.push(entry.slice(TAG_LENGTH));
  }
  return channels.map((channel) => {
    const id = byTag.get(channelTag(channel))?.shift();
    return id === undefined || id === '' ? undefined : id;
  });
}

function decodeMap(token: string): Record<string, string> {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw malformed();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed();
  const map: Record<string, string> = Object.create(null);
  for (const [channel, id] of Object.entries(value)) {
    if (typeof id !== 'string' || id === '') throw malformed();
    map[channel] = id;
  }
  return map;
}

function malformed(): CometError {
  return new CometError('COMET_ERR_CURSOR_MALFORMED');
}
