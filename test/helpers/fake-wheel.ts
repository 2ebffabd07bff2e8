/**
 * Fake timers and a fresh timer wheel around every test of the calling file:
 * `withFakeWheel((w) => { wheel = w; })` at the top level of a test file.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import { createTimerWheel, type TimerWheel } from '../../lib/suspend/timer-wheel.js';

export function withFakeWheel(use: (wheel: TimerWheel) => void): void {
  let wheel: TimerWheel | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
    wheel = createTimerWheel();
    use(wheel);
  });
  afterEach(() => {
    wheel?.close();
    vi.useRealTimers();
  });
}
