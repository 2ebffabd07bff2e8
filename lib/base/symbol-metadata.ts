/**
 * Polyfill for `Symbol.metadata` (TC39 decorator metadata).
 *
 * Neither Node 20 nor current Chromium defines it; without it a decorator's
 * `context.metadata` is `undefined`. `Symbol.for('Symbol.metadata')` is the
 * same symbol esbuild's and TypeScript's helpers fall back to, so metadata
 * written by compiled decorators is found here. Imported first by the entry
 * point and by every module that declares decorators.
 */
(Symbol as { metadata?: symbol }).metadata ??= Symbol.for('Symbol.metadata');

export {};
