import type { ResumeState } from './resume.js';
import type { Batch } from './types.js';

/** Options of {@link createBufferingWatch}. */
export interface BufferingWatchOptions {
  /** Silence this long on an open stream triggers a probe, ms. */
  readonly deadlineMs: number;
  /** After a probe found messages, how long the stream gets to deliver them, ms. */
  readonly graceMs: number;
  /** An immediate poll after `cursor` (null: learn the head). */
  probe(cursor: string | null): Promise<Batch | null>;
  readonly resume: ResumeState;
  /** The stream is being held back by something on the way: step down. */
  onBuffering(): void;
}

/** A running watch over one stream connection. */
export interface BufferingWatch {
  /** The stream showed a sign of life (message, heartbeat, control). */
  activity(): void;
  stop(): void;
}

/**
 * Detects a buffering proxy: a stream that opened but delivers nothing within a
 * deadline while an immediate poll of the same channel does have messages.
 *
 * Silence alone proves nothing (an idle room is silent, and EventSource hides comment
 * heartbeats), so the watch asks the long-poll route: messages after our cursor that
 * the stream still has not delivered after a grace period mean the stream is held.
 * When no cursor is known yet, the first probe learns the head so later probes can
 * ask "anything after where we started?".
 */
export function createBufferingWatch(options: BufferingWatchOptions): BufferingWatch {
  let active = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let head: string | null = options.resume.cursor;

  const schedule = (ms: number, fn: () => void) => {
    if (!stopped) timer = setTimeout(fn, ms);
  };
  const tick = async () => {
    if (active) {
      active = false;
      return schedule(options.deadlineMs, tick);
    }
    const from = options.resume.cursor ?? head;
    const batch = await options.probe(from);
    if (stopped) return;
    if (batch === null || from === null || batch.messages.length === 0) {
      head ??= batch?.cursor ?? null;
      return schedule(options.deadlineMs, tick);
    }
    active = false;
    schedule(options.graceMs, () => {
      if (active) schedule(options.deadlineMs, tick);
      else options.onBuffering();
    });
  };
  if (head === null) {
    options.probe(null).then((batch) => {
      head ??= batch?.cursor ?? null;
    });
  }
  schedule(options.deadlineMs, tick);
  return {
    activity() {
      active = true;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * Why a stream did not open within its deadline: `'buffering'` when an immediate poll
 * of the batch route (after `cursor`) does answer — the server is there and answering,
 * so something on the way holds the stream's headers back (a buffering proxy holds
 * a response until it ends, and a stream never ends) — else `'timeout'`.
 *
 * This is the buffering watch for a stream that never opened: an open one is watched
 * by {@link createBufferingWatch}.
 */
export async function whyNeverOpened(
  probe: (cursor: string | null) => Promise<Batch | null>,
  cursor: string | null,
): Promise<'buffering' | 'timeout'> {
  return (await probe(cursor)) === null ? 'timeout' : 'buffering';
}
