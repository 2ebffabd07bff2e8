/** lib/cursor.ts: the compact multi-channel cursor, its length at the cap, and the shape check. */
import { describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../lib/bus/memory.js';
import {
  checkPositions,
  formatCursor,
  MAX_CHANNELS,
  MAX_CURSOR_LENGTH,
  parseCursor,
} from '../../lib/cursor.js';

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
