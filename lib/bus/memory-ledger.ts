/**
 * The memory bus's accounts across channels: every retained message in
 * publish order (one FIFO for the whole bus), the bytes they hold, the one
 * timer that expires aged history, and the floors that let a channel be
 * forgotten without a later reader missing a gap.
 *
 * Ids come from one bus-wide sequence, so a channel forgotten and used
 * again continues above every id it ever had. What a forgotten channel
 * leaves behind is the seq of its last message, folded into one of
 * {@link FLOOR_BUCKETS} slots by a hash of its name: a cursor below its
 * slot's floor is answered as a gap. Two channels sharing a slot can only
 * turn a lossless resume into a (safe) gap, never a gap into a skip.
 */
import type { Message } from './bus.js';

/** Slots of the forgotten-channel floors: 32 KiB, whatever the number of channels. */
export const FLOOR_BUCKETS = 4096;

/** What one retained message costs beyond its data: the objects, id and array slots. */
const MESSAGE_OVERHEAD = 160;

/** One retained message. */
export interface Entry<C> {
  /** Undefined once dropped: a dead entry waiting in an array holds no message. */
  message: Message | undefined;
  /** Its place in the bus-wide sequence (the number in its id). */
  readonly seq: number;
  /** Its estimated size (see {@link messageBytes}). */
  readonly bytes: number;
  /** When it was published, on the monotonic clock. */
  readonly at: number;
  readonly channel: C;
  /** False once its channel dropped it (the FIFO drops it lazily). */
  live: boolean;
}

/**
 * The estimated heap size of a message: its data's JSON text (one byte per
 * character, as V8 stores Latin-1 text; structured data takes more as
 * objects), its channel name and a fixed overhead.
 */
export function messageBytes(channel: string, encoded: string): number {
  return MESSAGE_OVERHEAD + channel.length + encoded.length;
}

/** FNV-1a over UTF-16 code units, folded into a floor slot. */
export function floorSlot(channel: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < channel.length; i++) {
    h ^= channel.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % FLOOR_BUCKETS;
}

/** The bus-wide FIFO of retained messages; see the module comment. */
export class Ledger<C> {
  /** Bytes of every live entry. */
  bytes = 0;
  /** Live entries. */
  count = 0;
  readonly #fifo: (Entry<C> | undefined)[] = [];
  #head = 0;
  readonly #floors = new Float64Array(FLOOR_BUCKETS);

  /** Appends a just-published message. */
  push(entry: Entry<C>): void {
    this.#fifo.push(entry);
    this.bytes += entry.bytes;
    this.count += 1;
  }

  /** Marks an entry dropped by its channel (count or age bound, budget). */
  drop(entry: Entry<C>): void {
    if (!entry.live) return;
    entry.live = false;
    entry.message = undefined;
    this.bytes -= entry.bytes;
    this.count -= 1;
    this.#compact();
  }

  /** The oldest live entry, if any (dead ones at the front are discarded). */
  oldest(): Entry<C> | undefined {
    const fifo = this.#fifo;
    while (this.#head < fifo.length && fifo[this.#head]?.live !== true)
      fifo[this.#head++] = undefined;
    if (this.#head === fifo.length) {
      fifo.length = 0;
      this.#head = 0;
      return undefined;
    }
    if (this.#head >= 1024 && this.#head * 2 >= fifo.length) {
      // Slots before the head still point at dropped messages: let them go.
      fifo.splice(0, this.#head);
      this.#head = 0;
    }
    return fifo[this.#head];
  }

  /** The floor below which a cursor of a forgotten `channel` is a gap. */
  floor(channel: string): number {
    return this.#floors[floorSlot(channel)] ?? 0;
  }

  /** Records that `channel`, now forgotten, had messages up to `seq`. */
  forget(channel: string, seq: number): void {
    const slot = floorSlot(channel);
    if (seq > (this.#floors[slot] ?? 0)) this.#floors[slot] = seq;
  }

  /** Empties the ledger (the bus closed). */
  clear(): void {
    this.#fifo.length = 0;
    this.#head = 0;
    this.bytes = 0;
    this.count = 0;
  }

  /**
   * Dead entries sit in the FIFO until they reach its front; once they
   * outnumber the live ones, one pass drops them (amortised O(1) per drop).
   */
  #compact(): void {
    const fifo = this.#fifo;
    const waiting = fifo.length - this.#head;
    if (waiting - this.count <= this.count + 1024) return;
    let kept = 0;
    for (let i = this.#head; i < fifo.length; i++) {
      const entry = fifo[i];
      if (entry?.live) fifo[kept++] = entry;
    }
    fifo.length = kept;
    this.#head = 0;
  }
}
