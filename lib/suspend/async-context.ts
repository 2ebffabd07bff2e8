/**
 * The suspended request: Servlet 3.0's `AsyncContext` on Node's own
 * `IncomingMessage` / `ServerResponse` (no Koa here).
 *
 * ```
 *            startAsync()
 *                │
 *             active ──(handler returns: suspend())──► suspended
 *                │                                      │ │ │
 *                │      dispatch() ─────────────────────┘ │ └── client gone ──► aborted
 *                │        ▼                  timer fires ─┘                      │
 *                │     resumed ── re-run calls startAsync ─► active              │
 *                │        │                    expired ◄─┘                      │
 *                └────────┴── complete() ──────────┴─────────────────────────────┴──► completed
 * ```
 *
 * Whichever of dispatch, timeout, disconnect or complete arrives first wins;
 * the others are silent no-ops (the shape of Jetty's `ServletChannelState`
 * and CometD's settle-once scheduler). A context completes exactly once, and
 * completing releases its timer, its `close` listener and its listeners.
 * Using it after completion throws `COMET_ERR_ASYNC_STATE` naming the state.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CometError } from '../base/errors.js';
import { watchQueuedResponse } from './queued-response.js';
import type { TimerHandle, TimerTarget, TimerWheel } from './timer-wheel.js';

/** Where a context is in its life; see the module diagram. */
export type AsyncState = 'active' | 'suspended' | 'resumed' | 'expired' | 'aborted' | 'completed';

/** Listener signatures, by event. */
export interface AsyncContextEvents {
  /** The timeout elapsed. Call `complete()` or `dispatch()` here to answer yourself. */
  timeout: (context: AsyncContext) => void;
  /** The context completed (however it ended). Called once. */
  complete: (context: AsyncContext) => void;
  /** The client went away (`COMET_ERR_ASYNC_DISCONNECTED`) or a dispatch failed. */
  error: (error: Error, context: AsyncContext) => void;
}

/** Options for {@link startAsync}. */
export interface AsyncContextOptions {
  /** Milliseconds until `timeout`; 0 means none. Default 30,000. */
  timeout?: number;
  /** The shared timer all contexts of one server use. */
  timers: TimerWheel;
  /**
   * Answers a timeout no listener answered. Default: `complete()`.
   * Routes use it to send their empty result (a long-poll's `messages: []`).
   */
  onExpire?: (context: AsyncContext) => void;
  /** Finishes the response when the context completes. Default: `res.end()` if still open. */
  onComplete?: (context: AsyncContext) => void;
  /** Re-runs the handler for `dispatch()`; without it `dispatch()` throws. */
  onDispatch?: (context: AsyncContext) => unknown;
}

type Listeners = { [K in keyof AsyncContextEvents]?: AsyncContextEvents[K][] };

const kContext = Symbol('comet.asyncContext');

interface Tagged {
  [kContext]?: AsyncContext;
}

/** One shared `close` handler for every response: no closure per request. */
function onResponseClose(this: ServerResponse & Tagged): void {
  this[kContext]?.abort();
}

/**
 * A suspended request. Create it with {@link startAsync}.
 */
export class AsyncContext implements TimerTarget {
  /** The request being held. */
  readonly request: IncomingMessage;
  /** The response that will be completed later. */
  readonly response: ServerResponse;
  #state: AsyncState = 'active';
  #options: AsyncContextOptions;
  #timer: TimerHandle | undefined;
  #listeners: Listeners | undefined;
  #abort: AbortController | undefined;
  /** The client left while a dispatch re-run was in flight (its `close` fires only once). */
  #gone = false;

