/**
 * Scenario "redis": the fan-out of `fanout` across two koa-comet processes
 * (A and B) sharing one Redis — the publisher posts to A, the N SSE
 * subscribers are split half on A and half on B — beside the same run on one
 * process with the memory bus. Besides deliveries/s, latency, lost and
 * duplicates it reads Redis's `INFO commandstats` around the measured loop
 * (commands per published message, which must not grow with N) and counts
 * each process's Pub/Sub subscriptions (`CLIENT LIST`, `PUBSUB NUMSUB`).
 */
import { channelKeys } from '../../lib/bus/redis-ids.js';
import type { Child, ProcessGroup } from '../lib/proc.js';
import { commandDelta, type RedisAdmin, type RedisCounters } from '../lib/redis-admin.js';
import { ratio } from '../lib/stats.js';
import type { Row } from '../lib/table.js';
import { sleep } from '../lib/wait.js';
import { cpuMicros, type RunningServer, startLoad, stats } from './common.js';

/** Which bus a run uses: one process on the memory bus, or two on Redis. */
export type BusKind = 'memory' | 'redis';

/** Options of one run. */
export interface BusFanoutOptions {
  readonly bus: BusKind;
  readonly n: number;
  readonly k: number;
  /** Needed for `bus: 'redis'`. */
  readonly redis?: { readonly url: string; readonly admin: RedisAdmin };
}

/** What Redis did during the measured loop (redis runs only). */
export interface RedisFigures {
  readonly commandsPerMessage: number;
  /** Calls per published message, by command (evalsha, xadd, publish, …). */
  readonly perMessage: Readonly<Record<string, number>>;
  /** redis-server CPU per published message, µs (the whole server: others' load counts too). */
  readonly cpuUsPerMessage: number;
  /** `sub=` of each process's subscriber connection (`CLIENT LIST`), A then B. */
  readonly subscriptionsPerProcess: readonly number[];
  /** The bus's own count (`redisSubscriptionCount()`), A then B. */
  readonly busSubscriptions: readonly number[];
  /** `PUBSUB NUMSUB` of the room's notify channel: all processes together. */
  readonly notifySubscribers: number;
  /** Client connections that were not this run's (their commands would count too). */
  readonly otherClients: number;
  /**
   * Whether Redis ran exactly K XADDs in the window: each publish is one, so
   * any other count means other clients were busy and their commands counted.
   */
  readonly clean: boolean;
}

/** Figures for one run. */
export interface BusFanoutResult {
  readonly bus: BusKind;
  readonly processes: number;
  readonly n: number;
  readonly k: number;
  readonly deliveries: number;
  readonly deliveriesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerDelivery: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly outOfOrder: number;
  readonly timeouts: number;
  readonly redis?: RedisFigures;
}

const ROOM = 'fanout';

/** Starts one comet server on core 0 with `env`, waiting for its port. */
async function startComet(group: ProcessGroup, env: Record<string, string>) {
  const child = group.start('servers/comet.ts', { core: 0, measured: true, env });
  const ready = await child.next('ready', 30_000);
  return { child, port: ready['port'] as number, features: {} } satisfies RunningServer;
}

/** Starts the servers of a run: one on the memory bus, or A and B on Redis. */
async function startServers(group: ProcessGroup, opts: BusFanoutOptions, prefix: string) {
  if (opts.bus === 'memory') return [await startComet(group, { BENCH_BUS: 'memory' })];
  const env = (name: string) => ({
    BENCH_BUS: 'redis',
    REDIS_URL: opts.redis?.url ?? '',
    BENCH_REDIS_PREFIX: prefix,
    BENCH_BUS_NAME: `${prefix}${name}`,
  });
  return [await startComet(group, env('A')), await startComet(group, env('B'))];
}

