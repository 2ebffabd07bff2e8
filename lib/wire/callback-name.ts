/**
 * Validation of script callback names (JSONP `?callback=`, the forever
 * iframe's `parent.NAME(...)`).
 *
 * The name is written raw into a script, so it must be an identifier path
 * and nothing else: no brackets, quotes, parentheses or whitespace that could
 * turn it into an expression (docs/reference/wire-formats.md, JSONP).
 */

/**
 * The accepted shape: a JavaScript identifier (ASCII letters, digits, `_`,
 * `$`; not starting with a digit) of at most 64 characters, optionally
 * followed by up to three more `.identifier` parts.
 */
const CALLBACK_NAME = /^[A-Za-z_$][\w$]{0,63}(\.[A-Za-z_$][\w$]{0,63}){0,3}$/;

/**
 * True when `name` is a safe callback name for JSONP and the iframe transport.
 *
 * Semantics: matches `^[A-Za-z_$][\w$]{0,63}(\.[A-Za-z_$][\w$]{0,63}){0,3}$`
 * (ASCII only; `\w` without the `u` flag never matches non-ASCII letters).
 * Non-strings are refused.
 *
 * @example
 * ```ts
 * isCallbackName('jQuery123_cb');    // true
 * isCallbackName('app.comet.onMsg'); // true
 * isCallbackName('alert(1)//');      // false
 * ```
 */
export function isCallbackName(name: unknown): name is string {
  return typeof name === 'string' && CALLBACK_NAME.test(name);
}
