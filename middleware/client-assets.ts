/**
 * Serves the built browser client (`npm run build:client`) from `dist/client`:
 * `koa-comet.js` (ES module), `koa-comet.iife.js` (script tag, global `KoaComet`) and
 * their source maps, under a prefix (default `/comet`).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debuglog } from 'node:util';
import type { Middleware } from 'koa';
import { CometError } from '../lib/base/errors.js';

const debug = debuglog('comet:client-assets');

/** Options of {@link serveClient}. */
export interface ServeClientOptions {
  /** URL path the bundles are served under (default `/comet`). */
  prefix?: string;
  /** Directory of the built bundles (default `dist/client` of this package). */
  dir?: string;
}

/** The only files served, with their content types. */
const assets: Readonly<Record<string, string>> = {
  'koa-comet.js': 'text/javascript; charset=utf-8',
  'koa-comet.iife.js': 'text/javascript; charset=utf-8',
  'koa-comet.js.map': 'application/json; charset=utf-8',
  'koa-comet.iife.js.map': 'application/json; charset=utf-8',
};

/**
 * A Koa middleware serving the browser client bundles at `<prefix>/koa-comet.js`,
 * `<prefix>/koa-comet.iife.js` and their `.map` files.
 *
 * Names are not content-hashed, so responses carry `Cache-Control: no-cache` with a
 * strong `ETag`: browsers revalidate each load and get a `304` until a rebuild. Any
 * other path under the prefix is a `404` with the JSON error body; a method other
 * than GET/HEAD on a bundle is a `405`. Requests outside the prefix pass through.
 * Files are read per request (they are small) so a rebuild needs no restart.
 *
 * @example
 * ```ts
 * app.use(serveClient()); // <script type="module" src="/comet/koa-comet.js">
 * ```
 */
export function serveClient(options: ServeClientOptions = {}): Middleware {
  const prefix = (options.prefix ?? '/comet').replace(/\/+$/, '');
  const dir = options.dir ?? defaultDir();
  return async (ctx, next) => {
    if (!ctx.path.startsWith(`${prefix}/`)) return next();
    const name = ctx.path.slice(prefix.length + 1);
    const type = Object.hasOwn(assets, name) ? assets[name] : undefined;
    const body = type === undefined ? null : await readFile(join(dir, name)).catch(() => null);
    if (type === undefined || body === null) {
      debug('404 %s (dir %s)', ctx.path, dir);
      const error = new CometError('COMET_ERR_ROUTE_NOT_FOUND');
      ctx.status = error.status;
      ctx.body = error.toJSON();
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      return;
    }
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.etag = createHash('sha256').update(body).digest('base64url').slice(0, 27);
    ctx.type = type;
    ctx.body = body;
    if (ctx.fresh) ctx.status = 304;
  };
}

/**
 * `dist/client` of this package: beside the source tree when run from source
 * (`<root>/middleware` → `<root>/dist/client`), a sibling when run compiled
 * (`<root>/dist/middleware` → `<root>/dist/client`).
 */
function defaultDir(): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  return basename(root) === 'dist' ? join(root, 'client') : join(root, 'dist', 'client');
}
