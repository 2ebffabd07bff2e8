/**
 * The bus contract: one suite, run against every {@link Bus} backend.
 *
 * Ids are opaque here: "strictly increasing" is checked by what a client can
 * observe (distinct ids, and reading after an id yields exactly the messages
 * published after it, in order), never by parsing ids.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { type CometErrorCode, isCometError } from '../base/errors.js';
import type { Bus, Message } from './bus.js';

/** The message at `index` (negative from the end) of a list the suite made, where it must be. */
function nth(messages: readonly Message[], index: number): Message {
  const message = messages.at(index);
  if (message === undefined) {
    throw new Error(`bus contract: no message at ${index} of ${messages.length}`);
  }
  return message;
}

/** How the contract obtains buses of the backend under test. */
export interface BusContractSetup {
  /** A fresh bus keeping `historyLimit` messages per channel. */
  create(options: { historyLimit: number }): Promise<Bus>;
  /**
   * A bus over "the same channels after their history was lost": a new
   * process for the memory bus, flushed keys for Redis. May close `bus`.
   */
  loseHistory(bus: Bus): Promise<Bus>;
  /** A second bus over the same storage (another process); shared backends only. */
  peer?(bus: Bus): Promise<Bus>;
  /** Runs after each test, once its buses are closed. */
  cleanup?(): Promise<void>;
}

