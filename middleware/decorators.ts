/**
 * `@poll`, `@longpoll`, `@stream` and `@publish`: TC39 standard method
 * decorators that declare comet routes on a controller class. A decorated
 * method receives the Koa context and returns the channel (or channels) the
 * request follows — for `@publish`, the one channel it publishes to — or
 * throws to refuse (`ctx.throw(401)` / `ctx.throw(403)`).
 *
 * Plain JavaScript (no decorators on Node 20 without a compiler) calls the
 * same functions with the handler as the last argument, the way
 * `router.get(path, handler)` reads, and passes the routes to
 * `comet({ routes })`: `longpoll('/rooms/:room/messages', (ctx) => ...)`.
 */
import '../lib/base/symbol-metadata.js';
import type { RouterContext } from '@koa/router';
import { CometError } from '../lib/base/errors.js';
import type { Message } from '../lib/bus/bus.js';
import type { StreamRouteTransportName } from '../lib/wire/transport-names.js';
import type { StreamPublishOptions } from './stream-publish.js';

/** What a decorated method returns: the channel(s) to follow. */
export type Channels = string | readonly string[];

/** A decorated route method. */
export type ChannelHandler = (ctx: RouterContext) => Channels | PromiseLike<Channels>;

/**
 * Decides whether a request may follow the channels its handler chose.
 * Return `false` (403) or throw (`ctx.throw(401)`) to refuse.
 */
export type Authorize = (ctx: RouterContext, channels: readonly string[]) => unknown;

/** Options shared by every decorated route. */
export interface RouteOptions {
  /** A per-route authorisation hook, run after the handler chose channels. */
  authorize?: Authorize;
  /**
   * Oldest message a resuming client is sent, in ms of age: a cursor whose
   * next message is older is answered as a gap (re-sync) instead of
   * replaying stale history. Default: the whole history the bus keeps.
   */
  historyWindow?: number;
  /** Most messages per channel in one answer. Default 100. */
  maxBatch?: number;
}

/** Options of `@longpoll`. */
export interface LongPollOptions extends RouteOptions {
  /** Default hold time in whole seconds when the request gives none (0 to `maxTimeout`). Default 25. */
  timeout?: number;
  /**
   * Longest hold a request may ask for with `?timeout=`, whole seconds.
   * Default 55, under a reverse proxy's usual 60 s read timeout (nginx's
   * `proxy_read_timeout`); raise the proxy's timeout before raising this.
   */
  maxTimeout?: number;
  /** Answer `?callback=NAME` requests as JSONP. Default true. */
  jsonp?: boolean;
}

/** Options of `@poll`. */
export type PollOptions = RouteOptions;

/** Options of `@stream` (the streaming transports read the rest). */
export interface StreamOptions extends RouteOptions {
  /** Heartbeat interval, ms. Default 25,000. */
  heartbeat?: number;
  /** A stream ends cleanly after this many ms; the client resumes by cursor. */
  maxLifetime?: number;
  /** A stream ends cleanly after this many bytes; the client resumes by cursor. */
  maxBytes?: number;
  /** Bytes queued for a slow reader past which the connection is closed. */
  maxQueuedBytes?: number;
  /** SSE `retry:` in ms: how long a browser waits before reconnecting. Default 1,000. */
  retry?: number;
  /**
   * Transports offered on this route, by the server's names (`sse`, `ndjson`,
   * `multipart`, `iframe`, `websocket`); default all. Another name is a compile
   * error, and (from JavaScript) `COMET_ERR_OPTIONS_INVALID` when `comet()` is created.
   */
  transports?: readonly StreamRouteTransportName[];
  /**
   * SSE `event:` name of message events, for clients that listen by name
   * (htmx's `sse-swap="NAME"`). Setting it or `render` makes the route
   * SSE only. Printable ASCII, not `reset`.
   */
  event?: string;
  /**
   * What a message's SSE event carries, e.g. an HTML fragment for htmx,
   * instead of the JSON envelope; the framework splits it into `data:`
   * lines so it cannot forge fields. With `event` and no `render`, events
   * carry the message's data as escaped HTML text.
   */
  render?: (message: Message) => string;
  /**
   * Let WebSocket clients publish to the route's channel with
   * `{"op":"publish","ref","data"}` frames, acked on the same socket.
   * Off by default; `allow` decides each message.
   */
  publish?: StreamPublishOptions;
}

