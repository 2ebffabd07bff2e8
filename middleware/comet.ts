/**
 * `comet()`: the one middleware users mount. It mounts the decorated
 * controllers on `@koa/router`, gives every ctx `startAsync()`, answers
 * CORS, turns coded errors into JSON 4xx bodies, and closes gracefully.
 */
import Router, { type RouterContext } from '@koa/router';
import type Koa from 'koa';
import type { Context, Middleware, Next } from 'koa';
import { CometError } from '../lib/base/errors.js';
import type { Bus } from '../lib/bus/bus.js';
import { Hub } from '../lib/hub/hub.js';
import { Meters } from '../lib/hub/meters.js';
import type { AsyncContext } from '../lib/suspend/async-context.js';
import { createTimerWheel, type TimerWheel } from '../lib/suspend/timer-wheel.js';
import { longPollHandler, pollHandler } from './batch-routes.js';
import { channelResolver } from './channels.js';
import { type ServeClientOptions, serveClient } from './client-assets.js';
import { type CorsOptions, createCorsPolicy } from './cors.js';
import { type Authorize, type CometRoute, type RouteDefinition, routesOf } from './decorators.js';
import { attachDirect } from './direct.js';
import { checkKoaVersions, matchRoute } from './koa-adapter.js';
import { type MetricsOptions, registerMetrics } from './metrics.js';
import { publishHandler } from './publish-route.js';
import { renderError } from './render-error.js';
import type { RouteServices } from './route-services.js';
import { type AttachableServer, type ServerCloser, trackServer } from './servers.js';
import { type AsyncHost, heldUntilComplete, installStartAsync, kHost } from './start-async.js';
import { type StreamUpgrade, streamHandler, streamUpgradeHandler } from './stream-route.js';
import { attachUpgrades } from './upgrade.js';

/** Options of {@link comet}. */
export interface CometOptions {
  /** The bus every route reads and follows. */
  bus: Bus;
  /** Controller classes (instantiated with no arguments) or instances with decorated methods. */
  controllers?: readonly object[];
  /**
   * Routes declared without decorators (plain JavaScript), e.g.
   * `[longpoll('/rooms/:room/messages', (ctx) => `room:${ctx.params.room}`)]`;
   * mounted after the controllers' routes, with the same options.
   */
  routes?: readonly CometRoute[];
  /** A path prefix for every decorated route, e.g. `/api`. */
  prefix?: string;
  /** Cross-origin readers; default same origin only. */
  cors?: CorsOptions;
  /** Runs for every decorated route after the handler chose its channels. */
  authorize?: Authorize;
  /** Answer requests nothing downstream handled with a JSON 404. Default true. */
  jsonNotFound?: boolean;
  /** Milliseconds `close()` waits for connections before cutting them. Default 5,000. */
  shutdownGrace?: number;
  /**
   * Serve the browser client bundles (`koa-comet.js`, `koa-comet.iife.js`,
   * source maps) under this prefix; `false` to serve nothing. Default `/comet`.
   */
  client?: false | ServeClientOptions;
  /**
   * How long a channel's bus subscription outlives its last held request,
   * ms (long-pollers come back every message). Default 10,000.
   */
  channelLinger?: number;
  /**
   * Answer `@poll`, `@longpoll` and `@stream` GETs and `@publish` POSTs
   * from the http server's request listener, before Koa's middleware stack
   * (needs `attach(server, app)`): about a fifth less CPU per re-poll. `true`: always, and middleware
   * mounted before `comet()` does not run for them (`ctx.state` starts
   * empty; use `authorize`). `'auto'` (default): only when `comet()` is the
   * app's first middleware, where nothing is skipped. `false`: never.
   * See `docs/design-decisions.md`.
   */
  direct?: boolean | 'auto';
  /**
   * Prometheus metrics (`comet_*`) through prom-client, an optional peer
   * dependency: `true` registers on prom-client's global registry,
   * `{ registry }` on yours. Default: none (the counts are still kept, for
   * {@link CometMiddleware.stats}). See `docs/guides/operations.md`.
   */
  metrics?: true | MetricsOptions;
  /** The shared timer (injected for tests). */
  timers?: TimerWheel;
}

/** What {@link CometMiddleware.stats} returns. */
export interface CometStats {
  /** Held long-polls and open streams (a request following two channels counts once). */
  held: number;
  /** Channels followed on the bus (lingering ones included). */
  channels: number;
  /** Hand-written contexts (`ctx.startAsync()`) not yet completed. */
  contexts: number;
  /** Open streams by transport. */
  streams: Record<string, number>;
  /** Held long-poll / JSONP requests by transport. */
  longPolls: Record<string, number>;
  /** Messages written since start (every transport). */
  deliveries: number;
  /** Gap signals served since start. */
  gaps: number;
  /** Streams closed for a slow reader, their byte budget or lifetime, since start. */
  drops: number;
  /** Bytes of history the bus holds in this process (`Bus.stats`); absent when it does not say. */
  busBytes?: number;
}

