import { type BackoffOptions, createBackoff } from './backoff.js';
import { type BufferingWatch, createBufferingWatch } from './buffering-watch.js';
import { probeBatch, probeRefusal } from './probe.js';
import { createResumeState } from './resume.js';
import { transportRegistry } from './transports/registry.js';
import type {
  ClientTransport,
  TransportEnd,
  TransportHandle,
  TransportSink,
} from './transports/transport.js';
import type { Envelope, FallbackReason, ResetInfo, Status, TransportName } from './types.js';
import { withQuery } from './url.js';

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
}

/**
 * Opens a connection: tries the transports in order, falls back on failure, steps
 * down to long-poll behind a buffering proxy, reconnects with backoff, resumes from
 * the last delivered id, and stops for good on a refusal (401/403).
 */
export function createConnection(options: ConnectionOptions, events: ConnectionEvents): Connection {
  const registry = options.registry ?? transportRegistry;
  const candidates = options.transports
    .map((name) => registry[name])
    .filter((t) => t.isSupported());
  const memoryKey = `${options.streamUrl} ${options.longpollUrl}`;
  const remembered = candidates.findIndex((t) => t.name === options.memory.load(memoryKey));
  const backoff = createBackoff(options.backoff);
  const resume = createResumeState(options.cursor);
  let index = Math.max(remembered, 0);
  let attempt = 0;
  let stopped = false;
  let handle: TransportHandle | null = null;
  let watch: BufferingWatch | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const current = () => candidates[index];

  const schedule = (delayMs: number) => {
    const transport = current();
    if (stopped || transport === undefined) return;
    if (delayMs > 0) events.status({ kind: 'reconnecting', transport: transport.name, delayMs });
    timer = setTimeout(connect, delayMs);
  };

  const stop = (status: Status) => {
    stopped = true;
    clearTimeout(timer);
    watch?.stop();
    handle?.close();
    handle = null;
    events.status(status);
  };

  const fallback = (reason: FallbackReason, toBatch: boolean) => {
    const from = current();
    if (from === undefined) return;
    let next = index + 1;
    while (toBatch && next < candidates.length && candidates[next]?.kind !== 'batch') next += 1;
    const wrapped = next >= candidates.length;
    index = wrapped ? 0 : next;
    const to = current();
    if (to === undefined) return;
    if (to.name !== from.name)
      events.status({ kind: 'fallback', from: from.name, to: to.name, reason });
    // Past the end of the list every transport failed once: start over, but slower.
    schedule(wrapped ? backoff.next() : 0);
  };

  const onFailed = async (transport: ClientTransport) => {
    const probeUrl =
      transport.kind === 'batch'
        ? withQuery(options.longpollUrl, { timeout: 0 })
        : options.streamUrl;
    const result = await probeRefusal(probeUrl, options.withCredentials);
    if (stopped) return;
    if (result.kind === 'refused') {
      stop({ kind: 'refused', transport: transport.name, status: result.status });
    } else if (result.kind === 'unreachable') {
      // The network is down, not the transport: keep it and retry later.
      schedule(backoff.next());
    } else {
      fallback('failed', false);
    }
  };

  const onEnd = (transport: ClientTransport, outcome: TransportEnd) => {
    watch?.stop();
    watch = null;
    handle = null;
    if (outcome.kind === 'clean') schedule(0);
    else if (outcome.kind === 'dropped') schedule(backoff.next());
    else if (outcome.kind === 'refused') {
      stop({ kind: 'refused', transport: transport.name, status: outcome.status });
    } else void onFailed(transport);
  };

  const startWatch = (transport: ClientTransport) => {
    const hasBatchAfter = candidates.slice(index + 1).some((t) => t.kind === 'batch');
    if (transport.kind !== 'stream' || !hasBatchAfter || options.bufferingDeadlineMs <= 0) return;
    watch = createBufferingWatch({
      deadlineMs: options.bufferingDeadlineMs,
      graceMs: Math.min(2_000, options.bufferingDeadlineMs),
      resume,
      probe: (cursor) => probeBatch(options.longpollUrl, cursor, options.withCredentials),
      onBuffering: () => {
        if (stopped) return;
        watch?.stop();
        watch = null;
        handle?.close();
        handle = null;
        fallback('buffering', true);
      },
    });
  };

  const sinkFor = (transport: ClientTransport, token: number): TransportSink => {
    const live = () => !stopped && token === attempt;
    return {
      open() {
        if (!live()) return;
        backoff.reset();
        options.memory.save(memoryKey, transport.name);
        events.status({ kind: 'open', transport: transport.name });
        startWatch(transport);
      },
      activity: () => {
        if (live()) watch?.activity();
      },
      envelope(envelope) {
        if (live() && resume.accept(envelope)) events.envelope(envelope);
      },
      gap(cursor) {
        if (!live()) return;
        const previousCursor = resume.cursor;
        resume.moveTo(cursor);
        events.reset({ cursor, previousCursor, transport: transport.name });
      },
      cursor(cursor) {
        if (live()) resume.moveTo(cursor);
      },
      end(outcome) {
        if (live()) onEnd(transport, outcome);
      },
    };
  };

  function connect() {
    const transport = current();
    if (stopped || transport === undefined) return;
    attempt += 1;
    events.status({ kind: 'connecting', transport: transport.name });
    handle = transport.open({
      streamUrl: options.streamUrl,
      longpollUrl: options.longpollUrl,
      cursor: () => resume.cursor,
      longpollTimeoutS: options.longpollTimeoutS,
      withCredentials: options.withCredentials,
      sink: sinkFor(transport, attempt),
    });
  }

  if (candidates.length === 0) {
    queueMicrotask(() => events.status({ kind: 'closed' }));
  } else {
    connect();
  }
  return {
    get transport() {
      return current()?.name ?? null;
    },
    get cursor() {
      return resume.cursor;
    },
    close() {
      if (!stopped) stop({ kind: 'closed' });
    },
  };
}