/** Options of `@publish`. */
export interface PublishRouteOptions {
  /** A per-route authorisation hook, run after the handler chose the channel. */
  authorize?: Authorize;
  /** Largest accepted body in bytes. Default 65,536 (64 KiB). */
  limit?: number;
}

/** One declared route, as read back by the middleware. */
export type RouteDefinition =
  | { kind: 'poll'; path: string; key: string | symbol; options: PollOptions }
  | { kind: 'longpoll'; path: string; key: string | symbol; options: LongPollOptions }
  | { kind: 'stream'; path: string; key: string | symbol; options: StreamOptions }
  | { kind: 'publish'; path: string; key: string | symbol; options: PublishRouteOptions };

const kRoutes = Symbol.for('koa-comet.routes');

type Metadata = Record<PropertyKey, unknown>;

function record(metadata: DecoratorMetadataObject | undefined, route: RouteDefinition): void {
  const meta = metadata as Metadata | undefined;
  if (meta === undefined) throw new Error('Symbol.metadata is missing: import koa-comet first');
  // Metadata objects inherit from the parent class's: copy before adding.
  const own = Object.hasOwn(meta, kRoutes) ? (meta[kRoutes] as RouteDefinition[]) : undefined;
  if (own) own.push(route);
  else meta[kRoutes] = [...((meta[kRoutes] as RouteDefinition[] | undefined) ?? []), route];
}

/** What `@poll(path)`, `@longpoll(path)`, `@stream(path)` and `@publish(path)` return. */
export type RouteDecorator = <This>(
  method: (this: This, ctx: RouterContext) => Channels | PromiseLike<Channels>,
  context: ClassMethodDecoratorContext<This>,
) => void;

/**
 * A route declared without decorators: `longpoll(path, handler)` and its
 * siblings return one, for `comet({ routes: [...] })`.
 */
export type CometRoute =
  | {
      readonly kind: 'poll';
      readonly path: string;
      readonly options: PollOptions;
      readonly handler: ChannelHandler;
    }
  | {
      readonly kind: 'longpoll';
      readonly path: string;
      readonly options: LongPollOptions;
      readonly handler: ChannelHandler;
    }
  | {
      readonly kind: 'stream';
      readonly path: string;
      readonly options: StreamOptions;
      readonly handler: ChannelHandler;
    }
  | {
      readonly kind: 'publish';
      readonly path: string;
      readonly options: PublishRouteOptions;
      readonly handler: ChannelHandler;
    };

function decorator(kind: RouteDefinition['kind'], path: string, options: object): RouteDecorator {
  return (_method, context) => {
    record(context.metadata, { kind, path, key: context.name, options } as RouteDefinition);
  };
}

/**
 * The decorator, or — when a handler comes last — the route itself.
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` when what follows `path` is neither options nor a handler.
 */
function declare(
  kind: RouteDefinition['kind'],
  path: string,
  optionsOrHandler: object | ChannelHandler | undefined,
  handler: ChannelHandler | undefined,
): RouteDecorator | CometRoute {
  if (typeof optionsOrHandler === 'function') {
    return Object.freeze({ kind, path, options: {}, handler: optionsOrHandler }) as CometRoute;
  }
  const options = optionsOrHandler ?? {};
  if (typeof options !== 'object' || options === null) {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      `${kind}(${path}, …): expected options or a handler`,
    );
  }
  if (handler === undefined) return decorator(kind, path, options);
  if (typeof handler !== 'function') {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      `${kind}(${path}, options, …): the handler must be a function`,
    );
  }
  return Object.freeze({ kind, path, options, handler }) as CometRoute;
}

/**
 * Declares a short-poll route: answers at once with the messages after
 * `?cursor=`, with an `ETag` (304 on `If-None-Match`).
 * @example
 * ```ts
 * class Rooms {
 *   @poll('/rooms/:room/unread')
 *   unread(ctx: RouterContext) { return `room:${ctx.params.room}`; }
 * }
 * // Plain JavaScript: the handler last, the route into comet({ routes }).
 * const route = poll('/rooms/:room/unread', (ctx) => `room:${ctx.params.room}`);
 * ```
 */