/**
 * What {@link CometMiddleware.hub} shows of the fan-out that holds every waiting
 * request and open stream in this process: counts, for tests and health pages.
 */
export interface CometHub {
  /**
   * Requests and streams following `channel` in this process now; without a
   * channel, every one of them (one following several channels counts once).
   */
  memberCount(channel?: string): number;
  /** Channels at least one request or stream follows in this process now. */
  readonly activeChannels: number;
}

/** What {@link comet} returns: a Koa middleware with a few handles. */
export interface CometMiddleware extends Middleware {
  readonly bus: Bus;
  /** Counts of what this process holds (see {@link CometHub}). */
  readonly hub: CometHub;
  readonly router: Router;
  /**
   * Ties the middleware to the server — `node:http`, `node:https`, or
   * HTTP/2 (`http2.createSecureServer({ allowHTTP1: true }, app.callback())`
   * or cleartext `http2.createServer`): WebSocket upgrades on `@stream`
   * routes, direct dispatch (see `CometOptions.direct`; needs the app), and
   * `close()` closing the server too. Pass the app so upgrade requests get
   * a context with the app's extensions (and defines `ctx.startAsync` on
   * `app.context`). Call it once the server has the
   * app as its request listener (`app.listen()` does that). WebSocket needs
   * an HTTP/1.1 upgrade: on HTTP/2 only with `allowHTTP1` (see
   * `docs/design-decisions.md`).
   * @throws CometError `COMET_ERR_OPTIONS_INVALID` for `direct: true` without an app.
   */
  attach(server: AttachableServer, app?: Koa): void;
  /**
   * Graceful shutdown: refuses new suspensions (503), answers every held
   * request at once with its current cursor, ends every stream, closes the
   * attached servers (HTTP/2 sessions get GOAWAY; what is left is cut
   * after `shutdownGrace`).
   */
  close(): Promise<void>;
  /** Live counts and totals (the numbers the Prometheus metrics read). */
  stats(): CometStats;
}

/**
 * Creates the koa-comet middleware.
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for a bad option.
 * @example
 * ```ts
 * const app = new Koa();
 * const push = comet({ bus: createMemoryBus(), controllers: [Chat] });
 * app.use(push);
 * push.attach(app.listen(3000));
 * ```
 */
export function comet(options: CometOptions): CometMiddleware {
  checkKoaVersions();
  const timers = options.timers ?? createTimerWheel();
  const meters = new Meters();
  const hub = new Hub(options.bus, {
    timers,
    meters,
    ...(options.channelLinger !== undefined ? { linger: options.channelLinger } : {}),
  });
  const cors = createCorsPolicy(options.cors);
  const services: RouteServices = {
    hub,
    timers,
    cors,
    publish: (channel, data) => options.bus.publish(channel, data),
  };
  const contexts = new Set<AsyncContext>();
  const host: AsyncHost = { timers, contexts, closing: () => hub.closing };
  const { router, direct, upgrades } = buildRouter(options, services);
  const routes = router.routes();
  const assets = options.client === false ? undefined : serveClient(options.client ?? {});
  const downstream = assets ? (ctx: Context, next: Next) => assets(ctx, next) : undefined;
  const jsonNotFound = options.jsonNotFound ?? true;
  const closers: ServerCloser[] = [];
  const unregisterMetrics = options.metrics
    ? registerMetrics(options.metrics, { hub, bus: options.bus })
    : undefined;
  // `direct: true` does nothing until attach(server, app): say so once.
  let directUnattached = options.direct === true;
  // Every decorated route is a GET, so a POST (the app's publish route,
  // say) skips the router's host check, path matching and compose: about
  // 4 µs of a publish. An app may add routes or middleware to `push.router`
  // at any time, so the check is redone whenever its stack grows.
  let stackSize = -1;
  let onlyGets = true;
  const getOnly = (): boolean => {
    if (router.stack.length !== stackSize) {
      stackSize = router.stack.length;
      onlyGets = router.stack.every(
        (layer) =>
          layer.methods.length > 0 && layer.methods.every((m) => m === 'GET' || m === 'HEAD'),
      );
    }
    return onlyGets;
  };

  const middleware = (async (ctx: Context, next: Next) => {
    (ctx as Context & { [kHost]?: AsyncHost })[kHost] = host;
    // attach(server, app) installed it; an app that never attaches gets it
    // on its first request (a no-op check after that).
    installStartAsync(ctx.app);
    try {
      if (directUnattached && ctx.method === 'GET') warnDirectUnattached(ctx.path);
      if (cors.apply(ctx)) return;
      if (ctx.method === 'GET' || ctx.method === 'HEAD' || !getOnly()) {
        await routes(ctx as RouterContext, downstream ? () => downstream(ctx, next) : next);
      } else await (downstream ? downstream(ctx, next) : next());
      const held = heldUntilComplete(ctx);
      if (held) await held;
      if (jsonNotFound && ctx.respond !== false && ctx.status === 404 && ctx.body == null) {
        throw new CometError('COMET_ERR_ROUTE_NOT_FOUND');
      }
    } catch (error) {
      renderError(ctx, error, hub.meters);
    }
  }) as CometMiddleware;

  const warnDirectUnattached = (path: string): void => {
    if (matchRoute(direct, path) === undefined) return;
    directUnattached = false;
    process.emitWarning(
      `comet({ direct: true }) answered ${path} through Koa: direct dispatch starts at attach(server, app)`,
      { type: 'CometWarning', code: 'COMET_WARN_DIRECT_NOT_ATTACHED' },
    );
  };

  return Object.assign(middleware, {
    bus: options.bus,
    hub,
    router,
    attach(server: AttachableServer, app?: Koa) {
      if (options.direct === true && app === undefined) {
        throw new CometError('COMET_ERR_OPTIONS_INVALID', 'direct: true needs attach(server, app)');
      }
      // 'auto': only where no middleware runs before comet(), so answering
      // before Koa's stack skips nothing the app put there.
      const auto =
        (options.direct ?? 'auto') === 'auto' &&
        app?.middleware[0] === middleware &&
        server.listenerCount('request') > 0;
      if (app !== undefined && (options.direct === true || auto)) {
        attachDirect(server, app, direct, cors, hub.meters);
        directUnattached = false;
      }
      if (app !== undefined) installStartAsync(app);
      closers.push(trackServer(server));
      attachUpgrades(server, router, upgrades, app);
    },
    async close() {
      hub.shutdown();
      for (const ac of [...contexts]) ac.onTimer();
      await Promise.all(closers.map((close) => close(options.shutdownGrace ?? 5000)));
      timers.close();
      unregisterMetrics?.();
    },
    stats: () => statsOf(hub, options.bus, contexts.size),
  });
}

