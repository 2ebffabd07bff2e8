/**
 * What the engine counts about itself, as plain numbers.
 *
 * The hot path only adds to fields of objects it already holds (a route's
 * {@link TransportMeter}, the comet instance's {@link Meters}): no label
 * lookup, no map, no allocation per delivery. Readers — `push.stats()`
 * and the Prometheus exporter (`middleware/metrics.ts`) — read the numbers
 * when asked, so an app that never scrapes pays for a few additions only.
 *
 * The two latency histograms are the exception: they are observed through
 * optional callbacks the exporter installs, so without an exporter they
 * cost one `undefined` check.
 */

/** Why a held request or stream ended, for the `ends` counts. */
export type MeterEnd =
  | 'ended' // a stream ended by the server (shutdown, the application)
  | 'lifetime' // maximum lifetime reached
  | 'budget' // byte budget written
  | 'slow' // more than the queue bound waiting for a slow reader: closed
  | 'failed' // the bus failed while the backlog was being sent
  | 'disconnect'; // the peer went away

/** Counts of one transport of one `comet()` instance. */
export interface TransportMeter {
  /** The transport's name (`long-poll`, `jsonp`, `poll`, `sse`, `ndjson`, …). */
  readonly transport: string;
  /** Whether it answers batches (a request each) or holds a stream. */
  readonly kind: 'batch' | 'stream';
  /** Requests held (long-poll) or streams open, now. */
  open: number;
  /** Requests held or streams opened, in all. */
  opened: number;
  /** Responses written (batch transports). */
  responses: number;
  /** Messages written: one per message per response or stream. */
  deliveries: number;
  /** Bytes of responses and frames written (headers and heartbeats excluded). */
  bytes: number;
  /** Keep-alive bytes written (streams). */
  heartbeats: number;
  /** Streams ended, by reason. */
  readonly ends: Record<MeterEnd, number>;
}

/** Optional observers the exporter installs for the histograms. */
export interface MeterObservers {
  /** A message's first write on a transport: seconds since it was published. */
  delivery?(transport: string, seconds: number): void;
  /** A held long-poll completed: seconds it was held. */
  held?(transport: string, seconds: number): void;
}

/** The counts of one `comet()` instance. */
export class Meters {
  readonly #transports = new Map<string, TransportMeter>();
  /** Gap signals served: a batch with `gap: true`, or a stream's `reset` frame. */
  gaps = 0;
  /** Held requests and streams answered or ended by a shutdown. */
  shutdownDrains = 0;
  /** Coded errors answered, by code. */
  readonly errors = new Map<string, number>();
  /** Histogram observers; none until an exporter installs them. */
  observers: MeterObservers = {};

  /** The meter of `transport`, created on first use (once per route and transport). */
  transport(transport: string, kind: TransportMeter['kind']): TransportMeter {
    let meter = this.#transports.get(transport);
    if (meter === undefined) {
      meter = {
        transport,
        kind,
        open: 0,
        opened: 0,
        responses: 0,
        deliveries: 0,
        bytes: 0,
        heartbeats: 0,
        ends: { ended: 0, lifetime: 0, budget: 0, slow: 0, failed: 0, disconnect: 0 },
      };
      this.#transports.set(transport, meter);
    }
    return meter;
  }

  /** Every transport meter created so far. */
  transports(): IterableIterator<TransportMeter> {
    return this.#transports.values();
  }

  /** Counts one coded error answered to a client. */
  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}
