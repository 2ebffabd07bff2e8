/**
 * lib/longpoll/wake-group.ts: one read for the waiters one message woke, whether the
 * read lands synchronously, later (a promise resolved by hand), or fails;
 * waiters joining after it landed settle at once.
 */
import { describe, expect, it } from 'vitest';
import type { BatchRead } from '../../../lib/hub/batch-read.js';
import {
  type ReadOutcome,
  type Settled,
  type Settler,
  WakeGroup,
} from '../../../lib/longpoll/wake-group.js';

const read: BatchRead = { messages: [], cursor: 'f-1', gap: false, positions: ['f-1'] };
const outcome: ReadOutcome = { read, body: Buffer.from('{}') };

class Waiter implements Settler {
  readonly settled: Settled[] = [];
  settle(o: Settled): void {
    this.settled.push(o);
  }
}

/** A promise the test resolves or rejects by hand. */
function controlled<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('wake group', () => {
  it('a synchronous read runs once and settles every waiter at once, late joiners too', () => {
    let reads = 0;
    const group = new WakeGroup({
      sync: true,
      now: () => {
        reads++;
        return outcome;
      },
    });
    const a = new Waiter();
    const b = new Waiter();
    group.add(a);
    group.add(b);
    expect(reads).toBe(1);
    expect(a.settled).toEqual([outcome]);
    expect(b.settled[0]).toBe(outcome);
  });

  it('an asynchronous read settles nobody until it lands, then everyone once', async () => {
    const pending = controlled<ReadOutcome>();
    let reads = 0;
    const group = new WakeGroup({
      sync: false,
      later: () => {
        reads++;
        return pending.promise;
      },
    });
    const a = new Waiter();
    const b = new Waiter();
    group.add(a);
    group.add(b);
    await flush();
    expect(a.settled).toEqual([]);
    pending.resolve(outcome);
    await flush();
    expect(a.settled).toEqual([outcome]);
    expect(b.settled).toEqual([outcome]);
    // Joining after the read landed: settled at once, with the same outcome, no new read.
    const late = new Waiter();
    group.add(late);
    expect(late.settled[0]).toBe(outcome);
    expect(reads).toBe(1);
    expect(a.settled).toHaveLength(1);
  });

  it('a waiter joining while the read is in flight is settled with the others', async () => {
    const pending = controlled<ReadOutcome>();
    const group = new WakeGroup({ sync: false, later: () => pending.promise });
    const a = new Waiter();
    group.add(a);
    await flush();
    const b = new Waiter();
    group.add(b);
    pending.resolve(outcome);
    await flush();
    expect([a.settled.length, b.settled.length]).toEqual([1, 1]);
  });

  it('a read that throws or rejects settles every waiter with the error', async () => {
    const boom = new Error('boom');
    const sync = new WakeGroup({
      sync: true,
      now: () => {
        throw boom;
      },
    });
    const a = new Waiter();
    sync.add(a);
    expect(a.settled).toEqual([{ error: boom }]);

    const pending = controlled<ReadOutcome>();
    const async = new WakeGroup({ sync: false, later: () => pending.promise });
    const b = new Waiter();
    async.add(b);
    pending.reject(boom);
    await flush();
    expect(b.settled).toEqual([{ error: boom }]);
    const late = new Waiter();
    async.add(late);
    expect(late.settled).toEqual([{ error: boom }]);
  });
});
