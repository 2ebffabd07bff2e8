/**
 * Tiny request-line helpers shared by the hand-written raw servers: what a
 * careful raw `node:http` server would do anyway (no URL object per request).
 */

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
export function readBody(
  req: import('node:http').IncomingMessage,
  limit: number,
): Promise<Buffer | undefined> {
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
