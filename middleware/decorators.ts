/**
 * `@poll`, `@longpoll` and `@stream`: TC39 standard method decorators that
 * declare comet routes on a controller class. A decorated method receives
 * the Koa context and returns the channel (or channels) the request
 * follows, or throws to refuse (`ctx.throw(401)` / `ctx.throw(403)`).
 */
import '../lib/symbol-metadata.js';
import type { RouterContext } from '@koa/router';

/** What a decorated method returns: the channel(s) to follow. */
export type Channels = string | readonly string[];

/** A decorated route method. */
export type ChannelHandler = (ctx: RouterContext) => Channels | Promise<Channels>;

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
  /** Transports offered on this route; default all. */
  transports?: readonly string[];
}

/** One declared route, as read back by the middleware. */
export type RouteDefinition =
  | { kind: 'poll'; path: string; key: string | symbol; options: PollOptions }
  | { kind: 'longpoll'; path: string; key: string | symbol; options: LongPollOptions }
  | { kind: 'stream'; path: string; key: string | symbol; options: StreamOptions };

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

function decorator<K extends RouteDefinition['kind']>(kind: K, path: string, options: object) {
  return <This>(
    _method: (this: This, ctx: RouterContext) => Channels | Promise<Channels>,
    context: ClassMethodDecoratorContext<This>,
  ): void => {
    record(context.metadata, { kind, path, key: context.name, options } as RouteDefinition);
  };
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
 * ```
 */
export function poll(path: string, options: PollOptions = {}) {
  return decorator('poll', path, options);
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
 * ```
 */
export function longpoll(path: string, options: LongPollOptions = {}) {
  return decorator('longpoll', path, options);
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
 * ```
 */
export function stream(path: string, options: StreamOptions = {}) {
  return decorator('stream', path, options);
}

/** The routes declared on a controller class (or on an instance's class). */
export function routesOf(controller: object): readonly RouteDefinition[] {
  const ctor = (typeof controller === 'function' ? controller : controller.constructor) as {
    [Symbol.metadata]?: Metadata | null;
  };
  return (ctor[Symbol.metadata]?.[kRoutes] as RouteDefinition[] | undefined) ?? [];
}
