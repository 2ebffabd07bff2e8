import { type Backoff, type BackoffOptions, createBackoff } from './backoff.js';
import { type BufferingWatch, createBufferingWatch } from './buffering-watch.js';
import {
  type DiagnosisContext,
  diagnoseFailure,
  diagnoseNeverOpened,
  judgeRefusal,
  type Verdict,
} from './diagnosis.js';
import { probeBatch } from './probe.js';
import { createResumeState, type ResumeState } from './resume.js';
import { transportRegistry } from './transports/registry.js';
import type {
  ClientTransport,
  TransportEnd,
  TransportHandle,
  TransportSink,
} from './transports/transport.js';
import type { Envelope, FallbackReason, ResetInfo, Status, TransportName } from './types.js';

/** Remembers, per URL, the transport that last worked (so a reload starts there). */
export interface TransportMemory {
  load(key: string): TransportName | null;
  save(key: string, name: TransportName): void;
}

/** Everything one connection needs; the hub fills in the defaults. */
export interface ConnectionOptions {
  readonly streamUrl: string;
  readonly longpollUrl: string;
  readonly transports: readonly TransportName[];
  readonly cursor: string | null;
  readonly backoff: BackoffOptions;
  readonly bufferingDeadlineMs: number;
  /** A transport that has not opened this long (batch: plus the hold) has failed, ms; 0: never. */
  readonly openTimeoutMs: number;
  readonly longpollTimeoutS: number;
  readonly withCredentials: boolean;
  readonly memory: TransportMemory;
  readonly registry?: Readonly<Record<TransportName, ClientTransport>>;
}

/** What a connection reports: messages already deduplicated, resets, status. */
export interface ConnectionEvents {
  envelope(envelope: Envelope): void;
  reset(info: ResetInfo): void;
  status(status: Status): void;
}

/** One live following of a route, over whichever transport works. */
export interface Connection {
  readonly transport: TransportName | null;
  readonly cursor: string | null;
  close(): void;
  /** Publishes on the open transport when it can (a WebSocket); else undefined. */
  publish(data: unknown): Promise<{ id: string }> | undefined;
}

/**
 * Opens a connection: tries the transports in order, falls back on failure or when
 * one does not open in time, steps down to long-poll behind a buffering proxy,
 * reconnects with backoff, resumes from the last delivered id, follows from the head
 * when the server refuses the cursor as malformed, and stops for good on a refusal
 * it cannot recover from (401/403, an unknown route).
 */
export function createConnection(options: ConnectionOptions, events: ConnectionEvents): Connection {
  return new FallbackConnection(options, events);
}

/** An open attempt that lasted this long counts as working even if it heard nothing, ms. */
const steadyMs = 5_000;

/**
 * The connection's state machine. One attempt at a time: a transport's sink is tied
 * to its attempt number, so reports from an attempt already given up are ignored.
 */
class FallbackConnection implements Connection {
  readonly #options: ConnectionOptions;
  readonly #events: ConnectionEvents;
  readonly #candidates: readonly ClientTransport[];
  readonly #memoryKey: string;
  readonly #backoff: Backoff;
  readonly #resume: ResumeState;
  /** Whether the head was asked for already (see #needsHead). */
  #headAsked = false;
  #index: number;
  #attempt = 0;
  #stopped = false;
  #handle: TransportHandle | null = null;
  #watch: BufferingWatch | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #openTimer: ReturnType<typeof setTimeout> | undefined;
  /** Malformed-cursor resets since the last open: a second one in a row stops. */
  #cursorResets = 0;
  /** When the current attempt opened, and whether it has shown a sign of life since. */
  #openedAt = 0;
  #heard = false;

