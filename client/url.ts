/** Small URL helpers; relative URLs resolve against the page. */

/** Resolves `url` against the document (or `base`). */
export function absoluteUrl(
  url: string,
  base: string = globalThis.location?.href ?? 'http://localhost/',
): URL {
  return new URL(url, base);
}

/**
 * `url` with `params` set (replacing existing values); `null`/`undefined` values are removed.
 */
export function withQuery(
  url: string,
  params: Record<string, string | number | null | undefined>,
): string {
  const u = absoluteUrl(url);
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined) u.searchParams.delete(key);
    else u.searchParams.set(key, String(value));
  }
  return u.href;
}

/** The `ws:`/`wss:` form of an http(s) URL (the WebSocket upgrade lives on the stream route). */
export function toWebSocketUrl(url: string): string {
  const u = absoluteUrl(url);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

/** Is `url` on another origin than the page? */
export function isCrossOrigin(url: string): boolean {
  const origin = globalThis.location?.origin;
  return origin !== undefined && absoluteUrl(url).origin !== origin;
}
