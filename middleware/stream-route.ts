/**
 * Koa handler of `@stream` routes: transport negotiation, then the raw
 * response is handed to `lib/` (`ctx.respond = false`) as a stream member
 * of the hub; and the WebSocket upgrade on the same path.
 *
 * Negotiation: `?transport=` wins (unknown or not offered → 400
 * `COMET_ERR_TRANSPORT_UNKNOWN`); else `Accept` picks among the offered
 * media types, `*\/*` or none → SSE; an `Accept` naming none → 406 listing
 * them. Resume: `Last-Event-ID`, then `?lastEventId=`, then `?cursor=`;
 * a cursor the bus cannot parse is refused (400) before anything is written.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouterContext } from '@koa/router';
import type { Context } from 'koa';
import { CometError, isCometError } from '../lib/base/errors.js';
import { createHttpConnection } from '../lib/stream/http.js';
import { openStreamMember } from '../lib/stream/member.js';
import type { StreamSessionOptions } from '../lib/stream/session.js';
import {
  createWebSocketConnection,
  createWebSocketServer,
  handleWebSocketUpgrade,
  isOriginAllowed,
  refuseUpgrade,
} from '../lib/stream/websocket.js';
import {
  isStreamRouteTransportName,
  isStreamTransportName,
  streamRouteTransportNames,
  streamTransports,
} from '../lib/wire/registry.js';
import { createSseEventEncoder } from '../lib/wire/sse.js';
import type { StreamTransport } from '../lib/wire/stream-transport.js';
import type { VariantRule } from '../lib/wire/variant.js';
import { webSocketEncoder } from '../lib/wire/websocket.js';
import { handleInboundFrames, inboundMaxPayload } from '../lib/wire/websocket-inbound.js';
import type { ChannelResolver } from './channels.js';
import type { StreamOptions } from './decorators.js';
import { detachFromKoa } from './koa-adapter.js';
import { callbackOf, cursorOf, single } from './request-params.js';
import type { RouteServices } from './route-services.js';
import { socketPublisher } from './stream-publish.js';

/** SSE `retry:` default: how long a browser waits before reconnecting after a clean end. */
const RETRY_MS = 1000;

function sessionOptions(services: RouteServices, options: StreamOptions): StreamSessionOptions {
  return {
    wheel: services.timers,
    ...(options.heartbeat !== undefined ? { heartbeatMs: options.heartbeat } : {}),
    ...(options.maxLifetime !== undefined ? { maxLifetimeMs: options.maxLifetime } : {}),
    ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
    ...(options.maxQueuedBytes !== undefined ? { maxQueuedBytes: options.maxQueuedBytes } : {}),
  };
}

/** The route's limits with the meter of one transport: one object per route and transport. */
function meteredLimits(
  services: RouteServices,
  options: StreamOptions,
  transport: string,
): StreamSessionOptions {
  const meter = services.hub.meters.transport(transport, 'stream');
  return { ...sessionOptions(services, options), meter };
}

/** Whether the route names or renders its SSE events, which makes it SSE only. */
function isSseOnly(options: StreamOptions): boolean {
  return options.event !== undefined || options.render !== undefined;
}

/**
 * The HTTP transports a route offers, in preference order. Checked when `comet()` is
 * created: TypeScript refuses an unknown name, this refuses it for JavaScript callers
 * (a route that would otherwise answer every request 406).
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for a name that is not a stream route's
 * transport, an empty list, or a rendering route that offers more than SSE.
 */
function offeredTransports(options: StreamOptions): StreamTransport[] {
  const listed: readonly unknown[] | undefined = options.transports;
  const unknown = listed?.filter((name) => !isStreamRouteTransportName(name)) ?? [];
  if (listed?.length === 0 || unknown.length > 0) {
    const names = unknown.map((name) => JSON.stringify(name)).join(', ');
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      `transports must list one or more of ${streamRouteTransportNames.join(', ')}` +
        (names === '' ? '' : `, not ${names}`),
    );
  }
  const names = isSseOnly(options) ? ['sse'] : options.transports;
  if (isSseOnly(options) && options.transports?.some((t) => t !== 'sse')) {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      'a route with event or render streams SSE only: transports may list only sse',
    );
  }
  return Object.values(streamTransports).filter((t) => !names || names.includes(t.name));
}

/**
 * Picks the transport for a request.
 * @throws CometError `COMET_ERR_TRANSPORT_UNKNOWN` (400), `COMET_ERR_TRANSPORT_NOT_ACCEPTABLE` (406).
 */
export function negotiate(ctx: Context, offered: readonly StreamTransport[]): StreamTransport {
  const asked = ctx.query['transport'];
  if (asked !== undefined) {
    const found =
      typeof asked === 'string' && isStreamTransportName(asked)
        ? offered.find((t) => t.name === asked)
        : undefined;
    if (found === undefined) throw new CometError('COMET_ERR_TRANSPORT_UNKNOWN');
    return found;
  }
  const types = offered.flatMap((t) => (t.mediaType === undefined ? [] : [t.mediaType]));
  const best = types.length > 0 ? ctx.accepts(types) : false;
  const chosen = offered.find((t) => t.mediaType === best);
  if (chosen === undefined) {
    throw new CometError(
      'COMET_ERR_TRANSPORT_NOT_ACCEPTABLE',
      `None of the offered media types is acceptable: ${types.join(', ')}`,
    );
  }
  return chosen;
}

