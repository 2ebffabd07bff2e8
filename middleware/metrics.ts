/**
 * Prometheus metrics through `prom-client` (an optional peer dependency):
 * `comet({ metrics: { registry } })` registers the `comet_*` metrics on the
 * app's registry, `comet({ metrics: true })` on prom-client's global one.
 *
 * The engine keeps plain counts (`lib/hub/meters.ts`); the gauges and counters
 * here read them in prom-client's `collect()` at scrape time, so counting
 * costs the hot path a few additions and a scrape costs O(transports).
 * Only the histograms are observed as events happen, once per message and
 * transport (delivery latency) or per held long-poll (held duration).
 *
 * Several `comet()` instances may share a registry (tests, several apps in
 * one process): their counts are summed under the same names, and a closed
 * instance's counter totals are kept (a counter never goes down).
 *
 * Labels are bounded by construction: a transport name, an end reason, a
 * catalog code or a WebSocket close code — never a channel, a cursor or a
 * client address.
 */
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import { CometError } from '../lib/base/errors.js';
import type { Bus } from '../lib/bus/bus.js';
import type { Hub } from '../lib/hub/hub.js';
import type { MeterEnd, Meters } from '../lib/hub/meters.js';
import { webSocketCloseCodes } from '../lib/stream/websocket.js';

/**
 * A prom-client `Registry` (typed by shape, so koa-comet's types do not
 * need prom-client's).
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
}

/** Options of `comet({ metrics })`. */
export interface MetricsOptions {
  /** Where to register. Default: prom-client's global registry. */
  registry?: MetricsRegistry;
  /** Buckets of `comet_delivery_latency_seconds`, seconds. */
  latencyBuckets?: readonly number[];
  /** Buckets of `comet_longpoll_held_seconds`, seconds. */
  heldBuckets?: readonly number[];
}

/** What one `comet()` instance contributes to a registry. */
export interface MetricsSource {
  readonly hub: Hub;
  readonly bus: Bus;
}

type Client = typeof PromClient;
type Labels = Record<string, string | number>;

type Reader = (
  meters: Meters,
  source: MetricsSource,
  add: (labels: Labels, n: number) => void,
) => void;

/** Sums by label set. */
type Sums = Map<string, { labels: Labels; n: number }>;

function addTo(sums: Sums, labels: Labels, n: number): void {
  const key = JSON.stringify(labels);
  const entry = sums.get(key);
  if (entry) entry.n += n;
  else sums.set(key, { labels, n });
}

/** The registered metrics of one registry, shared by every source on it. */
interface RegistryMetrics {
  readonly sources: Set<MetricsSource>;
  /** Each counter's reader and the totals of sources closed since (counters never go down). */
  readonly counters: Map<string, { read: Reader; retired: Sums }>;
  readonly latency: PromClient.Histogram;
  readonly held: PromClient.Histogram;
  readonly publishLatency: PromClient.Histogram;
}

const registries = new WeakMap<object, RegistryMetrics>();

/** Why a slow or long-lived stream was closed, as the `reason` label. */
const closedBecause: Partial<Record<MeterEnd, string>> = {
  slow: 'queue',
  budget: 'budget',
  lifetime: 'lifetime',
};

/**
 * Registers `source`'s counts on the registry of `options` (creating the
 * `comet_*` metrics there on first use) and returns the function that
 * removes it again (at `close()`).
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` when prom-client is not installed.
 */
export function registerMetrics(options: MetricsOptions | true, source: MetricsSource): () => void {
  const client = loadPromClient();
  const settings = options === true ? {} : options;
  const registry = (settings.registry ?? client.register) as PromClient.Registry;
  let metrics = registries.get(registry);
  if (metrics === undefined) {
    metrics = defineMetrics(client, registry, settings);
    registries.set(registry, metrics);
  }
  const { sources, counters, latency, held, publishLatency } = metrics;
  sources.add(source);
  const observers = source.hub.meters.observers;
  observers.delivery = (transport, seconds) => latency.observe({ transport }, seconds);
  observers.held = (transport, seconds) => held.observe({ transport }, seconds);
  source.bus.observe?.({ publish: (seconds) => publishLatency.observe(seconds) });
  return () => {
    if (!sources.delete(source)) return;
    for (const { read, retired } of counters.values()) {
      read(source.hub.meters, source, (labels, n) => addTo(retired, labels, n));
    }
    source.hub.meters.observers = {};
  };
}

