import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CometError } from '../../../lib/base/errors.js';
import {
  type AsyncContext,
  type AsyncContextOptions,
  startAsync,
} from '../../../lib/suspend/async-context.js';
import { createTimerWheel, type TimerWheel } from '../../../lib/suspend/timer-wheel.js';

let wheel: TimerWheel;
let req: IncomingMessage;
let res: ServerResponse;
let closeListenersBefore: number;

beforeEach(() => {
  vi.useFakeTimers();
  wheel = createTimerWheel();
  req = new IncomingMessage(new Socket());
  res = new ServerResponse(req);
  closeListenersBefore = res.listenerCount('close');
});

afterEach(() => {
  wheel.close();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

/** Starts a context with a 1 s timeout and parks it, as a returning handler would. */
function park(options: Partial<AsyncContextOptions> = {}): AsyncContext {
  const ac = startAsync(req, res, { timeout: 1000, timers: wheel, ...options });
  ac.suspend();
  return ac;
}

/** Lets a dispatch() re-run (started on a microtask) settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Every timer and listener the context created is gone. */
function expectReleased(): void {
  expect(res.listenerCount('close')).toBe(closeListenersBefore);
  expect(wheel.size).toBe(0);
  expect(vi.getTimerCount()).toBe(0);
}

function expectCode(call: () => unknown, code: string, message?: RegExp): void {
  let caught: unknown;
  try {
    call();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CometError);
  expect((caught as CometError).code).toBe(code);
  if (message) expect((caught as CometError).message).toMatch(message);
}

describe('timeout', () => {
  it('expires, then completes, calling listeners and onExpire once', () => {
    const seen: string[] = [];
    const onExpire = vi.fn((ac: AsyncContext) => seen.push(`expire:${ac.state}`));
    const ac = park({ onExpire });
    const signal = ac.signal;
    ac.on('timeout', (c) => seen.push(`timeout:${c.state}`));
    ac.on('complete', (c) => seen.push(`complete:${c.state}`));
    expect(res.listenerCount('close')).toBe(closeListenersBefore + 1);

    vi.advanceTimersByTime(999);
    expect(ac.state).toBe('suspended');
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);

    expect(seen).toEqual(['timeout:expired', 'expire:expired', 'complete:completed']);
    expect(onExpire).toHaveBeenCalledOnce();
    expect(ac.state).toBe('completed');
    expect(res.writableEnded).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(CometError);
    expect((signal.reason as CometError).code).toBe('COMET_ERR_ASYNC_TIMEOUT');
    vi.advanceTimersByTime(10_000);
    expect(seen).toHaveLength(3);
    expectReleased();
  });

  it('does not call onExpire when a timeout listener completes', () => {
    const onExpire = vi.fn();
    const onComplete = vi.fn();
    const completed = vi.fn();
    const ac = park({ onExpire, onComplete });
    ac.on('timeout', (c) => c.complete());
    ac.on('complete', completed);

    vi.advanceTimersByTime(1000);
    expect(onExpire).not.toHaveBeenCalled();
    expect(onComplete).toHaveBeenCalledOnce();
    expect(completed).toHaveBeenCalledOnce();
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('does not call onExpire when a timeout listener dispatches; a second dispatch is a no-op', async () => {
    const onExpire = vi.fn();
    const onDispatch = vi.fn();
    const ac = park({ onExpire, onDispatch });
    ac.on('timeout', (c) => {
      c.dispatch();
      c.dispatch();
    });

    vi.advanceTimersByTime(1000);
    expect(ac.state).toBe('resumed');
    ac.dispatch();
    await settle();
    expect(onExpire).not.toHaveBeenCalled();
    expect(onDispatch).toHaveBeenCalledOnce();
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('still completes when a timeout listener throws', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const onExpire = vi.fn();
    const ac = park({ onExpire });
    ac.on('timeout', () => {
      throw new Error('listener bug');
    });
    vi.advanceTimersByTime(1000);
    expect(warn).toHaveBeenCalledOnce();
    expect(onExpire).toHaveBeenCalledOnce();
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('defaults to 30 s', () => {
    const ac = startAsync(req, res, { timers: wheel });
    ac.suspend();
    vi.advanceTimersByTime(29_999);
    expect(ac.state).toBe('suspended');
    vi.advanceTimersByTime(1);
    expect(ac.state).toBe('completed');
    expectReleased();
  });
});

describe('races', () => {
  it('complete before the timeout removes the timer', () => {
    const timedOut = vi.fn();
    const onExpire = vi.fn();
    const ac = park({ onExpire });
    ac.on('timeout', timedOut);
    expect(wheel.size).toBe(1);

    ac.complete();
    expectReleased();
    vi.advanceTimersByTime(10_000);
    expect(timedOut).not.toHaveBeenCalled();
    expect(onExpire).not.toHaveBeenCalled();
  });

  it('dispatch before the timeout: the timeout never fires', async () => {
    const timedOut = vi.fn();
    const onDispatch = vi.fn();
    const ac = park({ onDispatch });
    ac.on('timeout', timedOut);

    ac.dispatch();
    expect(ac.state).toBe('resumed');
    expect(wheel.size).toBe(0);
    vi.advanceTimersByTime(10_000);
    await settle();
    expect(timedOut).not.toHaveBeenCalled();
    expect(onDispatch).toHaveBeenCalledOnce();
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('timeout before dispatch: dispatch after completion throws', () => {
    const onDispatch = vi.fn();
    const ac = park({ onDispatch });
    vi.advanceTimersByTime(1000);
    expectCode(() => ac.dispatch(), 'COMET_ERR_ASYNC_STATE', /"completed"/);
    expect(onDispatch).not.toHaveBeenCalled();
  });

  it('timeout before disconnect: the late close is ignored', () => {
    const failed = vi.fn();
    const ac = park();
    ac.on('error', failed);
    vi.advanceTimersByTime(1000);
    res.emit('close');
    expect(failed).not.toHaveBeenCalled();
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('disconnect before timeout: the timeout never fires', () => {
    const timedOut = vi.fn();
    const onExpire = vi.fn();
    const ac = park({ onExpire });
    ac.on('timeout', timedOut);
    res.emit('close');
    vi.advanceTimersByTime(10_000);
    expect(timedOut).not.toHaveBeenCalled();
    expect(onExpire).not.toHaveBeenCalled();
    expectReleased();
  });

  it('complete before disconnect: the late close is ignored', () => {
    const failed = vi.fn();
    const ac = park();
    ac.on('error', failed);
    ac.complete();
    res.emit('close');
    expect(failed).not.toHaveBeenCalled();
    expectReleased();
  });

  it('disconnect before complete: complete is a no-op', () => {
    const onComplete = vi.fn();
    const completed = vi.fn();
    const ac = park({ onComplete });
    ac.on('complete', completed);
    res.emit('close');
    ac.complete();
    expect(onComplete).toHaveBeenCalledOnce();
    expect(completed).toHaveBeenCalledOnce();
    expectReleased();
  });

  it('double complete calls onComplete and complete listeners once', () => {
    const onComplete = vi.fn();
    const completed = vi.fn();
    const ac = park({ onComplete });
    ac.on('complete', completed);
    ac.complete();
    ac.complete();
    expect(onComplete).toHaveBeenCalledOnce();
    expect(completed).toHaveBeenCalledOnce();
    expect(completed).toHaveBeenCalledWith(ac);
    expectReleased();
  });

  it('complete during a dispatch re-run wins; the re-run ending changes nothing', async () => {
    const completed = vi.fn();
    let finish: () => void = () => {};
    const ac = park({ onDispatch: () => new Promise<void>((r) => (finish = r)) });
    ac.on('complete', completed);
    ac.dispatch();
    await settle();
    ac.complete();
    finish();
    await settle();
    expect(completed).toHaveBeenCalledOnce();
    expectReleased();
  });
});

describe('dispatch', () => {
  it('a second dispatch is a no-op', async () => {
    const onDispatch = vi.fn();
    const ac = park({ onDispatch });
    ac.dispatch();
    ac.dispatch();
    await settle();
    expect(onDispatch).toHaveBeenCalledOnce();
    expect(onDispatch).toHaveBeenCalledWith(ac);
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('runs the handler on a later microtask, not inside dispatch()', async () => {
    const onDispatch = vi.fn();
    const ac = park({ onDispatch });
    ac.dispatch();
    expect(onDispatch).not.toHaveBeenCalled();
    await settle();
    expect(onDispatch).toHaveBeenCalledOnce();
  });

  it('a re-run that calls restart() parks again with a fresh timeout', async () => {
    const timedOut = vi.fn();
    const onDispatch = vi.fn((c: AsyncContext) => c.restart(500));
    const ac = park({ onDispatch });
    ac.on('timeout', timedOut);
    vi.advanceTimersByTime(900);

    ac.dispatch();
    await settle();
    expect(ac.state).toBe('suspended');
    expect(wheel.size).toBe(1);
    expect(res.listenerCount('close')).toBe(closeListenersBefore + 1);
    vi.advanceTimersByTime(499);
    expect(timedOut).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(timedOut).toHaveBeenCalledOnce();
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('restart() without a timeout reuses the configured one; a parked context can dispatch again', async () => {
    let rounds = 0;
    const ac = park({
      onDispatch: (c) => {
        if (++rounds === 1) c.restart();
      },
    });
    ac.dispatch();
    await settle();
    expect(ac.state).toBe('suspended');
    vi.advanceTimersByTime(999);
    expect(ac.state).toBe('suspended');
    ac.dispatch();
    await settle();
    expect(rounds).toBe(2);
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('restart() outside a re-run does nothing', () => {
    const ac = park();
    ac.restart(50);
    expect(ac.state).toBe('suspended');
    vi.advanceTimersByTime(50);
    expect(ac.state).toBe('suspended');
    expect(wheel.size).toBe(1);
  });

  it.each([
    ['throws', () => Promise.reject(new Error('handler failed'))],
    [
      'throws synchronously',
      () => {
        throw new Error('handler failed');
      },
    ],
  ])('a re-run that %s reports the error, then completes', async (_, onDispatch) => {
    const seen: string[] = [];
    const ac = park({ onDispatch });
    ac.on('error', (error, c) => seen.push(`error:${error.message}:${c.state}`));
    ac.on('complete', () => seen.push('complete'));
    ac.dispatch();
    await settle();
    expect(seen).toEqual(['error:handler failed:resumed', 'complete']);
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('wraps a thrown non-Error', async () => {
    const failed = vi.fn();
    const ac = park({ onDispatch: () => Promise.reject('nope') });
    ac.on('error', failed);
    ac.dispatch();
    await settle();
    expect(failed).toHaveBeenCalledOnce();
    expect(failed.mock.calls[0]?.[0]).toBeInstanceOf(Error);
    expect(failed.mock.calls[0]?.[0]).toMatchObject({ message: 'nope' });
  });

  it('throws COMET_ERR_ASYNC_NOT_DISPATCHABLE without onDispatch and changes nothing', () => {
    const ac = park();
    expectCode(() => ac.dispatch(), 'COMET_ERR_ASYNC_NOT_DISPATCHABLE');
    expect(ac.state).toBe('suspended');
    expect(wheel.size).toBe(1);
    ac.complete();
    expectReleased();
  });
});

describe('disconnect', () => {
  it('reports COMET_ERR_ASYNC_DISCONNECTED, then completes, aborting the signal', () => {
    const seen: string[] = [];
    const onExpire = vi.fn();
    const ac = park({ onExpire });
    const signal = ac.signal;
    let reported: unknown;
    ac.on('error', (error, c) => {
      reported = error;
      seen.push(`error:${c.state}`);
    });
    ac.on('complete', (c) => seen.push(`complete:${c.state}`));

    res.emit('close');
    expect(seen).toEqual(['error:aborted', 'complete:completed']);
    expect(reported).toBeInstanceOf(CometError);
    expect((reported as CometError).code).toBe('COMET_ERR_ASYNC_DISCONNECTED');
    expect(signal.aborted).toBe(true);
    expect((signal.reason as CometError).code).toBe('COMET_ERR_ASYNC_DISCONNECTED');
    expect(onExpire).not.toHaveBeenCalled();
    expectReleased();
  });

  it('works while still active (before the handler returned)', () => {
    const failed = vi.fn();
    const ac = startAsync(req, res, { timeout: 1000, timers: wheel });
    ac.on('error', failed);
    res.emit('close');
    expect(failed).toHaveBeenCalledOnce();
    expect(ac.state).toBe('completed');
    expectReleased();
  });

  it('during a re-run that parks again, aborts instead of waiting for the timeout', async () => {
    const failed = vi.fn();
    let finish: () => void = () => {};
    const ac = park({
      timeout: 0,
      onDispatch: (c) =>
        new Promise<void>((resolve) => {
          finish = () => {
            c.restart();
            resolve();
          };
        }),
    });
    ac.on('error', failed);
    ac.dispatch();
    await settle();
    res.emit('close');
    finish();
    await settle();
    expect(failed).toHaveBeenCalledOnce();
    expect(failed.mock.calls[0]?.[0]).toMatchObject({ code: 'COMET_ERR_ASYNC_DISCONNECTED' });
    expect(ac.state).toBe('completed');
    expectReleased();
  });
});

describe('after completion', () => {
  it('setTimeout, on, dispatch and restart throw COMET_ERR_ASYNC_STATE naming the state', () => {
    const ac = park({ onDispatch: vi.fn() });
    ac.complete();
    const state = /state "completed"/;
    expectCode(() => ac.setTimeout(100), 'COMET_ERR_ASYNC_STATE', state);
    expectCode(() => ac.on('timeout', () => {}), 'COMET_ERR_ASYNC_STATE', state);
    expectCode(() => ac.dispatch(), 'COMET_ERR_ASYNC_STATE', state);
    expectCode(() => ac.restart(), 'COMET_ERR_ASYNC_STATE', state);
    expect(() => ac.complete()).not.toThrow();
    expectReleased();
  });

  it('does not end a response onComplete already handled', () => {
    const onComplete = vi.fn();
    const ac = park({ onComplete });
    ac.complete();
    expect(onComplete).toHaveBeenCalledWith(ac);
    expect(res.writableEnded).toBe(false);
  });
});

describe('setTimeout', () => {
  it('re-arms: the old deadline does not fire, the new one does', () => {
    const timedOut = vi.fn();
    const ac = park();
    ac.on('timeout', timedOut);
    vi.advanceTimersByTime(500);
    ac.setTimeout(1000);
    expect(wheel.size).toBe(1);
    vi.advanceTimersByTime(500);
    expect(timedOut).not.toHaveBeenCalled();
    vi.advanceTimersByTime(499);
    expect(timedOut).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(timedOut).toHaveBeenCalledOnce();
    expectReleased();
  });

  it('setTimeout(0) disables the timeout', () => {
    const timedOut = vi.fn();
    const ac = park();
    ac.on('timeout', timedOut);
    ac.setTimeout(0);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000_000);
    expect(timedOut).not.toHaveBeenCalled();
    expect(ac.state).toBe('suspended');
    ac.complete();
    expectReleased();
  });

  it('timeout: 0 arms nothing', () => {
    const ac = park({ timeout: 0 });
    expect(wheel.size).toBe(0);
    vi.advanceTimersByTime(1_000_000);
    expect(ac.state).toBe('suspended');
  });
});

describe('signal', () => {
  it('is created lazily, once', () => {
    let created = 0;
    vi.stubGlobal(
      'AbortController',
      class extends AbortController {
        constructor() {
          super();
          created++;
        }
      },
    );
    const ac = park();
    vi.advanceTimersByTime(1000);
    expect(created).toBe(0);
    const other = startAsync(req, res, { timeout: 1000, timers: wheel });
    expect(created).toBe(0);
    expect(other.signal).toBe(other.signal);
    expect(created).toBe(1);
    other.complete();
    expect(ac.state).toBe('completed');
  });

  it('is aborted on complete', () => {
    const ac = park();
    const signal = ac.signal;
    const aborted = vi.fn();
    signal.addEventListener('abort', aborted);
    ac.complete();
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('complete');
    expect(aborted).toHaveBeenCalledOnce();
  });

  it('is already aborted when first read after completion', () => {
    const ac = park();
    ac.complete();
    expect(ac.signal.aborted).toBe(true);
  });
});
