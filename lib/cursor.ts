/**
 * The client-facing cursor of a request that follows one or more channels.
 *
 * Following one channel, the cursor is the bus id itself (so a message id
 * doubles as a resume point, as SSE's `Last-Event-ID` expects). Following
 * several, it is one opaque token holding an id per channel:
 * `m.` + base64url(JSON `{channel: id}`). Clients never look inside either.
 */
import { EARLIEST } from './bus/bus.js';
import { CometError } from './errors.js';

/** Longest cursor accepted from a client, in characters. */
export const MAX_CURSOR_LENGTH = 2048;

const MULTI_PREFIX = 'm.';

/**
 * Splits a client cursor into one read position per channel (same order as
 * `channels`): `undefined` (from now), `'earliest'`, or a bus id.
 * An empty string is the same as no cursor.
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for a token that is not ours.
 */
export function parseCursor(
  raw: string | undefined,
  channels: readonly string[],
): (string | undefined)[] {
  if (raw === undefined || raw === '') return channels.map(() => undefined);
  if (raw.length > MAX_CURSOR_LENGTH) throw malformed();
  if (raw === EARLIEST) return channels.map(() => EARLIEST);
  if (channels.length === 1) return [parseSingleCursor(raw)];
  if (!raw.startsWith(MULTI_PREFIX)) throw malformed();
  const map = decodeMap(raw.slice(MULTI_PREFIX.length));
  return channels.map((channel) => map[channel]);
}

/**
 * The read position of a request that follows one channel: the same as
 * `parseCursor(raw, [channel])[0]`, without the array.
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for a token that is not ours.
 */
export function parseSingleCursor(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > MAX_CURSOR_LENGTH || raw.startsWith(MULTI_PREFIX)) throw malformed();
  return raw;
}

/** Joins per-channel positions (same order as `channels`) into one client cursor. */
export function formatCursor(ids: readonly string[], channels: readonly string[]): string {
  if (channels.length === 1) return ids[0] ?? '';
  const map: Record<string, string> = {};
  channels.forEach((channel, i) => {
    map[channel] = ids[i] ?? '';
  });
  return MULTI_PREFIX + Buffer.from(JSON.stringify(map)).toString('base64url');
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
