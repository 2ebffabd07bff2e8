/**
 * The memory bus's bounds across channels: a byte budget (oldest first, a
 * gap for readers behind it), aged history expired on one timer without the
 * channel being touched, and idle channels forgotten without ids going
 * backwards or a lost message going unnoticed.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemoryBus } from '../../../lib/bus/memory.js';

const KIB = 1024;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

describe('memory bus bounds', () => {
  it('holds at most historyMaxBytes across channels, dropping the oldest first', async () => {
    const bus = createMemoryBus({ historyMaxBytes: 16 * KIB, epoch: 'e' });
    const heads: string[] = [];
    for (let i = 0; i < 100; i++) {
      heads.push((await bus.read(`room:${i}`)).cursor);
      await bus.publish(`room:${i}`, 'x'.repeat(KIB));
      expect(bus.stats().bytes).toBeLessThanOrEqual(16 * KIB);
    }
    const { messages, bytes, channels } = bus.stats();
    expect(messages).toBeGreaterThanOrEqual(10);
    expect(messages).toBeLessThan(16);
    expect(bytes).toBeGreaterThan(messages * KIB);
    // The rooms that lost their message are forgotten; the newest keep theirs.
    expect(channels).toBe(messages);
    const newest = await bus.read('room:99', heads[99]);
    expect(newest.messages.map((m) => m.data)).toEqual(['x'.repeat(KIB)]);
    // A reader of an evicted room sees a gap, never a silent skip.
    expect(await bus.read('room:0', heads[0])).toMatchObject({ messages: [], gap: true });
    await bus.close();
  });

  it('evicts by bytes within one channel too, as a gap', async () => {
    const bus = createMemoryBus({ historyMaxBytes: 8 * KIB });
    const first = await bus.publish('c', 'a'.repeat(KIB));
    for (let i = 0; i < 20; i++) await bus.publish('c', 'b'.repeat(KIB));
    expect(bus.stats().bytes).toBeLessThanOrEqual(8 * KIB);
    expect(await bus.read('c', first.id)).toMatchObject({ messages: [], gap: true });
    const earliest = await bus.read('c', 'earliest');
    expect(earliest.messages.length).toBe(bus.stats().messages);
    await bus.close();
  });

  it('expires aged history on a timer, without the channel being read again', async () => {
    const bus = createMemoryBus({ historyMaxAge: 1000 });
    for (let i = 0; i < 1000; i++) await bus.publish(`room:${i}`, { i });
    expect(bus.stats()).toMatchObject({ messages: 1000, channels: 1000 });
    // One timer for the whole bus, not one per channel.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(bus.stats().messages).toBe(1000);
    vi.advanceTimersByTime(2000);
    expect(bus.stats()).toMatchObject({ bytes: 0, messages: 0, channels: 0 });
    expect(vi.getTimerCount()).toBe(0);
    await bus.close();
  });

  it('expires messages of different ages as each comes of age', async () => {
    const bus = createMemoryBus({ historyMaxAge: 10_000 });
    await bus.publish('old', 1);
    vi.advanceTimersByTime(5_000);
    await bus.publish('young', 2);
    vi.advanceTimersByTime(6_500);
    expect(bus.stats()).toMatchObject({ messages: 1, channels: 1 });
    expect(bus.subscriberCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(bus.stats()).toMatchObject({ messages: 0, channels: 0 });
    await bus.close();
  });

  it('forgets an idle channel; its ids go on increasing and an old cursor is a gap', async () => {
    const bus = createMemoryBus({ historyMaxAge: 1000, epoch: 'e' });
    const head = (await bus.read('c')).cursor;
    const first = await bus.publish('c', 1);
    vi.advanceTimersByTime(3000);
    expect(bus.stats().channels).toBe(0);
    // Nothing of it is left, yet the reader who never saw `first` is told.
    expect(await bus.read('c', head)).toMatchObject({ messages: [], gap: true });
    expect(await bus.read('c', first.id)).toMatchObject({ messages: [], gap: false });
    const second = await bus.publish('c', 2);
    expect(seqOf(second.id)).toBeGreaterThan(seqOf(first.id));
    expect(await bus.read('c', first.id)).toEqual({
      messages: [second],
      cursor: second.id,
      gap: false,
    });
    expect(await bus.read('c', head)).toMatchObject({ messages: [], gap: true });
    await bus.close();
  });

  it('keeps the record of a channel someone follows', async () => {
    const bus = createMemoryBus({ historyMaxAge: 1000 });
    const off = bus.subscribe('followed', () => {});
    await bus.publish('followed', 1);
    vi.advanceTimersByTime(3000);
    expect(bus.stats()).toMatchObject({ bytes: 0, messages: 0, channels: 1 });
    off();
    expect(bus.stats().channels).toBe(0);
    await bus.close();
  });

  it('keeps ids strictly increasing across channels, forgotten or not', async () => {
    const bus = createMemoryBus({ historyMaxBytes: 4 * KIB, historyLimit: 2 });
    let previous = 0;
    for (let i = 0; i < 2000; i++) {
      const { id } = await bus.publish(`room:${i % 37}`, 'y'.repeat(100));
      expect(seqOf(id)).toBeGreaterThan(previous);
      previous = seqOf(id);
    }
    expect(bus.stats().bytes).toBeLessThanOrEqual(4 * KIB);
    await bus.close();
  });

  it('validates historyMaxBytes and releases its timer on close', async () => {
    expect(() => createMemoryBus({ historyMaxBytes: -1 })).toThrow(/historyMaxBytes/);
    const bus = createMemoryBus({ historyMaxAge: 1000 });
    await bus.publish('c', 1);
    expect(vi.getTimerCount()).toBe(1);
    await bus.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
