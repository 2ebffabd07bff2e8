/**
 * koa-comet: Servlet 3.0-style suspendable requests for Koa, and every
 * server-push transport on top of them (poll, long-poll, JSONP, SSE,
 * NDJSON, multipart/mixed, the forever iframe, WebSocket), fed by one bus.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { comet, createMemoryBus, longpoll } from 'koa-comet';
 *
 * class Chat {
 *   @longpoll('/rooms/:room/messages')
 *   messages(ctx) { return `room:${ctx.params.room}`; }
 * }
 * const app = new Koa();
 * const push = comet({ bus: createMemoryBus(), controllers: [Chat] });
 * app.use(push);
 * push.attach(app.listen(3000), app);
 * ```
 */
import './lib/base/symbol-metadata.js';

export {
  CometError,
  type CometErrorCode,
  type ErrorSpec,
  errorCatalog,
  isCometError,
} from './lib/base/errors.js';
export {
  type Bus,
  type BusObserver,
  type BusState,
  type BusStats,
  EARLIEST,
  type GapListener,
  type LiveGap,
  type Message,
  type MessageListener,
  type PublishOptions,
  type ReadFrom,
  type ReadResult,
} from './lib/bus/bus.js';
export { createMemoryBus, type MemoryBus, type MemoryBusOptions } from './lib/bus/memory.js';
export {
  createRedisBus,
  type ReconnectOptions,
  type RedisBus,
  type RedisBusClient,
  type RedisBusOptions,
  type RedisBusState,
} from './lib/bus/redis.js';
export {
  AsyncContext,
  type AsyncContextEvents,
  type AsyncContextOptions,
  type AsyncState,
  startAsync,
} from './lib/suspend/async-context.js';
export {
  createTimerWheel,
  type TimerHandle,
  type TimerTarget,
  type TimerWheel,
  type TimerWheelOptions,
} from './lib/suspend/timer-wheel.js';
export { isCallbackName } from './lib/wire/callback-name.js';
export {
  attachFlashPolicy,
  createFlashPolicyServer,
  type FlashPolicyOptions,
  flashPolicy,
} from './lib/wire/flash-policy.js';
export { escapeHtml, html } from './lib/wire/html.js';
export type {
  StreamRouteTransportName,
  StreamTransportName,
  TransportName,
} from './lib/wire/transport-names.js';
export { type JsonBodyOptions, readJsonBody } from './middleware/body.js';
export { type ServeClientOptions, serveClient } from './middleware/client-assets.js';
export {
  type CometHub,
  type CometMiddleware,
  type CometOptions,
  type CometStats,
  comet,
} from './middleware/comet.js';
export type { CorsOptions } from './middleware/cors.js';
export {
  type Authorize,
  type ChannelHandler,
  type Channels,
  type CometRoute,
  type LongPollOptions,
  longpoll,
  type PollOptions,
  type PublishRouteOptions,
  poll,
  publish,
  type RouteDecorator,
  type RouteOptions,
  type StreamOptions,
  stream,
} from './middleware/decorators.js';
export type { MetricsOptions, MetricsRegistry } from './middleware/metrics.js';
export type { AttachableServer } from './middleware/servers.js';
export { type StartAsyncOptions, suspendable } from './middleware/start-async.js';
export type { PublishCheck, StreamPublishOptions } from './middleware/stream-publish.js';
