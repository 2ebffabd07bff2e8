/**
 * What every comet route handler of one `comet()` instance shares.
 */
import type { Hub } from '../lib/hub/hub.js';
import type { TimerWheel } from '../lib/suspend/timer-wheel.js';
import type { CorsPolicy } from './cors.js';
import type { BusPublish } from './stream-publish.js';

/** Shared services handed to route handlers (one object per `comet()`). */
export interface RouteServices {
  readonly hub: Hub;
  readonly timers: TimerWheel;
  readonly cors: CorsPolicy;
  /** The bus's publish (WebSocket clients' publishes). */
  readonly publish: BusPublish;
}
