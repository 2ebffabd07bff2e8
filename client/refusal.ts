/**
 * What the client does about a 4xx answer:
 * - `reset` — the server cannot parse the cursor (`COMET_ERR_CURSOR_MALFORMED`): a gap,
 *   drop the cursor, tell the app (`onReset`) and follow from the head;
 * - `fallback` — the route refuses this transport only (not offered, JSONP off, a bad
 *   callback): another transport may work;
 * - `stop` — anything else (401/403, an unknown route, an invalid channel): retrying
 *   cannot help, so the client stops and tells the app (`onError`).
 */
export type RefusalAction = 'reset' | 'fallback' | 'stop';

/** The error codes that refuse one transport on a route, not the client. */
const transportCodes = new Set([
  'COMET_ERR_TRANSPORT_UNKNOWN',
  'COMET_ERR_TRANSPORT_NOT_ACCEPTABLE',
  'COMET_ERR_JSONP_DISABLED',
  'COMET_ERR_CALLBACK_INVALID',
  'COMET_ERR_CALLBACK_MISSING',
]);

/**
 * Classifies a refusal by its error code (and status, when the answer carried none).
 *
 * @example
 * ```ts
 * classifyRefusal(400, 'COMET_ERR_CURSOR_MALFORMED'); // 'reset'
 * classifyRefusal(403, 'COMET_ERR_AUTH_FORBIDDEN');   // 'stop'
 * ```
 */
export function classifyRefusal(status: number, code: string | null): RefusalAction {
  if (code === 'COMET_ERR_CURSOR_MALFORMED') return 'reset';
  if (code !== null && transportCodes.has(code)) return 'fallback';
  // Without a code a 406 is still "not this media type": another transport may do.
  if (code === null && status === 406) return 'fallback';
  return 'stop';
}
