/**
 * WebSocket upgrades for `@stream` routes on the app's own http server:
 * the upgrade request is matched against the router, given a Koa context
 * (so `ctx.params` and the decorated method work as for HTTP), and handed
 * to the route's upgrade handler. Anything else is refused with 404.
 *
 * HTTP/2 has no upgrade: an `http2.createSecureServer({ allowHTTP1: true })`
 * emits `upgrade` for its HTTP/1.1 connections (a browser opens its
 * WebSocket over one), a cleartext `http2.createServer` never does.
 */
import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type Router from '@koa/router';
import Koa from 'koa';
import { matchUpgrade, routedContext } from './koa-adapter.js';
import type { AttachableServer } from './servers.js';
import type { StreamUpgrade } from './stream-route.js';

/** Listens for upgrades on `server`; `upgrades` maps a route handler to its upgrade handler. */
export function attachUpgrades(
  server: AttachableServer,
  router: Router,
  upgrades: ReadonlyMap<unknown, StreamUpgrade>,
  app: Koa | undefined,
): void {
  if (upgrades.size === 0) return;
  const koa = app ?? new Koa();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const match = matchUpgrade(router, path, (handler) => upgrades.get(handler));
    if (match !== undefined) {
      match.value(routedContext(koa, req, new ServerResponse(req), match), req, socket, head);
      return;
    }
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
}