  /**
   * @param timeoutMs overrides `options.timeout`, so one options object can
   * serve every context of a route whatever each request asked for.
   */
  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    options: AsyncContextOptions,
    timeoutMs?: number,
  ) {
    this.request = req;
    this.response = res;
    this.#options = options;
    (res as Tagged)[kContext] = this;
    res.on('close', onResponseClose);
    // A pipelined response queued behind another gets no `close` of its own.
    watchQueuedResponse(res);
    this.#arm(timeoutMs ?? options.timeout ?? 30_000);
  }

  /** The current state. */
  get state(): AsyncState {
    return this.#state;
  }

  /**
   * Aborted on timeout, disconnect or completion — hand it to `fetch`, a
   * database query or anything else the held request is waiting on.
   */
  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    if (this.#state === 'completed' && !this.#abort.signal.aborted) this.#abort.abort('complete');
    return this.#abort.signal;
  }

  /**
   * Restarts the timeout: `ms` from now (0: no timeout).
   * @throws CometError `COMET_ERR_ASYNC_STATE` once completed.
   */
  setTimeout(ms: number): void {
    this.#assertLive('setTimeout');
    this.#disarm();
    if (this.#state === 'active' || this.#state === 'suspended') this.#arm(ms);
  }

  /**
   * Adds a listener.
   * @throws CometError `COMET_ERR_ASYNC_STATE` once completed.
   */
  on<K extends keyof AsyncContextEvents>(event: K, listener: AsyncContextEvents[K]): this {
    this.#assertLive('on');
    this.#listeners ??= {};
    this.#listeners[event] ??= [];
    (this.#listeners[event] as AsyncContextEvents[K][]).push(listener);
    return this;
  }

  /** Marks the handler as returned: active → suspended. No-op in any other state. */
  suspend(): void {
    if (this.#state === 'active') this.#state = 'suspended';
  }

  /**
   * Ends the context and finishes the response. Idempotent: does nothing if
   * already completed.
   */
  complete(): void {
    if (this.#state === 'completed') return;
    this.#state = 'completed';
    this.#release();
    this.#abort?.abort('complete');
    const finish = this.#options.onComplete;
    if (finish) finish(this);
    else if (!this.response.writableEnded && !this.response.destroyed) this.response.end();
    const listeners = this.#listeners?.complete;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) this.#safely(() => listener(this));
  }

  /**
   * Resumes the request by re-running its handler with the same request.
   * If the re-run does not call `startAsync` again, the context completes
   * when it returns. No-op if a timeout, disconnect or earlier dispatch won.
   * @throws CometError `COMET_ERR_ASYNC_STATE` once completed;
   * `COMET_ERR_ASYNC_NOT_DISPATCHABLE` when no handler was given.
   */
  dispatch(): void {
    this.#assertLive('dispatch');
    const run = this.#options.onDispatch;
    if (!run) throw new CometError('COMET_ERR_ASYNC_NOT_DISPATCHABLE');
    if (this.#state !== 'active' && this.#state !== 'suspended' && this.#state !== 'expired')
      return;
    this.#state = 'resumed';
    this.#disarm();
    Promise.resolve()
      .then(() => run(this))
      .then(
        () => this.#afterDispatch(),
        (error: unknown) => {
          this.#emitError(error instanceof Error ? error : new Error(String(error)));
          this.complete();
        },
      );
  }

  /**
   * Re-arms a context whose handler is being re-run by `dispatch()` (the
   * handler called `startAsync` again): resumed → active.
   */
  restart(timeout?: number): void {
    this.#assertLive('restart');
    if (this.#state !== 'resumed') return;
    this.#state = 'active';
    if (this.#gone) {
      this.abort();
      return;
    }
    this.#arm(timeout ?? this.#options.timeout ?? 30_000);
  }

  /** The client went away: active/suspended → aborted → completed. */
  abort(): void {
    // Dispatch won this race, but a re-run that parks again must not wait on
    // a client that is gone: `restart()` aborts then.
    if (this.#state === 'resumed') this.#gone = true;
    if (this.#state !== 'active' && this.#state !== 'suspended') return;
    this.#state = 'aborted';
    const gone = new CometError('COMET_ERR_ASYNC_DISCONNECTED');
    this.#abort?.abort(gone);
    this.#emitError(gone);
    this.complete();
  }

  /** @internal Called by the timer wheel. */
  onTimer(): void {
    this.#timer = undefined;
    if (this.#state !== 'active' && this.#state !== 'suspended') return;
    this.#state = 'expired';
    this.#abort?.abort(new CometError('COMET_ERR_ASYNC_TIMEOUT'));
    const listeners = this.#listeners?.timeout;
    if (listeners) for (const listener of listeners) this.#safely(() => listener(this));
    if (this.#state !== 'expired') return;
    const expire = this.#options.onExpire;
    if (expire) this.#safely(() => expire(this));
    this.complete();
  }

  #afterDispatch(): void {
    if (this.#state === 'active') this.suspend();
    else if (this.#state === 'resumed') this.complete();
  }

  #arm(ms: number): void {
    if (ms > 0) this.#timer = this.#options.timers.add(ms, this);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#options.timers.remove(this.#timer);
    this.#timer = undefined;
  }

  #release(): void {
    this.#disarm();
    this.response.removeListener('close', onResponseClose);
    (this.response as Tagged)[kContext] = undefined;
  }

  #emitError(error: Error): void {
    const listeners = this.#listeners?.error;
    if (listeners) for (const listener of listeners) this.#safely(() => listener(error, this));
  }

  #safely(call: () => void): void {
    try {
      call();
    } catch (error) {
      process.emitWarning(error instanceof Error ? error : String(error), 'CometListenerWarning');
    }
  }

  #assertLive(operation: string): void {
    if (this.#state === 'completed') {
      throw new CometError(
        'COMET_ERR_ASYNC_STATE',
        `Cannot ${operation}() an async context in state "completed"`,
      );
    }
  }
}

/**
 * Suspends a request: the caller returns, the connection stays open, and
 * the response completes later through the returned context.
 *
 * @example
 * ```ts
 * const ac = startAsync(req, res, { timeout: 25_000, timers });
 * ac.on('timeout', () => { res.writeHead(204); ac.complete(); });
 * job.once('done', (result) => { res.end(JSON.stringify(result)); ac.complete(); });
 * ```
 */
export function startAsync(
  req: IncomingMessage,
  res: ServerResponse,
  options: AsyncContextOptions,
): AsyncContext {
  return new AsyncContext(req, res, options);
}