/**
 * The variant a request picks, by the transport's rule: `''`, or (the iframe) its
 * `callback` alone or with `?origin=` (the postMessage form for a cross-origin parent
 * page), which must be a serialized origin on the CORS allow-list.
 * @throws CometError `COMET_ERR_CALLBACK_MISSING` (400), `COMET_ERR_ORIGIN_FORBIDDEN` (403).
 */
function variantOf(
  ctx: Context,
  services: RouteServices,
  rule: VariantRule,
  callback: string | undefined,
): string {
  if (rule.from === 'none') return '';
  if (callback === undefined) throw new CometError('COMET_ERR_CALLBACK_MISSING');
  const origin = single(ctx, 'origin', 'COMET_ERR_ORIGIN_FORBIDDEN');
  // Checked before any channel is resolved: a foreign page must not reach the handler.
  if (origin !== undefined && !services.cors.allows(origin)) {
    throw new CometError('COMET_ERR_ORIGIN_FORBIDDEN');
  }
  return rule.parse(callback, origin);
}

/** Builds the Koa handler of a `@stream` route. */
export function streamHandler(
  services: RouteServices,
  options: StreamOptions,
  channelsOf: ChannelResolver,
) {
  const offered = offeredTransports(options);
  const limits = new Map(offered.map((t) => [t, meteredLimits(services, options, t.name)]));
  // Named or rendered events: this route's own SSE frames (see sse.ts).
  const events = isSseOnly(options)
    ? createSseEventEncoder({ event: options.event, render: options.render })
    : undefined;
  return async (ctx: RouterContext): Promise<void> => {
    const transport = negotiate(ctx, offered);
    const callback = callbackOf(ctx);
    const variant = variantOf(ctx, services, transport.requestVariant, callback);
    const raw = cursorOf(ctx);
    const channels = await channelsOf(ctx);
    const positions = services.hub.parseCursor(raw, channels);
    if (services.hub.closing) throw new CometError('COMET_ERR_SHUTTING_DOWN');
    const init = {
      variant,
      retryMs: options.retry ?? RETRY_MS,
      frameAncestors: services.cors.frameAncestors,
    };
    if (ctx.method === 'HEAD') {
      // The headers a GET would get, then the end: a HEAD has no body to stream.
      detachFromKoa(ctx);
      transport.open(ctx.res, init).close();
      return;
    }
    // The first read before anything is written: a bus that cannot answer
    // is a coded error response, never an empty stream that ends at once.
    const member = await openStreamMember(
      services.hub,
      { channels, positions, encoder: events ?? transport, variant },
      limits.get(transport) ?? sessionOptions(services, options),
    );
    // The stream owns the raw response from here: Koa must not answer it,
    // and compression middleware (koa-compress) must not buffer it.
    detachFromKoa(ctx);
    ctx.compress = false;
    if (ctx.res.destroyed || ctx.req.socket.destroyed) {
      member.abandon();
      return;
    }
    member.attach(createHttpConnection(ctx.res, transport.open(ctx.res, init)));
  };
}

/**
 * Handles an HTTP upgrade for a `@stream` route whose path matched;
 * `ctx` is a Koa context made for the upgrade request (params set).
 */
export type StreamUpgrade = (
  ctx: RouterContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
) => void;

/** Builds the upgrade handler of a `@stream` route, or undefined when WebSocket is not offered. */
export function streamUpgradeHandler(
  services: RouteServices,
  options: StreamOptions,
  channelsOf: ChannelResolver,
): StreamUpgrade | undefined {
  if (options.transports && !options.transports.includes('websocket')) return undefined;
  if (isSseOnly(options)) return undefined;
  const inbound = options.publish;
  const wss = createWebSocketServer(
    inbound ? { maxPayload: inboundMaxPayload(inbound.limit) } : {},
  );
  const limits = meteredLimits(services, options, 'websocket');
  // The list itself, not `allows()`: `'*'` admits no credentialed handshake.
  const allowOrigins = services.cors.origins;
  return (ctx, req, socket, head) => {
    // The Origin first: a foreign page must not reach the route's handler.
    if (!isOriginAllowed(req, allowOrigins)) {
      services.hub.meters.error('COMET_ERR_ORIGIN_FORBIDDEN');
      refuseUpgrade(socket, new CometError('COMET_ERR_ORIGIN_FORBIDDEN'));
      return;
    }
    const start = async (): Promise<void> => {
      const raw = cursorOf(ctx);
      const channels = await channelsOf(ctx);
      const positions = services.hub.parseCursor(raw, channels);
      if (services.hub.closing) throw new CometError('COMET_ERR_SHUTTING_DOWN');
      // Read before the handshake completes: a refusal is the 400/503 with its JSON body.
      const member = await openStreamMember(
        services.hub,
        { channels, positions, encoder: webSocketEncoder, variant: '' },
        limits,
      );
      let attached = false;
      if (!socket.destroyed) {
        handleWebSocketUpgrade(wss, req, socket, head, {
          allowOrigins,
          onConnection: (ws) => {
            attached = true;
            member.attach(createWebSocketConnection(ws));
            const publisher = inbound && socketPublisher(inbound, services.publish, ctx, channels);
            handleInboundFrames(ws, publisher, inbound);
          },
        });
      }
      // ws answers a bad handshake (or a gone socket) without calling back.
      if (!attached) member.abandon();
    };
    start().catch((error: unknown) => {
      const coded = isCometError(error) ? error : new CometError('COMET_ERR_BUS_UNAVAILABLE');
      services.hub.meters.error(coded.code);
      refuseUpgrade(socket, coded);
    });
  };
}
