/**
 * A message's data as the JSON text every read will carry, made once when
 * the message is published: whatever cannot be encoded (a cycle, a BigInt,
 * nesting too deep to encode again later) is refused then, so no accepted
 * message can make a later read of its channel fail.
 */
import { CometError } from '../base/errors.js';
import { DEFAULT_MAX_DEPTH, exceedsJsonDepth } from '../base/json-depth.js';

/**
 * `JSON.stringify(data)`, checked: `undefined` (or a function, a symbol)
 * becomes `null`, as a read would give it.
 * @throws CometError `COMET_ERR_MESSAGE_INVALID` (400) when `data` cannot be
 * encoded or nests deeper than `maxDepth` levels of arrays / objects.
 * @example
 * ```ts
 * encodeData({ text: 'hi' }); // '{"text":"hi"}'
 * ```
 */
export function encodeData(data: unknown, maxDepth = DEFAULT_MAX_DEPTH): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    // A cycle or BigInt (TypeError), or nesting deep enough to overflow the stack.
    const reason = error instanceof Error ? error.message : String(error);
    throw new CometError('COMET_ERR_MESSAGE_INVALID', `The message is not JSON: ${reason}`, {
      cause: error,
    });
  }
  if (json === undefined) return 'null';
  if (exceedsJsonDepth(json, maxDepth)) {
    throw new CometError(
      'COMET_ERR_MESSAGE_INVALID',
      `The message nests deeper than ${maxDepth} levels`,
    );
  }
  return json;
}
