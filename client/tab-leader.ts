/** A running candidacy; `close()` withdraws it, or steps down when leading. */
export interface LeaderElection {
  close(): void;
}

/**
 * Joins the election for `name` among the tabs of this origin: `onLeader` runs when
 * this tab becomes leader, which lasts until `close()` or the tab goes away.
 *
 * The Web Locks API gives exactly this: a lock held while a promise is pending, queued
 * requests granted in order, and released by the browser when the holder's tab
 * closes or crashes — so no heartbeats or timeouts are needed to notice a dead leader.
 * Returns null where the API is missing (old browsers, some `file://` pages): every
 * tab then connects itself.
 */
export function electLeader(name: string, onLeader: () => void): LeaderElection | null {
  const locks = globalThis.navigator?.locks;
  if (locks === undefined || typeof BroadcastChannel !== 'function') return null;
  const abort = new AbortController();
  let release: (() => void) | undefined;
  locks
    .request(name, { signal: abort.signal }, () => {
      if (abort.signal.aborted) return undefined;
      return new Promise<void>((resolve) => {
        release = resolve;
        onLeader();
      });
    })
    .catch(() => {
      // AbortError: the candidacy was withdrawn before the lock was granted.
    });
  return {
    close() {
      abort.abort();
      release?.();
    },
  };
}
