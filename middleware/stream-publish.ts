/**
 * The `publish` option of `@stream`: clients publish on the route's
 * WebSocket (see `lib/wire/websocket-inbound.ts` for the frames and
 * bounds). Off unless the route names an `allow` hook, which decides each
 * message with the connection's Koa context, like an `authorize` hook.
 */
import type { RouterContext } from '@koa/router';
import { CometError } from '../lib/base/errors.js';
import type { InboundLimits, InboundPublish } from '../lib/wire/websocket-inbound.js';
import { refusal } from './channels.js';

/**
 * Decides one publish from a WebSocket client: `true` publishes to the
 * route's channel (a route following several channels must name one),
 * a channel name (one the route follows) publishes there; anything else,
 * or a throw (`ctx.throw(401)`), refuses with a coded error frame.
 */
export type PublishCheck = (
  ctx: RouterContext,
  data: unknown,
  channels: readonly string[],
) => boolean | string | Promise<boolean | string>;

/** `@stream({ publish })`: WebSocket publishing, with the POST route's limits. */
export interface StreamPublishOptions extends InboundLimits {
  /** Runs for every publish frame; see {@link PublishCheck}. */
  allow: PublishCheck;
}

/** Publishes to the bus (the one operation a WebSocket publisher needs). */
export type BusPublish = (channel: string, data: unknown) => Promise<{ id: string }>;

/** The publisher of one socket: `allow`, then the bus. */
export function socketPublisher(
  options: StreamPublishOptions,
  publish: BusPublish,
  ctx: RouterContext,
  channels: readonly string[],
): InboundPublish {
  return async (data) => {
    let answer: unknown;
    try {
      answer = await options.allow(ctx, data, channels);
    } catch (error) {
      throw refusal(error);
    }
    const channel = answer === true && channels.length === 1 ? channels[0] : answer;
    if (typeof channel !== 'string' || !channels.includes(channel)) {
      throw new CometError('COMET_ERR_AUTH_FORBIDDEN');
    }
    return publish(channel, data);
  };
}
