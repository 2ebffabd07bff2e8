/**
 * Tiny request helpers shared by the hand-written raw servers: what a
 * careful raw `node:http` server would do anyway (no URL object per request).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Answers `status` with a JSON `body` and its length. */
export function send(res: ServerResponse, status: number, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store, no-transform',
  });
  res.end(body);
}

/**
 * Reads a JSON publish body (415 / 413 / 400 answered here, as the
 * framework's routes do); resolves `undefined` when it answered an error.
 */
export async function readJsonPost(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
): Promise<{ data: unknown } | undefined> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    send(res, 415, '{"error":{"code":"type"}}');
    return undefined;
  }
  const body = await readBody(req, limit);
  if (body === undefined) {
    send(res, 413, '{"error":{"code":"size"}}');
    return undefined;
  }
  try {
    return { data: JSON.parse(body.toString('utf8')) };
  } catch {
    send(res, 400, '{"error":{"code":"json"}}');
    return undefined;
  }
}

/** `/rooms/<room>/<tail>` → room, or undefined when the path has another shape. */
export function roomOf(path: string, tail: string): string | undefined {
  if (!path.startsWith('/rooms/') || !path.endsWith(`/${tail}`)) return undefined;
  const room = path.slice(7, path.length - tail.length - 1);
  return room.length > 0 && !room.includes('/') ? decodeURIComponent(room) : undefined;
}

/** Splits `url` into path and query parameters. */
export function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  return q === -1
    ? { path: url, query: new URLSearchParams() }
    : { path: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}

/** Reads a request body up to `limit` bytes; resolves undefined when over the limit. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
