/**
 * Idempotency keys for in-process buses: which message a key published on a
 * channel, remembered for a window, so a retried publish stores nothing and
 * answers the first message (see `PublishOptions.idempotencyKey`).
 */
import { CometError } from '../base/errors.js';
import type { Message } from './bus.js';

/** 1 to 128 visible ASCII characters (what an `Idempotency-Key` header may carry here). */
export function isIdempotencyKey(key: unknown): key is string {
  return typeof key === 'string' && /^[\x21-\x7e]{1,128}$/.test(key);
}

/**
 * Throws `COMET_ERR_IDEMPOTENCY_KEY_INVALID` unless `key` is `undefined` or
 * an {@link isIdempotencyKey}.
 */
export function checkIdempotencyKey(key: unknown): void {
  if (key !== undefined && !isIdempotencyKey(key)) {
    throw new CometError('COMET_ERR_IDEMPOTENCY_KEY_INVALID');
  }
}

/**
 * Keys seen in the last `windowMs` (on a monotonic clock), at most `maxKeys`
 * of them: the oldest go first, so memory stays bounded whatever the keys.
 */
export class IdempotencyMemo {
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #clock: () => number;
  /** Insertion order is age order. */
  readonly #seen = new Map<string, { readonly message: Message; readonly at: number }>();

  constructor(windowMs: number, maxKeys = 10_000, clock: () => number = () => performance.now()) {
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
    this.#clock = clock;
  }

  /** The message `key` published on `channel` within the window, if any. */
  lookup(channel: string, key: string): Message | undefined {
    this.#expire();
    return this.#seen.get(`${channel}\0${key}`)?.message;
  }

  /** Remembers that `key` published `message`. */
  remember(key: string, message: Message): void {
    this.#seen.set(`${message.channel}\0${key}`, { message, at: this.#clock() });
    this.#expire();
  }

  #expire(): void {
    const oldest = this.#clock() - this.#windowMs;
    for (const [name, entry] of this.#seen) {
      if (entry.at > oldest && this.#seen.size <= this.#maxKeys) break;
      this.#seen.delete(name);
    }
  }
}