  constructor(options: ConnectionOptions, events: ConnectionEvents) {
    this.#options = options;
    this.#events = events;
    const registry = options.registry ?? transportRegistry;
    this.#candidates = options.transports
      .map((name) => registry[name])
      .filter((t) => t.isSupported());
    this.#memoryKey = `${options.streamUrl} ${options.longpollUrl}`;
    const remembered = options.memory.load(this.#memoryKey);
    this.#index = Math.max(
      0,
      this.#candidates.findIndex((t) => t.name === remembered),
    );
    this.#backoff = createBackoff(options.backoff);
    this.#resume = createResumeState(options.cursor);
    if (this.#candidates.length === 0) queueMicrotask(() => events.status({ kind: 'closed' }));
    else this.#connect();
  }

  get transport(): TransportName | null {
    return this.#current()?.name ?? null;
  }

  get cursor(): string | null {
    return this.#resume.cursor;
  }

  close(): void {
    if (!this.#stopped) this.#stop({ kind: 'closed' });
  }

  publish(data: unknown): Promise<{ id: string }> | undefined {
    return this.#stopped ? undefined : this.#handle?.publish?.(data);
  }

  #current(): ClientTransport | undefined {
    return this.#candidates[this.#index];
  }

  #connect(): void {
    const transport = this.#current();
    if (this.#stopped || transport === undefined) return;
    if (this.#needsHead(transport)) {
      this.#learnHead();
      return;
    }
    this.#attempt += 1;
    this.#events.status({ kind: 'connecting', transport: transport.name });
    this.#handle = transport.open({
      streamUrl: this.#options.streamUrl,
      longpollUrl: this.#options.longpollUrl,
      cursor: () => this.#resume.cursor,
      longpollTimeoutS: this.#options.longpollTimeoutS,
      withCredentials: this.#options.withCredentials,
      sink: this.#sinkFor(transport, this.#attempt),
    });
    this.#startOpenDeadline(transport, this.#attempt);
  }

  /**
   * Gives the attempt `openTimeoutMs` to open (a batch transport the long-poll hold on
   * top: its first answer may be held that long). A buffering proxy holds even a
   * stream's headers, and a WebSocket handshake sent on as a plain GET never
   * completes: without a deadline the client would wait forever.
   */
  #startOpenDeadline(transport: ClientTransport, token: number): void {
    const { openTimeoutMs, longpollTimeoutS } = this.#options;
    if (openTimeoutMs <= 0) return;
    const ms = openTimeoutMs + (transport.kind === 'batch' ? longpollTimeoutS * 1000 : 0);
    this.#openTimer = setTimeout(() => void this.#onOpenTimeout(transport, token), ms);
  }

  async #onOpenTimeout(transport: ClientTransport, token: number): Promise<void> {
    if (this.#stopped || token !== this.#attempt) return;
    this.#attempt += 1;
    this.#drop();
    this.#apply(transport, await diagnoseNeverOpened(transport, this.#context()));
  }

  #hasBatchAfter(): boolean {
    return this.#candidates.slice(this.#index + 1).some((t) => t.kind === 'batch');
  }

  #context(): DiagnosisContext {
    const { streamUrl, longpollUrl, withCredentials } = this.#options;
    const { cursor } = this.#resume;
    return {
      streamUrl,
      longpollUrl,
      withCredentials,
      cursor,
      hasBatchAfter: this.#hasBatchAfter(),
    };
  }

  /** Acts on a verdict about an attempt that went wrong (see diagnosis.ts). */
  #apply(transport: ClientTransport, verdict: Verdict): void {
    // A cursor the server gave us (or none at all) refused again: no loop, stop.
    const recoverable = this.#resume.cursor !== null && this.#cursorResets === 0;
    if (this.#stopped) return;
    if (verdict.kind === 'fallback') this.#fallback(verdict.reason, verdict.toBatch);
    else if (verdict.kind === 'retry') this.#schedule(this.#backoff.next());
    else if (verdict.kind === 'reset' && recoverable) void this.#followFromHead(transport);
    else {
      const { status, code, message } = verdict.refusal;
      this.#stop({ kind: 'refused', transport: transport.name, status, code, message });
    }
  }

  /**
   * A stream opened "from now" has no cursor until its first message: if it
   * dropped before one, its reconnect would start from now again and miss
   * what was published meanwhile. So, once, learn the head from the batch
   * route first and follow on from there.
   */
  #needsHead(transport: ClientTransport): boolean {
    const { streamUrl, longpollUrl } = this.#options;
    return (
      !this.#headAsked &&
      this.#resume.cursor === null &&
      transport.kind === 'stream' &&
      longpollUrl !== streamUrl
    );
  }

  #learnHead(): void {
    this.#headAsked = true;
    const { longpollUrl, withCredentials } = this.#options;
    void probeBatch(longpollUrl, null, withCredentials).then((batch) => {
      if (batch?.cursor && !batch.gap && this.#resume.cursor === null) {
        this.#resume.moveTo(batch.cursor);
      }
      this.#connect();
    });
  }

  #schedule(delayMs: number): void {
    const transport = this.#current();
    if (this.#stopped || transport === undefined) return;
    if (delayMs > 0)
      this.#events.status({ kind: 'reconnecting', transport: transport.name, delayMs });
    this.#timer = setTimeout(() => this.#connect(), delayMs);
  }

  #drop(): void {
    clearTimeout(this.#openTimer);
    this.#watch?.stop();
    this.#watch = null;
    this.#handle?.close();
    this.#handle = null;
  }

  #stop(status: Status): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#drop();
    this.#events.status(status);
  }

  /** Moves to the next transport (or the next batch one, behind a buffering proxy). */
  #fallback(reason: FallbackReason, toBatch: boolean): void {
    const from = this.#current();
    if (from === undefined) return;
    let next = this.#index + 1;
    while (toBatch && next < this.#candidates.length && this.#candidates[next]?.kind !== 'batch') {
      next += 1;
    }
    const wrapped = next >= this.#candidates.length;
    this.#index = wrapped ? 0 : next;
    const to = this.#current();
    if (to === undefined) return;
    if (to.name !== from.name)
      this.#events.status({ kind: 'fallback', from: from.name, to: to.name, reason });
    // Past the end of the list every transport failed once: start over, but slower.
    this.#schedule(wrapped ? this.#backoff.next() : 0);
  }

  #onEnd(transport: ClientTransport, outcome: TransportEnd): void {
    clearTimeout(this.#openTimer);
    this.#watch?.stop();
    this.#watch = null;
    this.#handle = null;
    // An attempt that opened and ended before any sign of life or a few seconds (a
    // proxy or an old server that ends every stream at once) backs off like a drop:
    // resuming at once would be a reconnect loop.
    const lasted = this.#heard || Date.now() - this.#openedAt >= steadyMs;
    if (lasted) this.#backoff.reset();
    if (outcome.kind === 'clean' && lasted) this.#schedule(0);
    else if (outcome.kind === 'clean' || outcome.kind === 'dropped') {
      this.#schedule(this.#backoff.next());
    } else if (outcome.kind === 'refused') this.#apply(transport, judgeRefusal(outcome));
    else void diagnoseFailure(transport, this.#context()).then((v) => this.#apply(transport, v));
  }

  /**
   * The server cannot parse our cursor: treat it as a gap. Drop it, learn the head
   * from the batch route (none there: follow "from now"), tell the app, reconnect
   * the same transport at once.
   */
  async #followFromHead(transport: ClientTransport): Promise<void> {
    this.#cursorResets += 1;
    const previousCursor = this.#resume.cursor;
    const { longpollUrl, withCredentials } = this.#options;
    const batch = await probeBatch(longpollUrl, null, withCredentials);
    if (this.#stopped) return;
    const cursor = batch?.cursor ?? null;
    this.#resume.restart(cursor);
    this.#headAsked = true;
    this.#events.reset({ cursor, previousCursor, transport: transport.name });
    this.#schedule(0);
  }

  /** Watches an open stream for a buffering proxy when there is a batch transport to step down to. */
  #startWatch(transport: ClientTransport): void {
    const { bufferingDeadlineMs, longpollUrl, withCredentials } = this.#options;
    if (transport.kind !== 'stream' || !this.#hasBatchAfter() || bufferingDeadlineMs <= 0) return;
    this.#watch = createBufferingWatch({
      deadlineMs: bufferingDeadlineMs,
      graceMs: Math.min(2_000, bufferingDeadlineMs),
      resume: this.#resume,
      probe: (cursor) => probeBatch(longpollUrl, cursor, withCredentials),
      onBuffering: () => {
        if (this.#stopped) return;
        this.#drop();
        this.#fallback('buffering', true);
      },
    });
  }

  #sinkFor(transport: ClientTransport, token: number): TransportSink {
    const live = () => !this.#stopped && token === this.#attempt;
    const resume = this.#resume;
    const events = this.#events;
    return {
      open: () => {
        if (!live()) return;
        clearTimeout(this.#openTimer);
        this.#cursorResets = 0;
        this.#openedAt = Date.now();
        this.#heard = false;
        this.#options.memory.save(this.#memoryKey, transport.name);
        events.status({ kind: 'open', transport: transport.name });
        this.#startWatch(transport);
      },
      activity: () => {
        if (!live()) return;
        this.#heard = true;
        this.#watch?.activity();
      },
      envelope: (envelope) => {
        if (live() && resume.accept(envelope)) events.envelope(envelope);
      },
      gap: (cursor) => {
        if (!live()) return;
        const previousCursor = resume.cursor;
        resume.moveTo(cursor);
        events.reset({ cursor, previousCursor, transport: transport.name });
      },
      cursor: (cursor) => {
        if (live()) resume.moveTo(cursor);
      },
      end: (outcome) => {
        if (live()) this.#onEnd(transport, outcome);
      },
    };
  }
}
