/**
 * The long-poll waiters one message woke at the same position: one read,
 * one encoded body, and no promise callbacks per waiter. The read may land
 * synchronously (an in-process bus): waiters added later settle at once.
 */
import type { BatchRead } from '../hub/batch-read.js';

/** Something told the outcome of a group read (a long-poll waiter). */
export interface Settler {
  settle(outcome: Settled): void;
}

/** A read after a position, with its encoded answer (none when nothing follows). */
export interface ReadOutcome {
  readonly read: BatchRead;
  readonly body: Buffer | undefined;
}

export type Settled = ReadOutcome | { error: unknown };

/**
 * The group's one read: `now()` on an in-process bus (the outcome is known
 * before the constructor returns), `later()` on a remote one.
 */
export type GroupRead =
  | { readonly sync: true; now(): ReadOutcome }
  | { readonly sync: false; later(): Promise<ReadOutcome> };

/**
 * The waiters one message woke at the same position: one read, one body,
 * and no promise callbacks per waiter.
 */
export class WakeGroup {
  readonly #waiters: Settler[] = [];
  /** Set once the read landed; later joiners settle at once. */
  #outcome: Settled | undefined;

  constructor(read: GroupRead) {
    if (read.sync) {
      try {
        this.#outcome = read.now();
      } catch (error) {
        this.#outcome = { error };
      }
      return;
    }
    read.later().then(
      (result) => this.#settle(result),
      (error: unknown) => this.#settle({ error }),
    );
  }

  add(waiter: Settler): void {
    if (this.#outcome !== undefined) waiter.settle(this.#outcome);
    else this.#waiters.push(waiter);
  }

  #settle(outcome: Settled): void {
    this.#outcome = outcome;
    for (const waiter of this.#waiters.splice(0)) waiter.settle(outcome);
  }
}
