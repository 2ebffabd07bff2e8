/**
 * Direct dispatch (`comet({ direct })`, see CometOptions): `@poll` and
 * `@longpoll` GET requests are answered from the http server's request
 * listener, before Koa's middleware stack — the way socket.io's engine
 * answers its own path before Express or Koa sees it.
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
import { CometError, isCometError } from '../lib/errors.js';
import type { Meters } from '../lib/meters.js';
import { isThenable } from '../lib/thenable.js';
import type { CorsPolicy } from './cors.js';
import { renderError } from './render-error.js';
import type { AttachableServer } from './servers.js';

/**
 * A decorated GET route's handler, as mounted on the router.
 *
 * On HTTP/2 (`http2.createSecureServer`, `http2.createServer`) the listener
 * is handed Node's compatibility `Http2ServerRequest` / `Http2ServerResponse`,
 * which Koa and this dispatcher use the same way; nothing here touches the
 * socket (on HTTP/2 `res.socket` is a proxy of the session's).
 */
type RouteHandler = (ctx: RouterContext) => void | Promise<void>;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Puts the direct dispatcher in front of `server`'s request listeners:
 * a GET matching one of `router`'s routes is answered here, anything else
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
  const listeners = server.listeners('request') as RequestListener[];
  if (listeners.length === 0) {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      'direct: attach the server after it has the app as its request listener',
    );
  }
  const serve = directServer(app, router, cors, meters);
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && serve(req, res)) return;
    for (const listener of listeners) listener.call(server, req, res);
  });
}

/** Answers `req` when it is one of `router`'s routes; false (nothing written) otherwise. */
function directServer(app: Koa, router: Router, cors: CorsPolicy, meters: Meters | undefined) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '';
    // Origin-form only; anything unusual goes through Koa.
    if (url.charCodeAt(0) !== 47 /* / */) return false;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const layer = router.match(path, 'GET').pathAndMethod[0];
    const handler = layer?.stack[0] as RouteHandler | undefined;
    if (layer === undefined || handler === undefined) return false;
    const ctx = app.createContext(req, res) as RouterContext;
    ctx.params = layer.params(path, layer.captures(path), {});
    ctx.routerPath = layer.path as string;
    ctx._matchedRoute = layer.path;
    try {
      cors.apply(ctx);
      const done = handler(ctx);
      if (isThenable(done)) {
        done.then(
          () => respond(ctx),
          (error: unknown) => fail(ctx, error, meters),
        );
      } else respond(ctx);
    } catch (error) {
      fail(ctx, error, meters);
    }
    return true;
  };
}

/** Sends what a route left on `ctx` (a poll's body or 304), as Koa's `respond` would. */
function respond(ctx: RouterContext): void {
  const res = ctx.res;
  if (ctx.respond === false || res.headersSent || res.writableEnded) return;
  const body = ctx.body;
  if (body == null || ctx.status === 304) {
    res.end();
    return;
  }
  const bytes = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  ctx.length = Buffer.byteLength(bytes);
  res.end(bytes);
}

/** A coded error answers its JSON 4xx/503; anything else goes to Koa's own `ctx.onerror` (500, `app.on('error')`). */
function fail(ctx: RouterContext, error: unknown, meters: Meters | undefined): void {
  if (!isCometError(error)) {
    ctx.onerror(error as Error);
    return;
  }
  renderError(ctx, error, meters);
  respond(ctx);
}
