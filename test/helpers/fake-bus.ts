/**
 * A small in-test {@link Bus} for unit tests of the core (no sockets, no
 * timers of its own), in two flavours:
 *
 * - `sync`: offers `readSync`, like the in-memory bus (the hot path);
 * - `async`: no `readSync`; every `read` is parked in {@link FakeBus.pending}
 *   until the test answers it by hand, so a race ("a message arrives while
 *   the read is in flight") is written out step by step. A parked read
 *   answers what the channel held when it was issued, as a backend that
 *   took the read before the publish would.
 *
 * Ids are `<epoch>-<n>` (`f-1`, `f-2`, … one counter for every channel).
 * A cursor of another epoch (`x-3`) is a gap; one that is not of that shape
 * is `COMET_ERR_CURSOR_MALFORMED`. Publishing notifies subscribers
 * synchronously, in order.
 */

import { CometError } from '../../lib/base/errors.js';
import type {
  Bus,
  GapListener,
  LiveGap,
  Message,
  MessageListener,
  ReadFrom,
  ReadResult,
} from '../../lib/bus/bus.js';

const ID_SHAPE = /^([a-z]{1,8})-(0|[1-9]\d{0,14})$/;

/** A read waiting for the test to answer it (async flavour). */
export interface PendingRead {
  readonly channel: string;
  readonly after: ReadFrom;
  readonly limit: number | undefined;
  /** Answers with what the channel held when the read was issued. */
  resolve(): void;
  /** Fails the read. */
  reject(error: unknown): void;
}

interface Subscriber {
  readonly listener: MessageListener;
  readonly onGap: GapListener | undefined;
}

/** See the module comment. */
export class FakeBus implements Bus {
  readonly epoch = 'f';
  readonly #history = new Map<string, Message[]>();
  readonly #subs = new Map<string, Set<Subscriber>>();
  #seq = 0;
  /** Reads parked until answered (async flavour only). */
  readonly pending: PendingRead[] = [];
  /** Every read issued, sync or async, as `channel@after`. */
  readonly reads: string[] = [];
  /** Subscribe and unsubscribe calls, as `+channel` / `-channel`. */
  readonly subscriptionLog: string[] = [];
  readSync?: (channel: string, after?: ReadFrom, limit?: number) => ReadResult;

  constructor(readonly mode: 'sync' | 'async') {
    if (mode === 'sync') {
      this.readSync = (channel, after, limit) => {
        this.reads.push(`${channel}@${after ?? '(now)'}`);
        return this.#answer(channel, after, limit);
      };
    }
  }

  /**
   * Appends a message and notifies subscribers synchronously; returns it.
   * `silent`: stored but not announced (a live delivery the backend lost).
   */
  add(channel: string, data: unknown, silent = false): Message {
    this.#seq += 1;
    const message: Message = { id: `${this.epoch}-${this.#seq}`, channel, data, time: Date.now() };
    const list = this.#history.get(channel) ?? [];
    list.push(message);
    this.#history.set(channel, list);
    if (!silent) for (const sub of [...(this.#subs.get(channel) ?? [])]) sub.listener(message);
    return message;
  }

  /** Announces a stored message again (a late or repeated live wake-up). */
  redeliver(message: Message): void {
    for (const sub of [...(this.#subs.get(message.channel) ?? [])]) sub.listener(message);
  }

  /** Tells `channel`'s subscribers of a live gap. */
  liveGap(channel: string, gap: LiveGap): void {
    for (const sub of [...(this.#subs.get(channel) ?? [])]) sub.onGap?.(gap);
  }

  /** The id of the last message on `channel`, or `<epoch>-0`. */
  head(channel: string): string {
    return this.#history.get(channel)?.at(-1)?.id ?? `${this.epoch}-0`;
  }

  /** Live subscriptions on `channel`. */
  subscriptions(channel: string): number {
    return this.#subs.get(channel)?.size ?? 0;
  }

  /** Answers every parked read, oldest first (reads they cause are parked again). */
  resolveAll(): void {
    for (const read of this.pending.splice(0)) read.resolve();
  }

  async publish(channel: string, data: unknown): Promise<Message> {
    return this.add(channel, data);
  }

  read(channel: string, after?: ReadFrom, limit?: number): Promise<ReadResult> {
    this.reads.push(`${channel}@${after ?? '(now)'}`);
    let result: ReadResult;
    try {
      result = this.#answer(channel, after, limit);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.mode === 'sync') return Promise.resolve(result);
    return new Promise<ReadResult>((resolve, reject) => {
      const entry: PendingRead = {
        channel,
        after,
        limit,
        resolve: () => {
          this.#unpark(entry);
          resolve(result);
        },
        reject: (error) => {
          this.#unpark(entry);
          reject(error);
        },
      };
      this.pending.push(entry);
    });
  }

  subscribe(channel: string, listener: MessageListener, onGap?: GapListener): () => void {
    const sub: Subscriber = { listener, onGap };
    const set = this.#subs.get(channel) ?? new Set();
    set.add(sub);
    this.#subs.set(channel, set);
    this.subscriptionLog.push(`+${channel}`);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      set.delete(sub);
      this.subscriptionLog.push(`-${channel}`);
    };
  }

  compareIds(a: string, b: string): number | undefined {
    const ma = ID_SHAPE.exec(a);
    const mb = ID_SHAPE.exec(b);
    if (!ma || !mb || ma[1] !== mb[1]) return undefined;
    return Number(ma[2]) - Number(mb[2]);
  }

  async close(): Promise<void> {
    this.#subs.clear();
  }

  #unpark(entry: PendingRead): void {
    const i = this.pending.indexOf(entry);
    if (i !== -1) this.pending.splice(i, 1);
  }

  #answer(channel: string, after: ReadFrom, limit = 100): ReadResult {
    const list = this.#history.get(channel) ?? [];
    const head = this.head(channel);
    if (after === undefined) return { messages: [], cursor: head, gap: false };
    let from = 0;
    if (after !== 'earliest') {
      const match = ID_SHAPE.exec(after);
      if (!match) throw new CometError('COMET_ERR_CURSOR_MALFORMED');
      if (match[1] !== this.epoch) return { messages: [], cursor: head, gap: true };
      const n = Number(match[2]);
      from = list.findIndex((m) => Number(m.id.slice(this.epoch.length + 1)) > n);
      if (from === -1) return { messages: [], cursor: after, gap: false };
    }
    const messages = list.slice(from, from + limit);
    const last = messages.at(-1);
    return { messages, cursor: last?.id ?? head, gap: false };
  }
}
