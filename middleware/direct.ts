/**
 * Direct dispatch (`comet({ direct })`, see CometOptions): `@poll`,
 * `@longpoll` and `@stream` GET requests and `@publish` POST requests are
 * answered from the http server's request listener, before Koa's
 * middleware stack — the way socket.io's engine answers its own path
 * before Express or Koa sees it.
 *
 * What a route gets stays the same: a Koa context made by the app
 * (`app.createContext`, so `ctx.params`, `ctx.query`, `ctx.get()`,
 * `ctx.cookies` and the app's own `app.context` additions work), the same
 * checks, the same `authorize` hooks, CORS and coded errors. What it skips
 * is the middleware mounted in front of `comet()` (`ctx.state` starts
 * empty), so by default (`'auto'`) it is on only when there is none.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import type { RouterContext } from '@koa/router';
import type Koa from 'koa';
import { CometError, isCometError } from '../lib/base/errors.js';
import { isThenable } from '../lib/base/thenable.js';
import type { Meters } from '../lib/hub/meters.js';
import type { CorsPolicy } from './cors.js';
import {
  interceptRequests,
  matchRoute,
  type RouteMatch,
  respondLikeKoa,
  routedContext,
} from './koa-adapter.js';
import { renderError } from './render-error.js';
import type { AttachableServer } from './servers.js';

/**
 * A decorated GET (or `@publish` POST) route's handler, as mounted on the router.
 *
 * On HTTP/2 (`http2.createSecureServer`, `http2.createServer`) the listener
 * is handed Node's compatibility `Http2ServerRequest` / `Http2ServerResponse`,
 * which Koa and this dispatcher use the same way; nothing here touches the
 * socket (on HTTP/2 `res.socket` is a proxy of the session's).
 */
type RouteHandler = (ctx: RouterContext) => void | Promise<void>;

/**
 * Puts the direct dispatcher in front of `server`'s request listeners:
 * a GET or POST matching one of `router`'s routes is answered here, anything else
 * goes on to the listeners the server had (the Koa app).
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` when the server has no
 * request listener yet (attach after `app.listen()` / `createServer(app.callback())`).
 */
export function attachDirect(
  server: AttachableServer,
  app: Koa,
  router: Router,
  cors: CorsPolicy,
  meters?: Meters,
): void {
  const serve = directServer(app, router, cors, meters);
  const attached = interceptRequests(
    server,
    (req, res) => (req.method === 'GET' || req.method === 'POST') && serve(req, res),
  );
  if (!attached) {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      'direct: attach the server after it has the app as its request listener',
    );
  }
}

/** Paths remembered by {@link directServer}'s route cache before it starts over. */
const ROUTE_CACHE_SIZE = 1024;
/** Longer paths are matched every time (the cache holds at most ~256 KiB of paths). */
const ROUTE_CACHE_PATH = 256;

/** Answers `req` when it is one of `router`'s routes; false (nothing written) otherwise. */
function directServer(app: Koa, router: Router, cors: CorsPolicy, meters: Meters | undefined) {
  // The direct router is built once by comet() and never changed, so a
  // path's match (or miss) is the same every time: pollers of one room ask
  // for the same path with every poll. Bounded: a flood of distinct paths
  // only restarts it.
  const gets = new Map<string, RouteMatch | null>();
  const posts = new Map<string, RouteMatch | null>();
  const matchOf = (path: string, method: string): RouteMatch | null => {
    if (path.length > ROUTE_CACHE_PATH) return matchRoute(router, path, method) ?? null;
    const routes = method === 'GET' ? gets : posts;
    let match = routes.get(path);
    if (match === undefined) {
      match = matchRoute(router, path, method) ?? null;
      if (routes.size >= ROUTE_CACHE_SIZE) routes.clear();
      routes.set(path, match);
    }
    return match;
  };
  // The last GET path answered: pollers of one room come back with the same
  // path, compared in place here (no slice, no hash of a fresh string).
  let lastPath = '';
  let lastMatch: RouteMatch | null = null;
  const getMatch = (url: string): RouteMatch | null => {
    const end = lastPath.length;
    if (
      end > 0 &&
      url.startsWith(lastPath) &&
      (url.length === end || url.charCodeAt(end) === 63) /* ? */
    ) {
      return lastMatch;
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const match = matchOf(path, 'GET');
    lastPath = path.length <= ROUTE_CACHE_PATH ? path : '';
    lastMatch = match;
    return match;
  };
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '';
    // Origin-form only; anything unusual goes through Koa.
    if (url.charCodeAt(0) !== 47 /* / */) return false;
    let match: RouteMatch | null;
    if (req.method === 'GET') match = getMatch(url);
    else {
      const q = url.indexOf('?');
      match = matchOf(q === -1 ? url : url.slice(0, q), 'POST');
    }
    if (match === null) return false;
    const handler = match.handler as RouteHandler;
    // Each request gets its own params object: a handler may change it.
    const ctx = routedContext(app, req, res, { path: match.path, params: { ...match.params } });
    try {
      cors.apply(ctx);
      const done = handler(ctx);
      if (isThenable(done)) {
        done.then(
          () => respondLikeKoa(ctx),
          (error: unknown) => fail(ctx, error, meters),
        );
      } else respondLikeKoa(ctx);
    } catch (error) {
      fail(ctx, error, meters);
    }
    return true;
  };
}

/** A coded error answers its JSON 4xx/503; anything else goes to Koa's own `ctx.onerror` (500, `app.on('error')`). */
function fail(ctx: RouterContext, error: unknown, meters: Meters | undefined): void {
  if (!isCometError(error)) {
    ctx.onerror(error as Error);
    return;
  }
  renderError(ctx, error, meters);
  respondLikeKoa(ctx);
}