/** Subscription counts while the N subscribers are connected. */
async function subscriptions(admin: RedisAdmin, servers: RunningServer[], prefix: string) {
  const clients = await admin.clients();
  const ours = (name: string) => name.startsWith(prefix);
  const perProcess = ['A', 'B'].map(
    (p) => clients.find((c) => c.name === `${prefix}${p}:sub`)?.sub ?? Number.NaN,
  );
  const bus = await Promise.all(servers.map((s) => s.child.ask({ type: 'bus' }, 'bus', 10_000)));
  return {
    subscriptionsPerProcess: perProcess,
    busSubscriptions: bus.map((b) => b['subscriptions'] as number),
    notifySubscribers: await admin.numsub(channelKeys(prefix, `room:${ROOM}`).notify),
    otherClients: clients.filter((c) => !ours(c.name)).length,
  };
}

/** Redis figures from counters read around the measured loop. */
function redisFigures(
  k: number,
  before: RedisCounters,
  after: RedisCounters,
  subs: Awaited<ReturnType<typeof subscriptions>>,
): RedisFigures {
  const delta = commandDelta(before, after);
  const perMessage: Record<string, number> = {};
  for (const [name, calls] of Object.entries(delta)) perMessage[name] = calls / k;
  return {
    clean: delta['xadd'] === k,
    commandsPerMessage: (after.calls - before.calls) / k,
    perMessage,
    cpuUsPerMessage: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / k,
    ...subs,
  };
}

/** Drives the load generator through its phases; resolves with its verdict and the Redis figures. */
async function drive(
  load: Child,
  servers: RunningServer[],
  opts: BusFanoutOptions,
  prefix: string,
) {
  const first = await load.next(['warmed', 'unsupported']);
  if (first.type === 'unsupported') throw new Error(`SSE route answered ${first['status']}`);
  const connected = await load.ask({ type: 'connect' }, ['connected', 'unsupported'], 300_000);
  if (connected.type === 'unsupported') {
    throw new Error(
      `not every subscriber got its stream (first failure: status ${connected['status']}; 0 = no answer within 120 s)`,
    );
  }
  await sleep(500);
  const admin = opts.redis?.admin;
  const subs = admin && (await subscriptions(admin, servers, prefix));
  await load.ask({ type: 'run' }, 'measure', 180_000);
  const cpuBefore = await Promise.all(servers.map((s) => stats(s, false)));
  const redisBefore = await admin?.counters();
  await load.ask({ type: 'go' }, 'measured', 600_000);
  const redisAfter = await admin?.counters();
  const cpuAfter = await Promise.all(servers.map((s) => stats(s, false)));
  const verdict = await load.ask({ type: 'verdict' });
  const cpu = cpuBefore.reduce((sum, b, i) => sum + cpuMicros(b, cpuAfter[i]!), 0);
  const redis =
    subs && redisBefore && redisAfter
      ? redisFigures(opts.k, redisBefore, redisAfter, subs)
      : undefined;
  return { verdict, cpu, redis };
}

/** Runs one fan-out on the given bus; a Redis run's keys are deleted afterwards. */
export async function runBusFanout(
  group: ProcessGroup,
  opts: BusFanoutOptions,
): Promise<BusFanoutResult> {
  const prefix = `comet-bench:${process.pid}-${Date.now()}-n${opts.n}:`;
  try {
    const servers = await startServers(group, opts, prefix);
    const [a] = servers;
    const config = { port: a!.port, subscriberPorts: servers.map((s) => s.port), room: ROOM };
    const load = startLoad(group, 'load/fanout.ts', { ...config, warm: 20, n: opts.n, k: opts.k });
    const { verdict, cpu, redis } = await drive(load, servers, opts, prefix);
    const v = (key: string) => verdict[key] as number;
    const deliveries = v('deliveries');
    return {
      ...opts,
      redis,
      processes: servers.length,
      deliveries,
      deliveriesPerSec: deliveries / (v('ms') / 1000),
      p50Ms: v('p50'),
      p99Ms: v('p99'),
      cpuUsPerDelivery: cpu / deliveries,
      lost: v('lost'),
      duplicates: v('duplicates'),
      outOfOrder: v('outOfOrder'),
      timeouts: v('timeouts'),
    };
  } finally {
    await group.killAll();
    if (opts.redis) await opts.redis.admin.deletePrefix(prefix);
  }
}

