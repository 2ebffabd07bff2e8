/**
 * Thenables by shape: a handler may return any promise-like value (a
 * promise from another realm or library, a custom thenable), and
 * `instanceof Promise` would take it for a plain value.
 */

/**
 * True when `value` is a thenable: an object or function with a callable
 * `then` (the test the Promises/A+ resolution procedure makes).
 *
 * @example
 * ```ts
 * const answer = handler(ctx);
 * if (isThenable(answer)) answer.then(use, fail);
 * else use(answer);
 * ```
 */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    'then' in value &&
    typeof value.then === 'function'
  );
}
