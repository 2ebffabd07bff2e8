/**
 * How deeply JSON text nests, measured on the text itself: V8 parses any
 * depth but `JSON.stringify` overflows the stack a few thousand levels
 * down, so a value accepted without a bound could never be sent again.
 */

/** Nesting accepted in a message by default: 64 levels of arrays / objects. */
export const DEFAULT_MAX_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * True when `text` opens more than `maxDepth` arrays / objects inside each
 * other (outside strings). One pass, no recursion, so it is safe on any
 * input, well-formed or not; `[]` is depth 1, a scalar depth 0.
 * @example
 * ```ts
 * exceedsJsonDepth('[[1]]', 1); // true
 * exceedsJsonDepth('"[[["', 1); // false
 * ```
 */
export function exceedsJsonDepth(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i === -1) return false; // unterminated: the parser says so
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

/**
 * The index of the quote closing the string opened at `open`, or -1. Jumps
 * from quote to quote with `indexOf` (a 60 KiB string costs a few native
 * searches, not 60,000 loop turns); a quote after an odd run of
 * backslashes is escaped.
 */
function stringEnd(text: string, open: number): number {
  let quote = open;
  for (;;) {
    quote = text.indexOf('"', quote + 1);
    if (quote === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
}