function loadPromClient(): Client {
  try {
    return createRequire(import.meta.url)('prom-client') as Client;
  } catch {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      'metrics need the prom-client package: npm install prom-client',
    );
  }
}

function defineMetrics(
  client: Client,
  registry: PromClient.Registry,
  settings: MetricsOptions,
): RegistryMetrics {
  const sources = new Set<MetricsSource>();
  const counters = new Map<string, { read: Reader; retired: Sums }>();
  const registers = [registry];
  /** A gauge or counter whose values are summed over the sources at scrape time. */
  const pulled = (
    type: 'gauge' | 'counter',
    name: string,
    help: string,
    labelNames: readonly string[],
    read: Reader,
  ): void => {
    const retired: Sums = new Map();
    if (type === 'counter') counters.set(name, { read, retired });
    const Kind = type === 'gauge' ? client.Gauge : client.Counter;
    new Kind({
      name,
      help,
      labelNames: [...labelNames],
      registers,
      collect(this: PromClient.Gauge | PromClient.Counter) {
        const sums: Sums = new Map();
        for (const { labels, n } of retired.values()) addTo(sums, labels, n);
        const add = (labels: Labels, n: number) => addTo(sums, labels, n);
        for (const source of sources) read(source.hub.meters, source, add);
        this.reset();
        for (const { labels, n } of sums.values()) {
          if (this instanceof client.Gauge) this.set(labels, n);
          else this.inc(labels, n);
        }
      },
    });
  };
  const perTransport =
    (
      kind: 'batch' | 'stream' | undefined,
      field: 'open' | 'opened' | 'responses' | 'deliveries' | 'bytes' | 'heartbeats',
    ) =>
    (meters: Meters, _source: MetricsSource, add: (labels: Labels, n: number) => void) => {
      for (const meter of meters.transports()) {
        if (kind === undefined || meter.kind === kind)
          add({ transport: meter.transport }, meter[field]);
      }
    };

  pulled(
    'gauge',
    'comet_held_requests',
    'Long-poll and JSONP requests held now.',
    ['transport'],
    perTransport('batch', 'open'),
  );
  pulled(
    'gauge',
    'comet_open_streams',
    'Streams open now (SSE, NDJSON, multipart, iframe, WebSocket).',
    ['transport'],
    perTransport('stream', 'open'),
  );
  pulled(
    'gauge',
    'comet_channels',
    'Channels this process follows on the bus (lingering ones included).',
    [],
    (_m, s, add) => add({}, s.hub.activeChannels),
  );
  pulled(
    'gauge',
    'comet_bus_subscriptions',
    'Live subscriptions the bus holds.',
    [],
    (_m, s, add) => add({}, s.bus.stats?.().subscriptions ?? 0),
  );
  pulled(
    'gauge',
    'comet_bus_held_bytes',
    'Bytes of message history the in-process bus holds.',
    [],
    (_m, s, add) => add({}, s.bus.stats?.().bytes ?? 0),
  );
  pulled(
    'counter',
    'comet_streams_opened_total',
    'Streams opened.',
    ['transport'],
    perTransport('stream', 'opened'),
  );
  pulled(
    'counter',
    'comet_responses_total',
    'Batch responses written (poll, long-poll, JSONP).',
    ['transport'],
    perTransport('batch', 'responses'),
  );
  pulled(
    'counter',
    'comet_deliveries_total',
    'Messages written: one per message per response or stream frame.',
    ['transport'],
    perTransport(undefined, 'deliveries'),
  );
  pulled(
    'counter',
    'comet_written_bytes_total',
    'Bytes of responses and frames written (headers and heartbeats excluded).',
    ['transport'],
    perTransport(undefined, 'bytes'),
  );
  pulled(
    'counter',
    'comet_heartbeats_total',
    'Keep-alive heartbeats written to streams.',
    ['transport'],
    perTransport('stream', 'heartbeats'),
  );
  pulled(
    'counter',
    'comet_streams_closed_total',
    'Streams ended, by transport and reason.',
    ['transport', 'reason'],
    (meters, _s, add) => {
      for (const meter of meters.transports()) {
        if (meter.kind !== 'stream') continue;
        for (const [reason, n] of Object.entries(meter.ends))
          add({ transport: meter.transport, reason }, n);
      }
    },
  );
  pulled(
    'counter',
    'comet_slow_consumers_closed_total',
    'Streams closed for a reader that fell behind (queue), used its byte budget (budget) or its lifetime (lifetime).',
    ['reason'],
    (meters, _s, add) => {
      for (const meter of meters.transports()) {
        for (const [end, reason] of Object.entries(closedBecause))
          add({ reason }, meter.ends[end as MeterEnd]);
      }
    },
  );
  pulled(
    'counter',
    'comet_websocket_closes_total',
    'WebSocket streams ended, by close code sent (peer: the client closed first).',
    ['code'],
    (meters, _s, add) => {
      for (const meter of meters.transports()) {
        if (meter.transport !== 'websocket') continue;
        for (const [reason, n] of Object.entries(meter.ends)) {
          add(
            {
              code:
                reason === 'disconnect' ? 'peer' : String(webSocketCloseCodes[reason as MeterEnd]),
            },
            n,
          );
        }
      }
    },
  );
  pulled(
    'counter',
    'comet_gaps_total',
    'Gap signals served (a batch with gap: true, a stream reset frame).',
    [],
    (m, _s, add) => add({}, m.gaps),
  );
  pulled(
    'counter',
    'comet_cursor_refusals_total',
    'Requests refused for a malformed cursor (400 COMET_ERR_CURSOR_MALFORMED).',
    [],
    (m, _s, add) => add({}, m.errors.get('COMET_ERR_CURSOR_MALFORMED') ?? 0),
  );
  pulled(
    'counter',
    'comet_errors_total',
    'Coded errors answered, by catalog code.',
    ['code'],
    (m, _s, add) => {
      for (const [code, n] of m.errors) add({ code }, n);
    },
  );
  pulled(
    'counter',
    'comet_shutdown_drains_total',
    'Held requests and streams answered or ended by a shutdown.',
    [],
    (m, _s, add) => add({}, m.shutdownDrains),
  );
  pulled(
    'counter',
    'comet_publishes_total',
    'Messages published through the bus by this process.',
    [],
    (_m, s, add) => add({}, s.bus.stats?.().publishes ?? 0),
  );
  pulled(
    'counter',
    'comet_published_bytes_total',
    'Bytes of message data published through the bus by this process.',
    [],
    (_m, s, add) => add({}, s.bus.stats?.().publishedBytes ?? 0),
  );
  pulled(
    'counter',
    'comet_bus_reconnects_total',
    'Reconnections of the bus to its backend (Redis).',
    [],
    (_m, s, add) => add({}, s.bus.stats?.().reconnects ?? 0),
  );
  pulled(
    'counter',
    'comet_bus_commands_failed_total',
    'Bus backend commands that failed or timed out (Redis).',
    [],
    (_m, s, add) => add({}, s.bus.stats?.().commandsFailed ?? 0),
  );

  const latency = new client.Histogram({
    name: 'comet_delivery_latency_seconds',
    help: 'From a message being published to its first write on a transport.',
    labelNames: ['transport'],
    buckets: [
      ...(settings.latencyBuckets ?? [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]),
    ],
    registers,
  });
  const held = new client.Histogram({
    name: 'comet_longpoll_held_seconds',
    help: 'How long long-poll and JSONP requests were held before their answer.',
    labelNames: ['transport'],
    buckets: [...(settings.heldBuckets ?? [0.01, 0.1, 1, 5, 10, 20, 30, 60])],
    registers,
  });
  const publishLatency = new client.Histogram({
    name: 'comet_bus_publish_seconds',
    help: 'Round trip of a publish to the bus backend (Redis).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers,
  });
  return { sources, counters, latency, held, publishLatency };
}
