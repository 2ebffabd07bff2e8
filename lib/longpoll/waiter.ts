/**
 * A held long-poll (or JSONP long-poll): an {@link AsyncContext} that is also
 * a hub member.
 *
 * Order of operations, so no publish falls between "nothing yet" and
 * "parked": the waiter joins its channels first, then reads after its
 * cursor; a message arriving while the read is in flight marks the waiter
 * dirty and the read is repeated. Once parked, the first message on any of
 * its channels wakes it; waiters woken by the same message with the same
 * cursor, limit and transport variant share one read and one encoded body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import type { BatchRead, ReadPosition } from '../hub/batch-read.js';
import type { HistoryReader, Hub, HubMember, Round } from '../hub/hub.js';
import type { TransportMeter } from '../hub/meters.js';
import { AsyncContext, type AsyncContextOptions } from '../suspend/async-context.js';
import type { TimerWheel } from '../suspend/timer-wheel.js';
import {
  type BatchTransport,
  type BatchTransportName,
  writeBatch,
} from '../wire/batch-transport.js';
import { formatCursor, parseCursor, parseSingleCursor } from '../wire/cursor.js';
import { type ReadOutcome, type Settled, WakeGroup } from './wake-group.js';

type SyncReader = Extract<HistoryReader, { sync: true }>;
type AsyncReader = Extract<HistoryReader, { sync: false }>;

const debug = debuglog('comet:longpoll');

/** What a long-poll route is given. */
export interface LongPollSettings {
  readonly hub: Hub;
  readonly timers: TimerWheel;
  /** Most messages per channel in one answer. */
  readonly maxBatch: number;
  /** See `readBatch`: a cursor whose next message is older than this is a gap. */
  readonly historyWindow?: number;
}

/** Settings shared by every waiter of one route (one object per route, not per request). */
export interface LongPollRouteOptions extends LongPollSettings {
  readonly context: AsyncContextOptions;
  /** The route's meter per batch transport (looked up once per route, not per request). */
  readonly meters: Readonly<Record<BatchTransportName, TransportMeter>>;
}

/** What one held request follows and how it is answered. */
export interface LongPollRequest extends ReadPosition {
  /** Hold time in ms; 0 answers at once. */
  readonly timeoutMs: number;
  readonly transport: BatchTransport;
  /** The JSONP callback name, `''` otherwise. */
  readonly variant: string;
}

type Phase = 'reading' | 'parked' | 'waking';

/**
 * Creates the per-route settings; the context options inside are shared by
 * every waiter of the route, so a held request allocates none of its own.
 */
export function createLongPollRoute(settings: LongPollSettings): LongPollRouteOptions {
  const meterOf = (name: BatchTransportName) => settings.hub.meters.transport(name, 'batch');
  return {
    ...settings,
    meters: { 'long-poll': meterOf('long-poll'), jsonp: meterOf('jsonp'), poll: meterOf('poll') },
    context: {
      timers: settings.timers,
      // These options are given only to waiters: the checks narrow, they never fail.
      onExpire: (ac) => {
        if (!(ac instanceof LongPollWaiter)) return;
        if (debug.enabled) debug('timeout: %s', ac.describe());
        ac.answerEmpty();
      },
      onComplete: (ac) => {
        if (ac instanceof LongPollWaiter) ac.release();
      },
    },
  };
}