function statsOf(hub: Hub, bus: Bus, contexts: number): CometStats {
  const stats: CometStats = {
    held: hub.memberCount(),
    channels: hub.activeChannels,
    contexts,
    streams: {},
    longPolls: {},
    deliveries: 0,
    gaps: hub.meters.gaps,
    drops: 0,
  };
  const busBytes = bus.stats?.().bytes;
  if (busBytes !== undefined) stats.busBytes = busBytes;
  for (const meter of hub.meters.transports()) {
    stats.deliveries += meter.deliveries;
    if (meter.kind === 'stream') {
      stats.streams[meter.transport] = meter.open;
      stats.drops += meter.ends.slow + meter.ends.budget + meter.ends.lifetime;
    } else if (meter.transport !== 'poll') stats.longPolls[meter.transport] = meter.open;
  }
  return stats;
}

function buildRouter(options: CometOptions, services: RouteServices) {
  const router = new Router(options.prefix ? { prefix: options.prefix } : {});
  // The GET and publish routes again, for direct dispatch (see direct.ts).
  const direct = new Router(options.prefix ? { prefix: options.prefix } : {});
  const upgrades = new Map<unknown, StreamUpgrade>();
  for (const [instance, route] of declaredRoutes(options)) {
    const channelsOf = channelResolver(instance, route, options.authorize);
    if (route.kind === 'publish') {
      const handler = publishHandler(options.bus, route.options, channelsOf);
      router.post(route.path, handler);
      direct.post(route.path, handler);
    } else if (route.kind !== 'stream') {
      const handler =
        route.kind === 'poll'
          ? pollHandler(services, route.options, channelsOf)
          : longPollHandler(services, route.options, channelsOf);
      router.get(route.path, handler);
      direct.get(route.path, handler);
    } else {
      const handler = streamHandler(services, route.options, channelsOf);
      router.get(route.path, handler);
      direct.get(route.path, handler);
      const upgrade = streamUpgradeHandler(services, route.options, channelsOf);
      if (upgrade) upgrades.set(handler, upgrade);
    }
  }
  return { router, direct, upgrades };
}

/** Every route with the object its handler is called on: controllers', then `routes`. */
function* declaredRoutes(
  options: CometOptions,
): Generator<[Record<PropertyKey, unknown>, RouteDefinition]> {
  for (const controller of options.controllers ?? []) {
    const instance = (
      typeof controller === 'function' ? new (controller as new () => object)() : controller
    ) as Record<PropertyKey, unknown>;
    for (const route of routesOf(controller)) yield [instance, route];
  }
  for (const route of options.routes ?? []) {
    if (typeof route !== 'object' || route === null || typeof route.handler !== 'function') {
      throw new CometError(
        'COMET_ERR_OPTIONS_INVALID',
        'routes: each entry is poll/longpoll/stream(path, [options,] handler)',
      );
    }
    const { kind, path, options: routeOptions, handler } = route;
    // A one-method holder, so plain routes resolve channels as decorated ones do.
    yield [
      { handle: handler },
      { kind, path, key: 'handle', options: routeOptions } as RouteDefinition,
    ];
  }
}
