/** lib/wire/cursor.ts: the compact multi-channel cursor, its length at the cap, and the shape check. */
import { describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../../lib/bus/memory.js';
import {
  checkPositions,
  formatCursor,
  MAX_CHANNELS,
  MAX_CURSOR_LENGTH,
  parseCursor,
  parseSingleCursor,
} from '../../../lib/wire/cursor.js';

const longName = (i: number) => `room:${'x'.repeat(200)}:${i}`;

describe('the multi-channel cursor', () => {
  it('the compact cursor fits the limit at the cap with the longest id either bus issues', () => {
    const channels = Array.from({ length: MAX_CHANNELS }, (_, i) => longName(i));
    // Redis: a 16-character epoch and two 20-digit decimals; memory ids are shorter.
    const longest = `${'z'.repeat(16)}-${'9'.repeat(20)}-${'9'.repeat(20)}`;
    const cursor = formatCursor(
      channels.map(() => longest),
      channels,
    );
    expect(cursor.length).toBeLessThanOrEqual(MAX_CURSOR_LENGTH);
    expect(parseCursor(cursor, channels)).toEqual(channels.map(() => longest));
    // Another order, or one channel more: each channel still finds its own id.
    const ids = channels.map((_, i) => `k1-${i + 1}`);
    const token = formatCursor(ids, channels);
    const reordered = [...channels].reverse();
    expect(parseCursor(token, reordered)).toEqual([...ids].reverse());
    expect(parseCursor(token, [...channels.slice(0, 2), 'room:new'])).toEqual([
      'k1-1',
      'k1-2',
      undefined,
    ]);
  });

  it('still reads the older m. form', () => {
    const old = `m.${Buffer.from(JSON.stringify({ a: 'k1-1', b: 'k1-2' })).toString('base64url')}`;
    expect(parseCursor(old, ['a', 'b'])).toEqual(['k1-1', 'k1-2']);
  });
});

describe('cursor round trips', () => {
  it('one channel: the cursor is the id itself', () => {
    expect(formatCursor(['k1-7'], ['room'])).toBe('k1-7');
    expect(parseCursor('k1-7', ['room'])).toEqual(['k1-7']);
    expect(parseSingleCursor('k1-7')).toBe('k1-7');
  });

  it('no cursor or an empty one is "from now"; earliest is earliest everywhere', () => {
    for (const raw of [undefined, '']) {
      expect(parseCursor(raw, ['a', 'b'])).toEqual([undefined, undefined]);
      expect(parseSingleCursor(raw)).toBeUndefined();
    }
    expect(parseCursor('earliest', ['a', 'b'])).toEqual(['earliest', 'earliest']);
  });

  it('several channels: a channel still "from now" stays so', () => {
    const token = formatCursor(['', 'k1-3'], ['a', 'b']);
    expect(token.startsWith('c.')).toBe(true);
    expect(parseCursor(token, ['a', 'b'])).toEqual([undefined, 'k1-3']);
  });

  it('ids with characters the compact form cannot hold use the self-describing form', () => {
    const ids = ['x.1', 'y:2/3'];
    const token = formatCursor(ids, ['a', 'b']);
    expect(token.startsWith('m.')).toBe(true);
    expect(parseCursor(token, ['b', 'a'])).toEqual(['y:2/3', 'x.1']);
  });

  it('Redis-shaped ids round-trip compactly', () => {
    const ids = ['3f9a1c07be52-1732579200000-0', '0-0-0'];
    const token = formatCursor(ids, ['room:a', 'room:b']);
    expect(token.startsWith('c.')).toBe(true);
    expect(parseCursor(token, ['room:a', 'room:b'])).toEqual(ids);
  });
});

describe('cursor limits and malformed tokens', () => {
  const malformed = expect.objectContaining({ code: 'COMET_ERR_CURSOR_MALFORMED' });

  it('accepts up to MAX_CURSOR_LENGTH characters, refuses one more', () => {
    const atLimit = 'k'.repeat(MAX_CURSOR_LENGTH);
    expect(parseSingleCursor(atLimit)).toBe(atLimit);
    expect(() => parseSingleCursor(`${atLimit}k`)).toThrow(malformed);
    expect(() => parseCursor(`${atLimit}k`, ['a'])).toThrow(malformed);
    expect(() => parseCursor(`c.${'A'.repeat(MAX_CURSOR_LENGTH)}`, ['a', 'b'])).toThrow(malformed);
  });

  it('refuses tokens that are not ours', () => {
    const bad = [
      'plain-id-for-two-channels',
      'c.',
      'c.abc', // an entry shorter than its tag
      'c.abcdk1-1.x', // the same
      'c.abcd k1-1',
      'm.!!!',
      `m.${Buffer.from('not json').toString('base64url')}`,
      `m.${Buffer.from('[1,2]').toString('base64url')}`,
      `m.${Buffer.from('null').toString('base64url')}`,
      `m.${Buffer.from('{"a":""}').toString('base64url')}`,
      `m.${Buffer.from('{"a":1}').toString('base64url')}`,
    ];
    for (const raw of bad) expect(() => parseCursor(raw, ['a', 'b']), raw).toThrow(malformed);
    // One channel: a multi-channel token is not an id.
    expect(() => parseSingleCursor('c.abcdk1-1')).toThrow(malformed);
    expect(() => parseSingleCursor('m.e30')).toThrow(malformed);
  });

  it('checks ids against the bus when given one', async () => {
    const bus = createMemoryBus({ epoch: 'k1' });
    const token = formatCursor(['k1-1', 'bad id'], ['a', 'b']);
    expect(parseCursor(token, ['a', 'b'])).toEqual(['k1-1', 'bad id']);
    expect(() => parseCursor(token, ['a', 'b'], bus)).toThrow(malformed);
    await bus.close();
  });
});

describe('checkPositions', () => {
  it('accepts from now, earliest and ids of the bus shape (any epoch); refuses the rest', async () => {
    const bus = createMemoryBus({ epoch: 'k1' });
    expect(() => checkPositions(bus, [undefined, 'earliest', 'k1-0', 'zz9-42'])).not.toThrow();
    for (const bad of ['hello', 'k1-01', '3f9a1c07be52-1732579200000-0', 'k1-1\n', ' k1-1']) {
      expect(() => checkPositions(bus, [bad])).toThrow(
        expect.objectContaining({ code: 'COMET_ERR_CURSOR_MALFORMED' }),
      );
    }
    await bus.close();
  });
});
