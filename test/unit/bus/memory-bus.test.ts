import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CometErrorCode, isCometError } from '../../../lib/base/errors.js';
import type { Message } from '../../../lib/bus/bus.js';
import { createMemoryBus } from '../../../lib/bus/memory.js';

function fakeClock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

async function expectCode(run: () => unknown, code: CometErrorCode): Promise<void> {
  let error: unknown;
  try {
    await run();
  } catch (err) {
    error = err;
  }
  expect(isCometError(error), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createMemoryBus', () => {
  it('evicts by age on read, using the injected clocks, and reports the gap', async () => {
    const clock = fakeClock();
    const bus = createMemoryBus({
      historyMaxAge: 1000,
      now: clock.now,
      clock: clock.now,
      epoch: 'e',
    });
    const m1 = await bus.publish('c', 1);
    clock.advance(500);
    const m2 = await bus.publish('c', 2);
    expect(m1.time).toBe(1_000_000);
    expect(m2.time).toBe(1_000_500);

    clock.advance(600); // m1 is 1100 ms old, m2 600 ms
    expect(await bus.read('c', 'e-0')).toEqual({ messages: [], cursor: 'e-2', gap: true });
    expect(await bus.read('c', m1.id)).toEqual({ messages: [m2], cursor: m2.id, gap: false });
    expect((await bus.read('c', 'earliest')).messages).toEqual([m2]);

    clock.advance(1000); // both gone; the seq survives
    expect(await bus.read('c', m1.id)).toEqual({ messages: [], cursor: 'e-2', gap: true });
    expect(await bus.read('c', m2.id)).toEqual({ messages: [], cursor: 'e-2', gap: false });
    expect(await bus.read('c', 'earliest')).toEqual({ messages: [], cursor: 'e-2', gap: false });
    const m3 = await bus.publish('c', 3);
    expect(m3.id).toBe('e-3');
    expect(await bus.read('c', m2.id)).toEqual({ messages: [m3], cursor: 'e-3', gap: false });
  });

  it('keeps messages forever by age when historyMaxAge is 0', async () => {
    const clock = fakeClock();
    const bus = createMemoryBus({ historyMaxAge: 0, clock: clock.now });
    const m1 = await bus.publish('c', 1);
    clock.advance(10 ** 12);
    expect((await bus.read('c', 'earliest')).messages).toEqual([m1]);
  });

  it('counts subscribers per channel and in total', async () => {
    const bus = createMemoryBus();
    expect(bus.subscriberCount()).toBe(0);
    const offA1 = bus.subscribe('a', () => {});
    const offA2 = bus.subscribe('a', () => {});
    const offB = bus.subscribe('b', () => {});
    expect(bus.subscriberCount('a')).toBe(2);
    expect(bus.subscriberCount('b')).toBe(1);
    expect(bus.subscriberCount('none')).toBe(0);
    expect(bus.subscriberCount()).toBe(3);
    offA1();
    offA1();
    expect(bus.subscriberCount('a')).toBe(1);
    expect(bus.subscriberCount()).toBe(2);
    offA2();
    offB();
    expect(bus.subscriberCount()).toBe(0);
    await bus.close();
    expect(bus.subscriberCount()).toBe(0);
  });

  it('uses the epoch option as the id prefix and validates it', async () => {
    const bus = createMemoryBus({ epoch: 'test1' });
    expect((await bus.read('c')).cursor).toBe('test1-0');
    expect((await bus.publish('c', 'x')).id).toBe('test1-1');
    expect(await bus.read('c', 'other-1')).toEqual({ messages: [], cursor: 'test1-1', gap: true });
    expect(await bus.read('c', 'test1-9')).toEqual({ messages: [], cursor: 'test1-1', gap: true });
    await expectCode(() => createMemoryBus({ epoch: 'Bad-Epoch' }), 'COMET_ERR_OPTIONS_INVALID');
    await expectCode(() => createMemoryBus({ historyLimit: -1 }), 'COMET_ERR_OPTIONS_INVALID');
    expect(createMemoryBus().subscriberCount()).toBe(0);
  });

  it('draws a random base36 epoch per instance by default', async () => {
    const a = (await createMemoryBus().publish('c', 1)).id;
    const b = (await createMemoryBus().publish('c', 1)).id;
    expect(a).toMatch(/^[0-9a-z]{8}-1$/);
    expect(a).not.toBe(b);
  });

  it('keeps calling the other listeners when one throws, and warns', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const bus = createMemoryBus();
    const got: string[] = [];
    bus.subscribe('c', () => got.push('first'));
    bus.subscribe('c', () => {
      throw new Error('boom');
    });
    bus.subscribe('c', () => got.push('third'));
    await expect(bus.publish('c', 'x')).resolves.toMatchObject({ data: 'x' });
    expect(got).toEqual(['first', 'third']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('boom');
  });

  it('does not deliver to listeners added during a publish; nested publishes stay in order', async () => {
    const bus = createMemoryBus();
    const first: unknown[] = [];
    const late: unknown[] = [];
    const last: unknown[] = [];
    bus.subscribe('c', (m) => {
      first.push(m.data);
      if (m.data === 1) {
        bus.subscribe('c', (n) => late.push(n.data));
        void bus.publish('c', 2);
      }
    });
    bus.subscribe('c', (m) => last.push(m.data));
    await bus.publish('c', 1);
    expect(first).toEqual([1, 2]);
    expect(last).toEqual([1, 2]);
    expect(late).toEqual([2]);
  });

  it('keeps ids strictly increasing over 10,000 publishes with bounded history', async () => {
    const bus = createMemoryBus({ historyLimit: 16, epoch: 'e' });
    let previous = 0;
    let lastMessage: Message | undefined;
    for (let i = 0; i < 10_000; i++) {
      lastMessage = await bus.publish('c', i);
      const seq = seqOf(lastMessage.id);
      expect(seq).toBeGreaterThan(previous);
      previous = seq;
    }
    const tail = await bus.read('c', 'earliest');
    expect(tail.messages.map((m) => m.data)).toEqual(
      Array.from({ length: 16 }, (_, i) => 9984 + i),
    );
    expect(tail.cursor).toBe(lastMessage?.id);
    // Data i has seq i + 1: seqs 9985..10000 remain, so 9984 is the last lossless cursor.
    expect(await bus.read('c', 'e-9984')).toMatchObject({ gap: false });
    expect(await bus.read('c', 'e-9983')).toMatchObject({ gap: true, cursor: 'e-10000' });
  });

  it('answers a repeated readSync with the same result until a publish or an eviction changes it', async () => {
    const clock = fakeClock();
    const bus = createMemoryBus({ clock: clock.now, historyLimit: 3, historyMaxAge: 1000 });
    const a = await bus.publish('c', 1);
    await bus.publish('c', 2);
    const first = bus.readSync?.('c', a.id, 10);
    // Pollers asking the same question share one answer object …
    expect(bus.readSync?.('c', a.id, 10)).toBe(first);
    expect(first?.messages.map((m) => m.data)).toEqual([2]);
    // … but not across limits,
    expect(bus.readSync?.('c', a.id, 1)).not.toBe(first);
    // nor across a publish (the next one is seen),
    await bus.publish('c', 3);
    expect(bus.readSync?.('c', a.id, 10)?.messages.map((m) => m.data)).toEqual([2, 3]);
    // nor across a count eviction (the cursor is now a gap),
    await bus.publish('c', 4);
    await bus.publish('c', 5);
    expect(bus.readSync?.('c', a.id, 10)).toMatchObject({ messages: [], gap: true });
    // nor across an age eviction with no publish in between.
    const head = bus.readSync?.('c', undefined).cursor as string;
    const before = bus.readSync?.('c', 'earliest', 10);
    expect(before?.messages.map((m) => m.data)).toEqual([3, 4, 5]);
    clock.advance(1001);
    expect(bus.readSync?.('c', 'earliest', 10)).toMatchObject({ messages: [], cursor: head });
    await bus.close();
  });

  it('caps reads at the limit, defaultReadLimit when none is given', async () => {
    const bus = createMemoryBus({ defaultReadLimit: 5 });
    const sent: Message[] = [];
    for (let i = 0; i < 12; i++) sent.push(await bus.publish('c', i));
    const page = await bus.read('c', 'earliest');
    expect(page.messages).toEqual(sent.slice(0, 5));
    expect(page.cursor).toBe(sent[4]?.id);
    const next = await bus.read('c', page.cursor, 3);
    expect(next.messages).toEqual(sent.slice(5, 8));
    await expectCode(() => bus.read('c', 'earliest', 0), 'COMET_ERR_OPTIONS_INVALID');
    await expectCode(() => bus.read('c', 'earliest', 1.5), 'COMET_ERR_OPTIONS_INVALID');
  });

  it('rejects invalid channels and, once closed, every call', async () => {
    const bus = createMemoryBus({ maxChannelLength: 8 });
    await expectCode(() => bus.publish('', 1), 'COMET_ERR_CHANNEL_INVALID');
    await expectCode(() => bus.publish('123456789', 1), 'COMET_ERR_CHANNEL_INVALID');
    await expectCode(() => bus.read(42 as unknown as string), 'COMET_ERR_CHANNEL_INVALID');
    await expectCode(() => bus.subscribe('', () => {}), 'COMET_ERR_CHANNEL_INVALID');
    await expectCode(() => bus.read('c', 'e-01'), 'COMET_ERR_CURSOR_MALFORMED');
    const off = bus.subscribe('c', () => {});
    await bus.close();
    off();
    await expectCode(() => bus.read('c'), 'COMET_ERR_BUS_CLOSED');
    await expectCode(() => bus.subscribe('c', () => {}), 'COMET_ERR_BUS_CLOSED');
    expect(bus.subscriberCount()).toBe(0);
  });
});
