/**
 * lib/bus/redis-ids.ts: parse / format / compare of the Redis bus's ids
 * (`<epoch>-<ms>-<seq>`), one spelling per id, the unborn epoch, key names.
 */
import { describe, expect, it } from 'vitest';
import {
  channelKeys,
  compareCursors,
  compareStreamIds,
  formatCursor,
  newEpoch,
  parseCursor,
  STREAM_START,
  UNBORN_EPOCH,
} from '../../../lib/bus/redis-ids.js';

const EPOCH = '3f9a1c07be52';

describe('redis ids', () => {
  it('format and parse round-trip', () => {
    for (const streamId of [STREAM_START, '1732579200000-0', '1-18446744073709551615']) {
      const cursor = formatCursor(EPOCH, streamId);
      expect(parseCursor(cursor)).toEqual({ epoch: EPOCH, streamId });
    }
    expect(formatCursor(EPOCH, '5-1')).toBe(`${EPOCH}-5-1`);
  });

  it('refuses every other spelling with COMET_ERR_CURSOR_MALFORMED', () => {
    const bad = [
      '',
      EPOCH,
      `${EPOCH}-5`,
      `${EPOCH}-05-1`, // leading zero: one spelling per id
      `${EPOCH}-5-01`,
      `${EPOCH}-5-1-2`,
      `${EPOCH.toUpperCase()}-5-1`,
      `${'a'.repeat(17)}-5-1`, // epoch too long
      `${EPOCH}-${'1'.repeat(21)}-0`, // more digits than a 64-bit number
      ` ${EPOCH}-5-1`,
      `${EPOCH}-5-1\n`,
      'k1-5', // a memory bus id
    ];
    for (const cursor of bad) {
      expect(() => parseCursor(cursor), cursor).toThrow(
        expect.objectContaining({ code: 'COMET_ERR_CURSOR_MALFORMED' }),
      );
    }
    expect(() => parseCursor(undefined as unknown as string)).toThrow(
      expect.objectContaining({ code: 'COMET_ERR_CURSOR_MALFORMED' }),
    );
  });

  it('compares stream ids as numbers, beyond 2^53, by ms then seq', () => {
    expect(compareStreamIds('9-0', '10-0')).toBe(-1);
    expect(compareStreamIds('10-0', '9-0')).toBe(1);
    expect(compareStreamIds('10-2', '10-10')).toBe(-1);
    expect(compareStreamIds('10-10', '10-10')).toBe(0);
    expect(compareStreamIds('18446744073709551614-0', '18446744073709551615-0')).toBe(-1);
    expect(compareStreamIds('1-18446744073709551615', '2-0')).toBe(-1);
  });

  it('compares cursors within an epoch; other epochs and shapes cannot be compared', () => {
    const a = formatCursor(EPOCH, '5-1');
    const b = formatCursor(EPOCH, '5-2');
    expect(compareCursors(a, b)).toBe(-1);
    expect(compareCursors(b, a)).toBe(1);
    expect(compareCursors(a, a)).toBe(0);
    expect(compareCursors(a, formatCursor('aaaaaaaaaaaa', '9-9'))).toBeUndefined();
    expect(compareCursors(a, 'nonsense')).toBeUndefined();
    expect(compareCursors('nonsense', 'nonsense')).toBeUndefined();
  });

  it('the unborn head comes before every id of any epoch', () => {
    const unborn = formatCursor(UNBORN_EPOCH, STREAM_START);
    expect(compareCursors(unborn, formatCursor(EPOCH, '0-1'))).toBe(-1);
    expect(compareCursors(formatCursor(EPOCH, '0-1'), unborn)).toBe(1);
    expect(compareCursors(unborn, unborn)).toBe(0);
  });

  it('new epochs are 12 hex digits, distinct, and never the unborn one', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const epoch = newEpoch();
      expect(epoch).toMatch(/^[0-9a-f]{12}$/);
      expect(epoch).not.toBe(UNBORN_EPOCH);
      seen.add(epoch);
      expect(parseCursor(formatCursor(epoch, '1-0')).epoch).toBe(epoch);
    }
    expect(seen.size).toBe(50);
  });

  it('a channel key set shares one hash tag (one cluster slot)', () => {
    expect(channelKeys('comet:', 'room:lobby')).toEqual({
      stream: 'comet:{room:lobby}:stream',
      meta: 'comet:{room:lobby}:meta',
      notify: 'comet:{room:lobby}:notify',
    });
  });
});