/** See the module comment. Created by {@link holdLongPoll}. */
export class LongPollWaiter extends AsyncContext implements HubMember {
  readonly #route: LongPollRouteOptions;
  readonly #request: LongPollRequest;
  #positions: readonly (string | undefined)[];
  #phase: Phase = 'reading';
  #dirty = false;
  /** The wake-group key for the current position; reset when it moves. */
  #key: string | undefined;
  /** Shutdown came while the first read was in flight: answer when it lands. */
  #stopping = false;
  /**
   * When it was held (`performance.now()`), for the held-duration histogram;
   * taken only while one is installed (a held request keeps no number box).
   */
  readonly #since: number | undefined;
  /**
   * "From now" on a remote bus: the hold starts once the head is known
   * (`performance.now()` at arrival), so the answer's cursor is never empty.
   */
  #holdFrom: number | undefined;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    route: LongPollRouteOptions,
    request: LongPollRequest,
  ) {
    // A "from now" hold whose head read is slower than the hold would have no
    // cursor to answer with, and the client's next poll would start from
    // now again, losing what was published between: the timer starts when
    // the head is known (the read has the bus's own deadline).
    const deferred =
      request.timeoutMs > 0 && !route.hub.reader.sync && request.positions.includes(undefined);
    super(req, res, route.context, deferred ? 0 : request.timeoutMs);
    this.#since = route.hub.meters.observers.held === undefined ? undefined : performance.now();
    if (deferred) this.#holdFrom = performance.now();
    this.#route = route;
    this.#request = request;
    this.#positions = request.positions;
    const meter = route.meters[request.transport.name];
    meter.open++;
    meter.opened++;
    for (const channel of request.channels) route.hub.join(channel, this);
    this.suspend();
    this.#read();
  }

  /** @internal For debug lines: transport, channels and position (ids, never payloads). */
  describe(): string {
    const { transport, channels } = this.#request;
    return `${transport.name} ${channels.join(',')} at ${this.#positions.map((p) => p ?? '(now)').join(',')}`;
  }

  /** @internal Hub callback. */
  notify(round: Round): void {
    if (this.state === 'completed') return;
    // A read in flight (the first, or a wake-up's) may not see this message:
    // mark it, and the read is repeated when it lands with nothing.
    if (this.#phase !== 'parked') {
      this.#dirty = true;
      return;
    }
    this.#phase = 'waking';
    // Waiters at the same position share one read and one encoded body.
    this.#key ??= this.#groupKey();
    let group = round.get<WakeGroup>(this.#key);
    if (group === undefined) {
      const reader = this.#route.hub.reader;
      group = new WakeGroup(
        reader.sync
          ? { sync: true, now: () => this.#readNow(reader) }
          : { sync: false, later: () => this.#readLater(reader) },
      );
      round.set(this.#key, group);
    }
    group.add(this);
    const observe = this.#route.hub.meters.observers.delivery;
    const name = this.#request.transport.name;
    // Once per message and transport: publish to the first wake-up's answer
    // (written by now on an in-process bus; its read is under way on a remote one).
    if (observe !== undefined && round.get(name) === undefined) {
      round.set(name, true);
      observe(name, (Date.now() - round.message.time) / 1000);
    }
  }

  /**
   * @internal Hub callback: live delivery skipped (or may have skipped)
   * messages, so no wake-up may come for them: read again from the cursor
   * (the read answers them, or the gap).
   */
  gap(): void {
    if (this.state === 'completed') return;
    if (this.#phase === 'parked') this.#read();
    else this.#dirty = true;
  }

  /** Same key, same bytes: route limits, encoding, channels and positions. */
  #groupKey(): string {
    const { maxBatch, historyWindow } = this.#route;
    const { transport, variant, channels } = this.#request;
    const at = `${channels.join('\u0001')}\0${this.#positions.join('\u0001')}`;
    return `${maxBatch}\0${historyWindow ?? ''}\0${transport.name}\0${variant}\0${at}`;
  }

  /** @internal A {@link WakeGroup}'s read landed. */
  settle(outcome: Settled): void {
    if ('error' in outcome) this.#fail(outcome.error);
    else this.#deliver(outcome);
  }

  /** @internal Hub callback: answer now with the current cursor. */
  shutdown(): void {
    if (this.state === 'completed') return;
    // A "from now" request still on its first read has no cursor to hand
    // back yet (it would get `""` and lose what is published meanwhile):
    // answer as soon as that read lands, with the head it found.
    if (this.#phase === 'reading' && this.#positions.includes(undefined)) {
      this.#stopping = true;
      return;
    }
    if (debug.enabled) debug('shutdown: %s', this.describe());
    this.answerEmpty();
    this.complete();
  }

  /** @internal Answers `messages: []` with the current cursor (timeout, shutdown). */
  answerEmpty(): void {
    const cursor = formatCursor(
      this.#positions.map((p) => p ?? ''),
      this.#request.channels,
    );
    const json = this.#route.hub.encodeBatch({ messages: [], cursor, gap: false });
    this.#write(this.#request.transport.text(json, this.#request.variant));
  }

  /** @internal Leaves the hub; called once when the context completes. */
  release(): void {
    const { hub, meters } = this.#route;
    const name = this.#request.transport.name;
    meters[name].open--;
    const res = this.response;
    if (debug.enabled && !res.writableEnded) debug('disconnect: %s', this.describe());
    if (this.#since !== undefined) {
      hub.meters.observers.held?.(name, (performance.now() - this.#since) / 1000);
    }
    for (const channel of this.#request.channels) hub.leave(channel, this);
    if (!res.writableEnded && !res.destroyed) res.end();
  }

  #read(): void {
    this.#phase = 'reading';
    this.#dirty = false;
    const reader = this.#route.hub.reader;
    if (reader.sync) {
      // An in-process bus answers synchronously: no promise hop on the hot path.
      let outcome: ReadOutcome;
      try {
        outcome = this.#readNow(reader);
      } catch (error) {
        this.#fail(error);
        return;
      }
      this.#deliver(outcome);
      return;
    }
    this.#readLater(reader).then(
      (outcome) => this.#deliver(outcome),
      (error: unknown) => this.#fail(error),
    );
  }

  /** This waiter's read at its positions, encoded, on an in-process bus. */
  #readNow(reader: SyncReader): ReadOutcome {
    const at = { channels: this.#request.channels, positions: this.#positions };
    return this.#encode(reader.now(at, this.#route.maxBatch, this.#route.historyWindow));
  }

  /** The same read on a remote bus. */
  async #readLater(reader: AsyncReader): Promise<ReadOutcome> {
    const at = { channels: this.#request.channels, positions: this.#positions };
    return this.#encode(await reader.later(at, this.#route.maxBatch, this.#route.historyWindow));
  }

  #encode(read: BatchRead): ReadOutcome {
    if (read.messages.length === 0 && !read.gap) return { read, body: undefined };
    const json = this.#route.hub.encodeBatch(read);
    return { read, body: this.#request.transport.encode(json, this.#request.variant) };
  }

  #deliver({ read, body }: ReadOutcome): void {
    if (this.state === 'completed') return;
    // Answered after the server closed its idle sockets: do not leave this one open.
    if (this.#stopping && !this.response.headersSent)
      this.response.setHeader('Connection', 'close');
    if (body !== undefined) {
      if (debug.enabled) {
        debug(
          'resume: %s: %d messages%s',
          this.describe(),
          read.messages.length,
          read.gap ? ', gap' : '',
        );
      }
      countBatch(this.#route, this.#request.transport.name, read);
      this.#write(body);
      this.complete();
      return;
    }
    // Nothing after the cursor: park at the position the read reached.
    this.#positions = read.positions;
    this.#key = undefined;
    if (this.#holdFrom !== undefined) {
      const left = this.#request.timeoutMs - (performance.now() - this.#holdFrom);
      this.#holdFrom = undefined;
      if (left < 1) {
        // Held long enough already: answer now, with the head.
        this.answerEmpty();
        this.complete();
        return;
      }
      this.setTimeout(left);
    }
    if (this.#stopping) {
      this.answerEmpty();
      this.complete();
      return;
    }
    if (this.#dirty) {
      this.#read();
      return;
    }
    if (this.#request.timeoutMs === 0) {
      this.answerEmpty();
      this.complete();
      return;
    }
    this.#phase = 'parked';
    if (debug.enabled) debug('suspend: %s', this.describe());
  }

  #fail(error: unknown): void {
    if (this.state === 'completed') return;
    const res = this.response;
    const status = (error as { status?: number }).status ?? 500;
    const coded = typeof (error as { toJSON?: unknown }).toJSON === 'function' && status < 500;
    const body = coded
      ? JSON.stringify(error)
      : JSON.stringify({ error: { code: 'COMET_ERR_BUS_UNAVAILABLE', message: 'Read failed' } });
    this.#route.hub.meters.error(
      coded ? String((error as { code?: unknown }).code) : 'COMET_ERR_BUS_UNAVAILABLE',
    );
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(status < 500 ? status : 503, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-store',
      });
      res.end(body);
    }
    this.complete();
  }

  #write(body: Buffer | string): void {
    const meter = this.#route.meters[this.#request.transport.name];
    meter.responses++;
    meter.bytes += writeBatch(this.response, this.#request.transport, body);
  }
}

/** Counts the messages and gap of a batch about to be written. */
function countBatch(
  route: LongPollRouteOptions,
  name: BatchTransportName,
  read: Pick<BatchRead, 'messages' | 'gap'>,
): void {
  route.meters[name].deliveries += read.messages.length;
  if (read.gap) route.hub.meters.gaps++;
}

/**
 * Answers a long-poll right now, without suspending it, when the bus can be
 * read synchronously (in-process) and messages or a gap already follow the
 * cursor — the common case for a poller coming back. No context, timer,
 * listener or hub membership is created for it, and as few objects as can
 * be: this runs for nearly every request of a busy long-poll route.
 * Returns false (and writes nothing) when the request has to wait, or the
 * bus is remote. `cursor` is the client's, checked here.
 * @throws CometError `COMET_ERR_CURSOR_MALFORMED` for a cursor that is not ours.
 */
export function answerAtOnce(
  res: ServerResponse,
  route: LongPollRouteOptions,
  channels: readonly string[],
  cursor: string | undefined,
  transport: BatchTransport,
  variant: string,
): boolean {
  const { hub, maxBatch, historyWindow } = route;
  const reader = hub.reader;
  if (!reader.sync) return false;
  let json: string;
  const [only] = channels;
  if (only !== undefined && channels.length === 1 && historyWindow === undefined) {
    const position = parseSingleCursor(cursor);
    // "From now" has nothing waiting by definition.
    if (position === undefined) return false;
    const read = reader.channelNow(only, position, maxBatch);
    if (read.messages.length === 0 && !read.gap) return false;
    countBatch(route, transport.name, read);
    // Pollers coming back together ask the same question: an in-process
    // bus may hand them the same result, then encoded once.
    json = hub.encodeSharedBatch(read);
  } else {
    const positions = parseCursor(cursor, channels);
    const read = reader.now({ channels, positions }, maxBatch, historyWindow);
    if (read.messages.length === 0 && !read.gap) return false;
    countBatch(route, transport.name, read);
    json = hub.encodeBatch(read);
  }
  // One response: written as text (see batch-transport.ts).
  const meter = route.meters[transport.name];
  meter.responses++;
  meter.bytes += writeBatch(res, transport, transport.text(json, variant));
  return true;
}

/**
 * Holds a long-poll: answers at once when messages (or a gap) already follow
 * the cursor, else parks until one arrives, the timeout, the client leaving
 * or shutdown. The returned context completes exactly once.
 *
 * @example
 * ```ts
 * holdLongPoll(req, res, route, { channels: ['room:lobby'], positions: [cursor],
 *   timeoutMs: 25_000, transport: longPollTransport, variant: '' });
 * ```
 */
export function holdLongPoll(
  req: IncomingMessage,
  res: ServerResponse,
  route: LongPollRouteOptions,
  request: LongPollRequest,
): LongPollWaiter {
  return new LongPollWaiter(req, res, route, request);
}