/** Resolves once `predicate` holds; fails after `ms` (live delivery may be async). */
async function waitFor(predicate: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function expectCode(promise: Promise<unknown>, code: CometErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isCometError(error), `expected a CometError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

function channelName(label: string): string {
  return `contract:${label}:${randomBytes(6).toString('hex')}`;
}

async function publishMany(bus: Bus, channel: string, count: number): Promise<Message[]> {
  const out: Message[] = [];
  for (let i = 0; i < count; i++) out.push(await bus.publish(channel, { n: i }));
  return out;
}

/** The payloads that must survive any backend unchanged. */
const payloads: readonly unknown[] = [
  'line\u2028separator\u2029paragraph',
  'lone \ud800 surrogate',
  'nul\u0000byte',
  '</script><!--<script>',
  { nested: { deeper: [1, 'two', { three: true }] }, empty: {}, list: [] },
  0,
  -1.5e300,
  42,
  null,
  false,
  // 64 KiB of UTF-8: 2-, 3- and 4-byte characters, then ASCII.
  'é✓😀'.repeat(4096) + 'x'.repeat(65_536 - 9 * 4096),
];

/**
 * Declares the bus contract suite for one backend.
 *
 * @example
 * ```ts
 * busContract('memory', {
 *   create: async ({ historyLimit }) => createMemoryBus({ historyLimit }),
 *   loseHistory: async (bus) => { await bus.close(); return createMemoryBus(); },
 * });
 * ```
 */
export function busContract(name: string, setup: BusContractSetup): void {
  describe(`bus contract: ${name}`, () => {
    const opened: Bus[] = [];
    const track = (bus: Bus): Bus => {
      opened.push(bus);
      return bus;
    };
    const create = async (historyLimit = 1000) => track(await setup.create({ historyLimit }));

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((bus) => bus.close()));
      await setup.cleanup?.();
    });

    it('publish returns distinct ids, each followed by exactly the next messages', async () => {
      const bus = await create();
      const channel = channelName('ids');
      const sent = await publishMany(bus, channel, 12);
      expect(new Set(sent.map((m) => m.id)).size).toBe(12);
      sent.forEach((m, i) => {
        expect(m).toMatchObject({ channel, data: { n: i } });
        expect(typeof m.time).toBe('number');
      });
      for (let i = 0; i < sent.length; i++) {
        const { messages, gap } = await bus.read(channel, nth(sent, i).id);
        expect(gap).toBe(false);
        expect(messages.map((m) => m.id)).toEqual(sent.slice(i + 1).map((m) => m.id));
      }
    });

    it('following cursors reads every message once, in order (50 in pages of 7)', async () => {
      const bus = await create();
      const channel = channelName('pages');
      const start = await bus.read(channel);
      const sent = await publishMany(bus, channel, 50);
      const seen: Message[] = [];
      let cursor = start.cursor;
      for (let page = 0; page < 20; page++) {
        const result = await bus.read(channel, cursor, 7);
        expect(result.gap).toBe(false);
        expect(result.messages.length).toBeLessThanOrEqual(7);
        if (result.messages.length === 0) {
          expect(result.cursor).toBe(cursor);
          break;
        }
        expect(result.cursor).toBe(nth(result.messages, -1).id);
        seen.push(...result.messages);
        cursor = result.cursor;
      }
      expect(seen.map((m) => m.id)).toEqual(sent.map((m) => m.id));
      expect(seen.map((m) => m.data)).toEqual(sent.map((m) => m.data));
    });

    it('no cursor answers [] and the head; later messages follow that head', async () => {
      const bus = await create();
      const channel = channelName('head');
      const empty = await bus.read(channel);
      expect(empty).toEqual({ messages: [], cursor: expect.any(String), gap: false });
      const first = await bus.publish(channel, 'first');
      expect((await bus.read(channel, empty.cursor)).messages.map((m) => m.id)).toEqual([first.id]);

      const head = await bus.read(channel);
      expect(head).toEqual({ messages: [], cursor: first.id, gap: false });
      const second = await bus.publish(channel, 'second');
      const after = await bus.read(channel, head.cursor);
      expect(after).toEqual({ messages: [second], cursor: second.id, gap: false });
    });

    it("'earliest' starts from the oldest retained message", async () => {
      const bus = await create();
      const channel = channelName('earliest');
      const none = await bus.read(channel, 'earliest');
      expect(none.messages).toEqual([]);
      expect(none.gap).toBe(false);
      const sent = await publishMany(bus, channel, 5);
      const all = await bus.read(channel, 'earliest');
      expect(all).toEqual({ messages: sent, cursor: nth(sent, 4).id, gap: false });
      const firstTwo = await bus.read(channel, 'earliest', 2);
      expect(firstTwo.messages.map((m) => m.id)).toEqual([nth(sent, 0).id, nth(sent, 1).id]);
      expect(firstTwo.cursor).toBe(nth(sent, 1).id);
    });

    it('subscribe delivers live in order; unsubscribe stops delivery', async () => {
      const bus = await create();
      const channel = channelName('live');
      const got: Message[] = [];
      const witness: Message[] = [];
      const off = bus.subscribe(channel, (m) => got.push(m));
      const offWitness = bus.subscribe(channel, (m) => witness.push(m));
      const sent = await publishMany(bus, channel, 5);
      await waitFor(() => got.length === 5);
      expect(got.map((m) => m.id)).toEqual(sent.map((m) => m.id));
      expect(got.map((m) => m.data)).toEqual(sent.map((m) => m.data));

      off();
      off(); // idempotent
      const late = await bus.publish(channel, 'late');
      // The witness is still subscribed: once it has the message, so would `got`.
      await waitFor(() => witness.some((m) => m.id === late.id));
      expect(got).toHaveLength(5);
      offWitness();
    });

    it('history is bounded: a cursor older than history is a gap, never a skip', async () => {
      const bus = await create(10);
      const channel = channelName('bound');
      const sent = await publishMany(bus, channel, 25);
      const last = nth(sent, 24);
      const stale = await bus.read(channel, nth(sent, 2).id);
      expect(stale).toEqual({ messages: [], cursor: last.id, gap: true });
      // One message before that edge was evicted: still a gap.
      expect(await bus.read(channel, nth(sent, 13).id)).toEqual({
        messages: [],
        cursor: last.id,
        gap: true,
      });
      // The cursor right before the oldest retained message lost nothing.
      const edge = await bus.read(channel, nth(sent, 14).id);
      expect(edge.gap).toBe(false);
      expect(edge.messages.map((m) => m.id)).toEqual(sent.slice(15).map((m) => m.id));
      const earliest = await bus.read(channel, 'earliest');
      expect(earliest.messages.map((m) => m.id)).toEqual(sent.slice(15).map((m) => m.id));

      const next = await bus.publish(channel, 'after the gap');
      expect(await bus.read(channel, stale.cursor)).toEqual({
        messages: [next],
        cursor: next.id,
        gap: false,
      });
    });

    it('a cursor from before the history was lost is a gap, even an empty head', async () => {
      const before = await create();
      const busy = channelName('lost');
      const quiet = channelName('lost-empty');
      const old = await publishMany(before, busy, 3);
      const emptyHead = (await before.read(quiet)).cursor;
      const after = track(await setup.loseHistory(before));
      const fresh = await publishMany(after, busy, 5);
      await publishMany(after, quiet, 2);
      for (const cursor of [nth(old, 0).id, nth(old, 2).id]) {
        expect(await after.read(busy, cursor)).toEqual({
          messages: [],
          cursor: nth(fresh, 4).id,
          gap: true,
        });
      }
      // A head read before anything was published: a gap, or (a bus that keeps
      // nothing for a channel nobody published to) every message since —
      // never some of them.
      const quietResult = await after.read(quiet, emptyHead);
      if (quietResult.gap) expect(quietResult.messages).toEqual([]);
      else expect(quietResult.messages.map((m) => m.data)).toEqual([{ n: 0 }, { n: 1 }]);
    });

    it('compareIds orders ids of one channel and refuses other epochs', async () => {
      const before = await create();
      const channel = channelName('order');
      const head = (await before.read(channel)).cursor;
      const pair = await publishMany(before, channel, 2);
      const a = nth(pair, 0);
      const b = nth(pair, 1);
      expect(before.compareIds(head, a.id)).toBeLessThan(0);
      expect(before.compareIds(a.id, b.id)).toBeLessThan(0);
      expect(before.compareIds(b.id, a.id)).toBeGreaterThan(0);
      expect(before.compareIds(a.id, a.id)).toBe(0);
      expect(before.compareIds('not an id', a.id)).toBeUndefined();
      const after = track(await setup.loseHistory(before));
      const fresh = nth(await publishMany(after, channel, 1), 0);
      expect(after.compareIds(fresh.id, a.id)).toBeUndefined();
      // An id compared with itself is 0 exactly when it has this bus's shape,
      // whatever its epoch: the middleware's cursor check before a response starts.
      expect(before.compareIds(fresh.id, fresh.id)).toBe(0);
      expect(after.compareIds(a.id, a.id)).toBe(0);
    });

    it('malformed cursors throw COMET_ERR_CURSOR_MALFORMED', async () => {
      const bus = await create();
      const channel = channelName('malformed');
      await bus.publish(channel, 'x');
      for (const cursor of ['abc', '', '../../etc', 'a'.repeat(2000), '1-2-3-4-5']) {
        await expectCode(bus.read(channel, cursor), 'COMET_ERR_CURSOR_MALFORMED');
        await expectCode(bus.read(channelName('none'), cursor), 'COMET_ERR_CURSOR_MALFORMED');
        if (cursor !== '') expect(bus.compareIds(cursor, cursor)).toBeUndefined();
      }
    });

    it('a publish retried with the same idempotencyKey stores once and answers the first message', async () => {
      const bus = await create();
      const channel = channelName('idem');
      const other = channelName('idem-other');
      const first = await bus.publish(channel, { n: 1 }, { idempotencyKey: 'order-1' });
      const again = await bus.publish(channel, { n: 1 }, { idempotencyKey: 'order-1' });
      expect(again).toMatchObject({ id: first.id, time: first.time });
      // Keys are per channel; another key is another message.
      const elsewhere = await bus.publish(other, { n: 1 }, { idempotencyKey: 'order-1' });
      const next = await bus.publish(channel, { n: 2 }, { idempotencyKey: 'order-2' });
      expect(elsewhere.channel).toBe(other);
      expect((await bus.read(other, 'earliest')).messages).toHaveLength(1);
      const read = await bus.read(channel, 'earliest');
      expect(read.messages.map((m) => m.id)).toEqual([first.id, next.id]);
      await expectCode(
        bus.publish(channel, 1, { idempotencyKey: 'not ok' }),
        'COMET_ERR_IDEMPOTENCY_KEY_INVALID',
      );
    });

    it('channels are independent', async () => {
      const bus = await create();
      const a = channelName('a');
      const b = channelName('b');
      const gotB: Message[] = [];
      bus.subscribe(b, (m) => gotB.push(m));
      const headB = (await bus.read(b)).cursor;
      const sentA = await publishMany(bus, a, 3);
      const sentB = await bus.publish(b, 'only b');
      expect((await bus.read(a, 'earliest')).messages).toEqual(sentA);
      expect((await bus.read(b, headB)).messages).toEqual([sentB]);
      await waitFor(() => gotB.length === 1);
      expect(nth(gotB, 0).id).toBe(sentB.id);
    });

    it('data round-trips exactly, in history and live', async () => {
      const bus = await create();
      const channel = channelName('data');
      const live: Message[] = [];
      bus.subscribe(channel, (m) => live.push(m));
      for (const data of payloads) await bus.publish(channel, data);
      const { messages } = await bus.read(channel, 'earliest');
      await waitFor(() => live.length === payloads.length);
      for (const received of [messages, live]) {
        expect(received).toHaveLength(payloads.length);
        received.forEach((m, i) => {
          expect(m.data).toEqual(payloads[i]);
          expect(JSON.stringify(m.data)).toBe(JSON.stringify(payloads[i]));
        });
      }
    });

    if (setup.peer) {
      const peerOf = setup.peer.bind(setup);

      it('a cursor from one bus resumes on its peer with nothing lost', async () => {
        const a = await create();
        const b = track(await peerOf(a));
        const channel = channelName('peer-read');
        const head = (await a.read(channel)).cursor;
        const sent = await publishMany(a, channel, 6);
        const onB = await b.read(channel, nth(sent, 2).id);
        expect(onB.messages.map((m) => m.id)).toEqual(sent.slice(3).map((m) => m.id));
        const more = await b.publish(channel, 'from b');
        const onA = await a.read(channel, onB.cursor);
        expect(onA.messages.map((m) => m.id)).toEqual([more.id]);
        const all = await b.read(channel, head);
        expect(all.messages.map((m) => m.id)).toEqual([...sent, more].map((m) => m.id));
      });

      it('a message published on one bus reaches a subscriber on its peer', async () => {
        const a = await create();
        const b = track(await peerOf(a));
        const channel = channelName('peer-live');
        const got: Message[] = [];
        b.subscribe(channel, (m) => got.push(m));
        // Bus.subscribe has no "ready" signal and a shared backend may take a
        // moment to be listening: probe until one probe arrives.
        const deadline = Date.now() + 5000;
        while (got.length === 0 && Date.now() < deadline) {
          await a.publish(channel, 'probe');
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        const sent = await a.publish(channel, { hello: 'peer' });
        await waitFor(() => got.some((m) => m.id === sent.id), 5000);
        expect(got.at(-1)).toMatchObject({ id: sent.id, channel, data: { hello: 'peer' } });
      });
    }

    it('publish after close rejects with COMET_ERR_BUS_CLOSED', async () => {
      const bus = await create();
      await bus.close();
      await bus.close(); // idempotent
      await expectCode(bus.publish(channelName('closed'), 'x'), 'COMET_ERR_BUS_CLOSED');
    });
  });
}