/** Table rows for one N: `raw` holds the memory bus, `comet` the Redis bus. */
export function redisRows(r: Partial<Record<BusKind, BusFanoutResult>>, n: number): Row[] {
  const k = r.memory?.k ?? r.redis?.k ?? 0;
  const scenario = `redis fan-out (N=${n.toLocaleString('en-US')}, K=${k})`;
  const row = (metric: string, unit: string, pick: (x: BusFanoutResult) => number, cmp = true) => {
    const raw = r.memory && pick(r.memory);
    const comet = r.redis && pick(r.redis);
    return { scenario, metric, unit, raw, comet, ...(cmp ? { ratio: ratio(comet, raw) } : {}) };
  };
  const redisOnly = (metric: string, unit: string, pick: (x: RedisFigures) => number): Row => ({
    scenario,
    metric,
    unit,
    ...(r.redis?.redis ? { comet: pick(r.redis.redis) } : {}),
  });
  return [
    row('deliveries per second', '1/s', (x) => x.deliveriesPerSec),
    row('publish→receive latency p50', 'ms', (x) => x.p50Ms),
    row('publish→receive latency p99', 'ms', (x) => x.p99Ms),
    row('server CPU per delivery (all processes)', 'µs', (x) => x.cpuUsPerDelivery),
    row('lost', 'count', (x) => x.lost, false),
    row('duplicates / out of order', 'count', (x) => x.duplicates + x.outOfOrder, false),
    redisOnly('Redis commands per published message', 'count', (x) => x.commandsPerMessage),
    redisOnly('redis-server CPU per published message', 'µs', (x) => x.cpuUsPerMessage),
    redisOnly('Pub/Sub subscriptions, process A', 'count', (x) => x.subscriptionsPerProcess[0]!),
    redisOnly('Pub/Sub subscriptions, process B', 'count', (x) => x.subscriptionsPerProcess[1]!),
    redisOnly('PUBSUB NUMSUB of the notify channel', 'count', (x) => x.notifySubscribers),
  ];
}

/**
 * Lines printed under the table: Redis commands per message at each N (and
 * whether they grow with N), what they are, and the subscriptions check.
 */
export function redisNotes(runs: readonly BusFanoutResult[]): string[] {
  const figures = runs.flatMap((r) => (r.redis ? [{ n: r.n, f: r.redis }] : []));
  if (figures.length === 0) return [];
  const perN = figures.map(({ n, f }) => `N=${n.toLocaleString('en-US')}: ${f.commandsPerMessage}`);
  const values = figures.map(({ f }) => f.commandsPerMessage);
  // Half a command of slack: another client's stray command must not read as growth.
  const grows = Math.max(...values) - Math.min(...values) > 0.5;
  const clean = figures.every(({ f }) => f.clean);
  const verdict =
    figures.length < 2 ? 'one N only' : grows ? 'GROWS with subscribers' : 'flat in N';
  const lines = [
    `Redis commands per published message: ${perN.join(', ')} → ${verdict}${clean ? '' : ' (not clean, see below)'}`,
  ];
  for (const { n, f } of figures) {
    const parts = Object.entries(f.perMessage).map(([c, x]) => `${c} ${Number(x.toFixed(2))}`);
    const subsOk = f.subscriptionsPerProcess.every((s) => s === 1) && f.notifySubscribers === 2;
    lines.push(
      `  N=${n}: per message ${parts.join(', ')}; Pub/Sub subscriptions per process ` +
        `${f.subscriptionsPerProcess.join(' / ')} (bus says ${f.busSubscriptions.join(' / ')}), ` +
        `NUMSUB ${f.notifySubscribers} → ${subsOk ? 'one per process' : 'NOT one per process'}`,
    );
    if (!f.clean) {
      lines.push(
        `  N=${n}: NOT CLEAN: Redis ran ${f.perMessage['xadd'] ?? 0} XADDs per publish, so other ` +
          `clients (${f.otherClients} connected) were busy and their commands counted; use --own-redis`,
      );
    }
  }
  return lines;
}
