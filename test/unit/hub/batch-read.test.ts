/**
 * lib/hub/batch-read.ts against fake buses: one or several channels, the
 * combined cursor and per-channel positions, gaps (every channel back at its
 * head), the history window, synchronous and asynchronous reads.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type BatchRead,
  isSyncBus,
  readBatch,
  readBatchSync,
} from '../../../lib/hub/batch-read.js';
import { formatCursor, parseCursor } from '../../../lib/wire/cursor.js';
import { FakeBus } from '../../helpers/fake-bus.js';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
});
afterEach(() => vi.useRealTimers());

/** Reads on a bus of either flavour, answering parked reads until done. */
async function readOn(
  bus: FakeBus,
  channels: string[],
  positions: (string | undefined)[],
  limit = 10,
  windowMs?: number,
): Promise<BatchRead> {
  const result = readBatch(bus, { channels, positions }, limit, windowMs);
  if (!(result instanceof Promise)) return result;
  let done: BatchRead | undefined;
  let failed: unknown;
  result.then(
    (r) => {
      done = r;
    },
    (e: unknown) => {
      failed = e;
    },
  );
  for (let i = 0; i < 20 && done === undefined && failed === undefined; i++) {
    bus.resolveAll();
    await Promise.resolve();
  }
  if (failed !== undefined) throw failed;
  if (done === undefined) throw new Error('read never landed');
  return done;
}

describe.each(['sync', 'async'] as const)('readBatch on a %s bus', (mode) => {
  it('one channel: the bus cursor is the cursor and the one position', async () => {
    const bus = new FakeBus(mode);
    bus.add('a', 1);
    bus.add('a', 2);
    const read = await readOn(bus, ['a'], ['f-1']);
    expect(read.messages.map((m) => m.id)).toEqual(['f-2']);
    expect(read).toMatchObject({ cursor: 'f-2', gap: false, positions: ['f-2'] });
    const now = await readOn(bus, ['a'], [undefined]);
    expect(now).toMatchObject({ messages: [], cursor: 'f-2', positions: ['f-2'] });
  });

  it('several channels: merged by publish time, one combined cursor, a position each', async () => {
    const bus = new FakeBus(mode);
    bus.add('b', 'b1'); // t0
    vi.advanceTimersByTime(10);
    bus.add('a', 'a1'); // t10
    vi.advanceTimersByTime(10);
    bus.add('b', 'b2'); // t20
    bus.add('c', 'c1');
    const read = await readOn(bus, ['a', 'b', 'c'], ['earliest', 'earliest', 'f-4']);
    expect(read.messages.map((m) => m.data)).toEqual(['b1', 'a1', 'b2']);
    expect(read.positions).toEqual(['f-2', 'f-3', 'f-4']);
    expect(read.gap).toBe(false);
    expect(read.cursor).toBe(formatCursor(['f-2', 'f-3', 'f-4'], ['a', 'b', 'c']));
    expect(parseCursor(read.cursor, ['a', 'b', 'c'])).toEqual(['f-2', 'f-3', 'f-4']);
  });

  it('a limit applies per channel', async () => {
    const bus = new FakeBus(mode);
    for (let i = 0; i < 5; i++) bus.add('a', i);
    for (let i = 0; i < 5; i++) bus.add('b', i);
    const read = await readOn(bus, ['a', 'b'], ['earliest', 'earliest'], 2);
    expect(read.messages.map((m) => m.id)).toEqual(['f-1', 'f-2', 'f-6', 'f-7']);
    expect(read.positions).toEqual(['f-2', 'f-7']);
  });

  it('a gap on one channel: no messages, every channel at its head', async () => {
    const bus = new FakeBus(mode);
    bus.add('a', 1);
    bus.add('b', 2);
    bus.add('a', 3);
    const read = await readOn(bus, ['a', 'b'], ['f-0', 'x-1']);
    expect(read.messages).toEqual([]);
    expect(read.gap).toBe(true);
    expect(read.positions).toEqual(['f-3', 'f-2']);
    expect(parseCursor(read.cursor, ['a', 'b'])).toEqual(['f-3', 'f-2']);
    const one = await readOn(bus, ['a'], ['x-1']);
    expect(one).toMatchObject({ messages: [], gap: true, cursor: 'f-3', positions: ['f-3'] });
  });

  it('with a window, a next message older than it is a gap', async () => {
    const bus = new FakeBus(mode);
    bus.add('a', 'stale');
    vi.advanceTimersByTime(60_000);
    bus.add('a', 'fresh');
    const stale = await readOn(bus, ['a'], ['f-0'], 10, 30_000);
    expect(stale).toMatchObject({ messages: [], gap: true, cursor: 'f-2' });
    const fresh = await readOn(bus, ['a'], ['f-1'], 10, 30_000);
    expect(fresh.messages.map((m) => m.data)).toEqual(['fresh']);
    expect(fresh.gap).toBe(false);
  });

  it('a malformed position is COMET_ERR_CURSOR_MALFORMED', async () => {
    const bus = new FakeBus(mode);
    await expect(readOn(bus, ['a', 'b'], ['f-0', 'nonsense'])).rejects.toMatchObject({
      code: 'COMET_ERR_CURSOR_MALFORMED',
    });
  });
});

describe('readBatch: sync or async', () => {
  it('answers synchronously on a bus with readSync (readBatchSync), and by promise otherwise', () => {
    const sync = new FakeBus('sync');
    expect(isSyncBus(sync)).toBe(true);
    if (!isSyncBus(sync)) return;
    const one = readBatchSync(sync, { channels: ['a'], positions: [undefined] }, 10);
    expect(one).not.toBeInstanceOf(Promise);
    expect(one.positions).toHaveLength(1);
    const two = readBatchSync(
      sync,
      { channels: ['a', 'b'], positions: [undefined, undefined] },
      10,
    );
    expect(two.positions).toHaveLength(2);
    const async = new FakeBus('async');
    expect(isSyncBus(async)).toBe(false);
    expect(readBatch(async, { channels: ['a'], positions: [undefined] }, 10)).toBeInstanceOf(
      Promise,
    );
  });

  it('on an async bus, a gap costs a second round of reads for the heads', async () => {
    const bus = new FakeBus('async');
    bus.add('a', 1);
    bus.add('b', 2);
    const pending = readBatch(bus, { channels: ['a', 'b'], positions: ['x-1', 'f-0'] }, 10);
    expect(bus.pending.map((r) => `${r.channel}@${r.after}`)).toEqual(['a@x-1', 'b@f-0']);
    bus.resolveAll();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(bus.pending.map((r) => `${r.channel}@${r.after ?? '(now)'}`)).toEqual([
      'a@(now)',
      'b@(now)',
    ]);
    // Landing after the head reads were taken: not skipped, the next read finds it.
    bus.add('b', 3);
    bus.resolveAll();
    await expect(pending).resolves.toMatchObject({
      messages: [],
      gap: true,
      positions: ['f-1', 'f-2'],
    });
  });
});
