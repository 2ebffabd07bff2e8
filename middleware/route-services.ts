/**
 * What every comet route handler of one `comet()` instance shares.
 */
import type { Hub } from '../lib/hub.js';
import type { TimerWheel } from '../lib/timer-wheel.js';
import type { CorsPolicy } from './cors.js';

/** Shared services handed to route handlers (one object per `comet()`). */
export interface RouteServices {
  readonly hub: Hub;
  readonly timers: TimerWheel;
  readonly cors: CorsPolicy;
}
