/**
 * Koa handler of `@stream` routes — HOOK owned by the streaming work
 * (issue 3): negotiation, the stream session on the hub, and WebSocket
 * upgrades on the same path. Until that lands, stream routes answer 406.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouterContext } from '@koa/router';
import { CometError } from '../lib/errors.js';
import type { ChannelResolver } from './batch-routes.js';
import type { StreamOptions } from './decorators.js';
import type { RouteServices } from './route-services.js';

/** Builds the Koa handler of a `@stream` route. */
export function streamHandler(
  _services: RouteServices,
  _options: StreamOptions,
  _channelsOf: ChannelResolver,
) {
  return async (_ctx: RouterContext): Promise<void> => {
    throw new CometError('COMET_ERR_TRANSPORT_NOT_ACCEPTABLE');
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
  _services: RouteServices,
  _options: StreamOptions,
  _channelsOf: ChannelResolver,
): StreamUpgrade | undefined {
  return undefined;
}