export function poll(path: string, options?: PollOptions): RouteDecorator;
export function poll(path: string, handler: ChannelHandler): CometRoute;
export function poll(path: string, options: PollOptions, handler: ChannelHandler): CometRoute;
export function poll(
  path: string,
  options?: PollOptions | ChannelHandler,
  handler?: ChannelHandler,
): RouteDecorator | CometRoute {
  return declare('poll', path, options, handler);
}

/**
 * Declares a long-poll route (JSON, or JSONP with `?callback=`): held until a
 * message follows `?cursor=`, or `?timeout=` seconds pass.
 * @example
 * ```ts
 * class Rooms {
 *   @longpoll('/rooms/:room/messages', { timeout: 25 })
 *   messages(ctx: RouterContext) { return `room:${ctx.params.room}`; }
 * }
 * // Plain JavaScript: the handler last, the route into comet({ routes }).
 * const route = longpoll('/rooms/:room/messages', (ctx) => `room:${ctx.params.room}`);
 * ```
 */
export function longpoll(path: string, options?: LongPollOptions): RouteDecorator;
export function longpoll(path: string, handler: ChannelHandler): CometRoute;
export function longpoll(
  path: string,
  options: LongPollOptions,
  handler: ChannelHandler,
): CometRoute;
export function longpoll(
  path: string,
  options?: LongPollOptions | ChannelHandler,
  handler?: ChannelHandler,
): RouteDecorator | CometRoute {
  return declare('longpoll', path, options, handler);
}

/**
 * Declares a streaming route: SSE, NDJSON, multipart/mixed or the forever
 * iframe, negotiated per request, and WebSocket upgrades on the same path.
 * @example
 * ```ts
 * class Rooms {
 *   @stream('/rooms/:room/live')
 *   live(ctx: RouterContext) { return `room:${ctx.params.room}`; }
 * }
 * // Plain JavaScript: the handler last, the route into comet({ routes }).
 * const route = stream('/rooms/:room/live', (ctx) => `room:${ctx.params.room}`);
 * ```
 */
export function stream(path: string, options?: StreamOptions): RouteDecorator;
export function stream(path: string, handler: ChannelHandler): CometRoute;
export function stream(path: string, options: StreamOptions, handler: ChannelHandler): CometRoute;
export function stream(
  path: string,
  options?: StreamOptions | ChannelHandler,
  handler?: ChannelHandler,
): RouteDecorator | CometRoute {
  return declare('stream', path, options, handler);
}

/**
 * Declares a publish route: `POST` a JSON body to it and it is published to
 * the channel the handler returns (one channel), answered `201 {"id"}`.
 * The handler and the `authorize` hooks run before the body is read, so a
 * refused client never uploads it; the body then gets the checks of
 * `readJsonBody` (413 past `limit`, 415 not JSON, 400 malformed), and
 * an `Idempotency-Key` header makes a retried publish store once.
 * It may share its path with a `@longpoll` or `@stream` route (GET follows,
 * POST publishes), and is answered by direct dispatch like them.
 * @example
 * ```ts
 * class Rooms {
 *   @publish('/rooms/:room/messages')
 *   post(ctx: RouterContext) { return `room:${ctx.params.room}`; }
 * }
 * // Plain JavaScript: the handler last, the route into comet({ routes }).
 * const route = publish('/rooms/:room/messages', (ctx) => `room:${ctx.params.room}`);
 * ```
 */
export function publish(path: string, options?: PublishRouteOptions): RouteDecorator;
export function publish(path: string, handler: ChannelHandler): CometRoute;
export function publish(
  path: string,
  options: PublishRouteOptions,
  handler: ChannelHandler,
): CometRoute;
export function publish(
  path: string,
  options?: PublishRouteOptions | ChannelHandler,
  handler?: ChannelHandler,
): RouteDecorator | CometRoute {
  return declare('publish', path, options, handler);
}

/** The routes declared on a controller class (or on an instance's class). */
export function routesOf(controller: object): readonly RouteDefinition[] {
  const ctor = (typeof controller === 'function' ? controller : controller.constructor) as {
    [Symbol.metadata]?: Metadata | null;
  };
  return (ctor[Symbol.metadata]?.[kRoutes] as RouteDefinition[] | undefined) ?? [];
}
