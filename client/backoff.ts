/** Options of {@link createBackoff}. */
export interface BackoffOptions {
  /** Upper bound of the first delay, ms (default 500). */
  readonly initialDelayMs?: number;
  /** Cap of every delay, ms (default 30 000). */
  readonly maxDelayMs?: number;
  /** Growth per attempt (default 2). */
  readonly factor?: number;
}

/** A retry schedule; `reset()` after a success. */
export interface Backoff {
  /** The next delay, ms, and counts one attempt. */
  next(): number;
  /** Starts over from the first delay. */
  reset(): void;
  /** Attempts since the last reset. */
  readonly attempt: number;
}

/**
 * Exponential backoff with full jitter: delay = random(0, min(max, initial · factorⁿ)).
 *
 * Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter") spreads the
 * reconnects of many tabs after a server restart instead of having them arrive in
 * waves. `random` is injected so tests are deterministic.
 *
 * @example
 * ```ts
 * const backoff = createBackoff({ initialDelayMs: 250 });
 * setTimeout(retry, backoff.next());
 * ```
 */
export function createBackoff(
  options: BackoffOptions = {},
  random: () => number = Math.random,
): Backoff {
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const factor = options.factor ?? 2;
  let attempt = 0;
  return {
    next() {
      const cap = Math.min(max, initial * factor ** attempt);
      attempt += 1;
      return Math.floor(random() * cap);
    },
    reset() {
      attempt = 0;
    },
    get attempt() {
      return attempt;
    },
  };
}
