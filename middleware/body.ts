/**
 * Reading a JSON publish body with a hard size limit (raw-body), mapped to
 * the error catalog: 413 too large, 415 not JSON, 400 malformed (empty, not
 * UTF-8, too deep, or not JSON).
 *
 * Whether there is a body is decided by reading it, never from
 * `Content-Length` / `Transfer-Encoding`: an HTTP/2 request carries neither,
 * and Koa's `ctx.is()` then says "no body".
 */
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { CometError } from '../lib/base/errors.js';
import { parseJsonBody } from '../lib/base/json-body.js';

/** Options of {@link readJsonBody}: per call, so each route can choose its own. */
export interface JsonBodyOptions {
  /** Largest accepted body in bytes. Default 65,536 (64 KiB). */
  limit?: number;
  /** Deepest nesting of arrays / objects accepted. Default 64. */
  maxDepth?: number;
}

/** The media type and charset of a Content-Type header, lower-cased; '' when absent. */
function mediaType(header: string | undefined): { type: string; charset: string } {
  const [type = '', ...params] = (header ?? '').split(';');
  let charset = '';
  for (const param of params) {
    const [name, value = ''] = param.split('=');
    if (name?.trim().toLowerCase() === 'charset') {
      charset = value.trim().replace(/^"|"$/g, '').toLowerCase();
    }
  }
  return { type: type.trim().toLowerCase(), charset };
}

/** `application/json` or any `+json` type (RFC 6839). */
function isJsonType(type: string): boolean {
  return type === 'application/json' || (type.includes('/') && type.endsWith('+json'));
}

async function readBytes(ctx: Context, limit: number): Promise<Buffer> {
  try {
    return await getRawBody(ctx.req, { limit, length: ctx.get('Content-Length') || undefined });
  } catch (error) {
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') throw new CometError('COMET_ERR_BODY_TOO_LARGE');
    throw new CometError('COMET_ERR_BODY_MALFORMED', 'The request body could not be read', {
      cause: error,
    });
  }
}

/**
 * Reads and parses the request body as JSON (any JSON value).
 *
 * A `Content-Type` other than `application/json` / `+json` (or with a
 * charset other than UTF-8) is refused without reading; with no
 * `Content-Type`, an empty body is a 400 and any other body a 415.
 * @throws CometError `COMET_ERR_BODY_UNSUPPORTED_TYPE` (415) when the content
 * type is not JSON, `COMET_ERR_BODY_TOO_LARGE` (413) past the limit,
 * `COMET_ERR_BODY_MALFORMED` (400) when it is empty, not valid UTF-8, nested
 * deeper than `maxDepth` or not JSON (the message says which).
 * @example
 * ```ts
 * router.post('/rooms/:room/messages', async (ctx) => {
 *   const data = await readJsonBody(ctx);
 *   ctx.body = { id: (await bus.publish(`room:${ctx.params.room}`, data)).id };
 * });
 * ```
 */
export async function readJsonBody(ctx: Context, options: JsonBodyOptions = {}): Promise<unknown> {
  const limit = options.limit ?? 65_536;
  const { type, charset } = mediaType(ctx.req.headers['content-type']);
  const typed = type !== '';
  if (typed && !isJsonType(type)) throw new CometError('COMET_ERR_BODY_UNSUPPORTED_TYPE');
  if (charset !== '' && charset !== 'utf-8' && charset !== 'utf8') {
    throw new CometError('COMET_ERR_BODY_UNSUPPORTED_TYPE', 'JSON bodies must be UTF-8');
  }
  const bytes = await readBytes(ctx, limit);
  if (!typed && bytes.length > 0) throw new CometError('COMET_ERR_BODY_UNSUPPORTED_TYPE');
  return parseJsonBody(bytes, options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {});
}
