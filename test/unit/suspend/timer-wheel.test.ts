import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createTimerWheel,
  type TimerTarget,
  type TimerWheel,
} from '../../../lib/suspend/timer-wheel.js';

/** A target that records the fake clock at each call. */
function recorder(log: Array<[string, number]>, name: string): TimerTarget {
  return { onTimer: () => log.push([name, Date.now()]) };
}

describe('createTimerWheel', () => {
  let wheel: TimerWheel;
  let start: number;

  beforeEach(() => {
    vi.useFakeTimers();
    start = Date.now();
    wheel = createTimerWheel();
  });

  afterEach(() => {
    wheel.close();
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('arms one timer for many entries of the same delay', () => {
    const onTimer = vi.fn();
    for (let i = 0; i < 1000; i++) wheel.add(25_000, { onTimer });
    expect(wheel.size).toBe(1000);
    expect(vi.getTimerCount()).toBe(1);

    wheel.add(10_000, { onTimer });
    expect(vi.getTimerCount()).toBe(2);

    vi.advanceTimersByTime(25_000);
    expect(onTimer).toHaveBeenCalledTimes(1001);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fires each entry at its due time, in order, and not before', () => {
    const log: Array<[string, number]> = [];
    wheel.add(100, recorder(log, 'a'));
    vi.advanceTimersByTime(30);
    wheel.add(100, recorder(log, 'b'));
    wheel.add(50, recorder(log, 'c'));

    vi.advanceTimersByTime(49);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(log).toEqual([['c', start + 80]]);
    vi.advanceTimersByTime(19);
    expect(log).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(log.at(-1)).toEqual(['a', start + 100]);
    vi.advanceTimersByTime(29);
    expect(log).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(log).toEqual([
      ['c', start + 80],
      ['a', start + 100],
      ['b', start + 130],
    ]);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports due in the wheel clock', () => {
    const handle = wheel.add(250, { onTimer: () => {} });
    expect(handle.due).toBe(wheel.now() + 250);
    expect(wheel.now()).toBe(performance.now());
  });

  it('never fires an entry removed before its time; remove is idempotent', () => {
    const kept = vi.fn();
    const removed = vi.fn();
    wheel.add(100, { onTimer: kept });
    const handle = wheel.add(100, { onTimer: removed });
    wheel.add(100, { onTimer: kept });

    wheel.remove(handle);
    expect(wheel.size).toBe(2);
    wheel.remove(handle);
    expect(wheel.size).toBe(2);

    vi.advanceTimersByTime(100);
    expect(kept).toHaveBeenCalledTimes(2);
    expect(removed).not.toHaveBeenCalled();
  });

  it('disarms the shared timer when its last entry is removed', () => {
    const onTimer = vi.fn();
    const a = wheel.add(100, { onTimer });
    const b = wheel.add(100, { onTimer });
    wheel.remove(a);
    expect(vi.getTimerCount()).toBe(1);
    wheel.remove(b);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(onTimer).not.toHaveBeenCalled();
  });

  it('re-arms for the new head when the head is removed', () => {
    const log: Array<[string, number]> = [];
    const head = wheel.add(100, recorder(log, 'a'));
    vi.advanceTimersByTime(40);
    wheel.add(100, recorder(log, 'b'));
    wheel.remove(head);
    vi.advanceTimersByTime(100);
    expect(log).toEqual([['b', start + 140]]);
  });

  it('removing an entry that already fired does nothing', () => {
    const handle = wheel.add(10, { onTimer: () => {} });
    const later = vi.fn();
    vi.advanceTimersByTime(10);
    wheel.add(10, { onTimer: later });
    wheel.remove(handle);
    expect(wheel.size).toBe(1);
    vi.advanceTimersByTime(10);
    expect(later).toHaveBeenCalledOnce();
  });

  it('keeps firing the others when a target throws', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const boom = new Error('boom');
    const before = vi.fn();
    const after = vi.fn();
    wheel.add(100, { onTimer: before });
    wheel.add(100, {
      onTimer: () => {
        throw boom;
      },
    });
    wheel.add(100, { onTimer: after });

    vi.advanceTimersByTime(100);
    expect(before).toHaveBeenCalledOnce();
    expect(after).toHaveBeenCalledOnce();
    expect(warn).toHaveBeenCalledOnce();
    expect(warn).toHaveBeenCalledWith(boom, 'CometTimerWarning');
    expect(wheel.size).toBe(0);
  });

  it('close() cancels every entry and armed timer', () => {
    const onTimer = vi.fn();
    const handle = wheel.add(100, { onTimer });
    wheel.add(200, { onTimer });
    wheel.add(300, { onTimer });
    expect(vi.getTimerCount()).toBe(3);

    wheel.close();
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    wheel.remove(handle);
    expect(wheel.size).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(onTimer).not.toHaveBeenCalled();

    const again = vi.fn();
    wheel.add(100, { onTimer: again });
    vi.advanceTimersByTime(100);
    expect(again).toHaveBeenCalledOnce();
  });

  it('accepts entries added from inside onTimer, same delay or another', () => {
    const log: Array<[string, number]> = [];
    let rounds = 0;
    const repeating: TimerTarget = {
      onTimer() {
        log.push(['repeat', Date.now()]);
        if (++rounds < 3) wheel.add(100, repeating);
      },
    };
    wheel.add(100, repeating);
    wheel.add(100, {
      onTimer: () => {
        wheel.add(30, recorder(log, 'other'));
      },
    });

    vi.advanceTimersByTime(100);
    expect(log).toEqual([['repeat', start + 100]]);
    expect(wheel.size).toBe(2);
    vi.advanceTimersByTime(30);
    expect(log.at(-1)).toEqual(['other', start + 130]);
    vi.advanceTimersByTime(70);
    expect(log.at(-1)).toEqual(['repeat', start + 200]);
    vi.advanceTimersByTime(100);
    expect(log.at(-1)).toEqual(['repeat', start + 300]);
    vi.advanceTimersByTime(1000);
    expect(log).toHaveLength(4);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('lets a target remove a later entry of the same list while firing', () => {
    const later = vi.fn();
    let handle = wheel.add(100, { onTimer: () => wheel.remove(handle) });
    vi.advanceTimersByTime(10);
    handle = wheel.add(100, { onTimer: later });
    vi.advanceTimersByTime(1000);
    expect(later).not.toHaveBeenCalled();
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses an injected clock', () => {
    const custom = createTimerWheel({ now: () => 1_000 });
    const handle = custom.add(50, { onTimer: () => {} });
    expect(handle.due).toBe(1_050);
    custom.close();
  });
});
