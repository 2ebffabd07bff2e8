/**
 * Reading a JSON publish body with a hard size limit (raw-body), mapped to
 * the error catalog: 413 too large, 415 not JSON, 400 malformed.
 */
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { CometError } from '../lib/errors.js';

/** Options of {@link readJsonBody}. */
export interface JsonBodyOptions {
  /** Largest accepted body in bytes. Default 65,536 (64 KiB). */
  limit?: number;
}

/**
 * Reads and parses the request body as JSON (any JSON value).
 * @throws CometError `COMET_ERR_BODY_UNSUPPORTED_TYPE` (415) when the content
 * type is not JSON, `COMET_ERR_BODY_TOO_LARGE` (413) past the limit,
 * `COMET_ERR_BODY_MALFORMED` (400) when it does not parse.
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
  if (!ctx.is('application/json', '+json')) throw new CometError('COMET_ERR_BODY_UNSUPPORTED_TYPE');
  let text: string;
  try {
    text = await getRawBody(ctx.req, {
      limit,
      length: ctx.get('Content-Length') || undefined,
      encoding: 'utf8',
    });
  } catch (error) {
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') throw new CometError('COMET_ERR_BODY_TOO_LARGE');
    throw new CometError('COMET_ERR_BODY_MALFORMED', 'The request body could not be read', {
      cause: error,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CometError('COMET_ERR_BODY_MALFORMED', undefined, { cause: error });
  }
}
