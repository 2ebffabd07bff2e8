import type { Envelope } from './types.js';

/** Where delivery stands: the resume cursor and the ids already delivered. */
export interface ResumeState {
  /** The cursor to resume from: the last id delivered, or the last head learned. */
  readonly cursor: string | null;
  /** True once at least one message reached the application. */
  readonly delivered: boolean;
  /**
   * Records `envelope` as delivered and returns true, or returns false when its id
   * was already delivered (a replay at a reconnect boundary): the caller drops it.
   */
  accept(envelope: Envelope): boolean;
  /** Moves the cursor without delivering (a batch cursor, a gap's head). */
  moveTo(cursor: string | null): void;
  /** Replaces the cursor, null included: the server refused it as malformed. */
  restart(cursor: string | null): void;
}

/**
 * Tracks the last delivered id and drops duplicates.
 *
 * Ids are opaque, so duplicates are found by identity in a bounded window of recent
 * ids (default 1024) rather than by comparing ids: a replay only ever covers the
 * messages around one reconnect.
 */
export function createResumeState(initial: string | null, window = 1024): ResumeState {
  let cursor = initial;
  let delivered = false;
  const recent = new Set<string>();
  return {
    get cursor() {
      return cursor;
    },
    get delivered() {
      return delivered;
    },
    accept(envelope) {
      if (recent.has(envelope.id)) return false;
      recent.add(envelope.id);
      if (recent.size > window) {
        // A Set iterates in insertion order: the first key is the oldest.
        const oldest = recent.values().next().value;
        if (oldest !== undefined) recent.delete(oldest);
      }
      // A stream on several channels says where all of them stand.
      cursor = typeof envelope.cursor === 'string' ? envelope.cursor : envelope.id;
      delivered = true;
      return true;
    },
    moveTo(next) {
      if (next !== null && next !== '') cursor = next;
    },
    restart(next) {
      cursor = next === '' ? null : next;
    },
  };
}
