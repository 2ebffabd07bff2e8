/**
 * The rules of a JSON publish body, on its raw bytes: not empty, valid
 * UTF-8, nested at most `maxDepth` levels, and JSON. Shared by every path
 * that turns client bytes into a message (the POST body, a WebSocket frame).
 */
import { isUtf8 } from 'node:buffer';
import { CometError } from './errors.js';
import { DEFAULT_MAX_DEPTH, exceedsJsonDepth } from './json-depth.js';

/** Options of {@link parseJsonBody}. */
export interface JsonParseOptions {
  /** Deepest nesting of arrays / objects accepted. Default 64. */
  maxDepth?: number;
}

/**
 * Parses `bytes` as one JSON value (a leading UTF-8 byte order mark is
 * skipped, RFC 8259 §8.1).
 * @throws CometError `COMET_ERR_BODY_MALFORMED` (400), its message saying
 * why: the body is empty, is not valid UTF-8, nests deeper than `maxDepth`,
 * or is not valid JSON (with the parser's reason).
 * @example
 * ```ts
 * parseJsonBody(Buffer.from('{"text":"hi"}')); // { text: 'hi' }
 * ```
 */
export function parseJsonBody(bytes: Uint8Array, options: JsonParseOptions = {}): unknown {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!isUtf8(bytes)) {
    // Decoding would replace the bad bytes with U+FFFD: a different message.
    throw new CometError('COMET_ERR_BODY_MALFORMED', 'The request body is not valid UTF-8');
  }
  let text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') {
    throw new CometError('COMET_ERR_BODY_MALFORMED', 'The request body is empty');
  }
  if (exceedsJsonDepth(text, maxDepth)) {
    throw new CometError(
      'COMET_ERR_BODY_MALFORMED',
      `The request body nests deeper than ${maxDepth} levels`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CometError(
      'COMET_ERR_BODY_MALFORMED',
      `The request body is not valid JSON: ${reason}`,
      {
        cause: error,
      },
    );
  }
}
