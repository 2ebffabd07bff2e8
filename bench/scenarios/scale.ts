/**
 * Scenario "scale" (not in the default run): the machine's limit, about
 * 18,000 held connections per process (the file-descriptor limit here is
 * 20,000, and the load generator holds the other end of each in a process
 * of its own). For raw node:http and koa-comet alike: N long-polls held
 * (bytes per held poll, then CPU per poll released by one publish) and N
 * SSE subscribers (bytes per connection, CPU per delivery over a short
 * closed loop). Then the fan-out on two koa-comet processes sharing one
 * Redis beside one process on the memory bus, as deliveries per second
 * per core: deliveries ÷ the CPU seconds all server processes spent.
 */
import { execFileSync } from 'node:child_process';
import type { ProcessGroup } from '../lib/proc.js';
import { type BenchRedis, openBenchRedis } from '../lib/redis-server.js';
import type { Heap, Side, Target } from './common.js';
import { type FanoutResult, runFanout } from './fanout.js';
import { type HeldResult, runHeld } from './held.js';
import { type BusFanoutResult, runBusFanout } from './redis.js';

/** Options of the scale scenario. */
export interface ScaleOptions {
  /** Connections held per process (long-polls, then SSE streams). */
  readonly n: number;
  /** Messages of the SSE closed loop. */
  readonly k: number;
  /** SSE subscribers on the Redis pair, in all (half on each process). */
  readonly redisN: number;
  readonly redisUrl: string;
  readonly ownRedis: boolean;
  readonly heap: Heap;
  readonly target: (side: Side, kind: 'longpoll' | 'sse') => Target;
}

/** The soft limit on open files of a child of this process (`ulimit -n`). */
function fileLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch {
    return Number.NaN;
  }
}

function bytes(n: number): string {
  return `${Math.round(n).toLocaleString('en-US')} B`;
}

function us(n: number): string {
  return `${n.toFixed(2)} µs`;
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : '—';
}

/** Runs the scale scenario; `lines` is its report. */
export async function runScale(
  group: ProcessGroup,
  opts: ScaleOptions,
): Promise<{ results: Record<string, unknown>; lines: string[] }> {
  const limit = fileLimit();
  // Each process needs N sockets plus its own files (modules, IPC, stdio).
  if (Number.isFinite(limit) && limit < opts.n + 200) {
    throw new Error(
      `ulimit -n is ${limit}, below the ${opts.n} connections each process must hold (+200); ` +
        `raise it (ulimit -n ${opts.n + 1000}) or lower --scale-n`,
    );
  }
  const results: Record<string, unknown> = { fileLimit: limit };
  const lines = [
    `scale (N=${opts.n.toLocaleString('en-US')} per process, ${opts.heap} heap, ulimit -n ${limit}):`,
  ];
  const held: Partial<Record<Side, HeldResult>> = {};
  const sse: Partial<Record<Side, FanoutResult>> = {};
  for (const side of ['raw', 'comet'] as const) {
    process.stderr.write(`[bench] scale: ${opts.n} held long-polls, ${side}…\n`);
    try {
      held[side] = await runHeld(group, opts.target(side, 'longpoll'), { n: opts.n, warmup: 200 });
    } catch (e) {
      lines.push(`  long-poll, ${side}: not measured: ${(e as Error).message}`);
    } finally {
      await group.killAll();
    }
    process.stderr.write(`[bench] scale: ${opts.n} SSE subscribers, ${side}…\n`);
    try {
      sse[side] = await runFanout(group, opts.target(side, 'sse'), { n: opts.n, k: opts.k });
    } catch (e) {
      lines.push(`  SSE, ${side}: not measured: ${(e as Error).message}`);
    } finally {
      await group.killAll();
    }
  }
  results['held'] = held;
  results['sse'] = sse;
  const pair = <T>(
    r: Partial<Record<Side, T>>,
    pick: (x: T) => number,
    fmt: (n: number) => string,
  ) => {
    const raw = r.raw ? pick(r.raw) : Number.NaN;
    const comet = r.comet ? pick(r.comet) : Number.NaN;
    return `raw ${fmt(raw)}, koa-comet ${fmt(comet)} (${ratio(comet, raw)})`;
  };
  lines.push(
    `  long-poll: RSS per held poll ${pair(held, (x) => x.rssPerHeld, bytes)}; ` +
      `slope N/2→N ${pair(held, (x) => x.rssSlope, bytes)}`,
    `  long-poll: server CPU per poll released by one publish ${pair(held, (x) => x.cpuUsPerRelease, us)}; ` +
      `polls that got it: raw ${held.raw?.received ?? 0}, koa-comet ${held.comet?.received ?? 0}`,
    `  SSE: RSS per connection ${pair(sse, (x) => x.rssPerConnection, bytes)}`,
    `  SSE: server CPU per delivery (K=${opts.k}) ${pair(sse, (x) => x.cpuUsPerDelivery, us)}; ` +
      `lost+duplicates: raw ${(sse.raw?.lost ?? 0) + (sse.raw?.duplicates ?? 0)}, ` +
      `koa-comet ${(sse.comet?.lost ?? 0) + (sse.comet?.duplicates ?? 0)}`,
  );
  // The held and SSE figures stand even when the Redis pair cannot be measured.
  try {
    const bus = await busPair(group, opts);
    results['redis'] = bus.results;
    lines.push(...bus.lines);
  } catch (e) {
    const line = `  Redis pair at ${opts.redisN.toLocaleString('en-US')} subscribers: not measured: ${(e as Error).message}`;
    results['redis'] = { failed: line };
    lines.push(line);
  }
  return { results, lines };
}

/** Deliveries per second per core: deliveries ÷ CPU seconds of every server process. */
function perCore(r: BusFanoutResult): number {
  return 1e6 / r.cpuUsPerDelivery;
}

/** The Redis pair beside one memory-bus process, at `redisN` subscribers in all. */
async function busPair(group: ProcessGroup, opts: ScaleOptions) {
  let redis: BenchRedis;
  try {
    redis = await openBenchRedis(opts.redisUrl, opts.ownRedis);
  } catch (e) {
    const where = opts.ownRedis ? 'a private redis-server' : opts.redisUrl;
    const line = `  Redis: skipped, not reachable at ${where} (${(e as Error).message})`;
    return { results: { skipped: line }, lines: [line] };
  }
  const { url, admin, own } = redis;
  const n = opts.redisN;
  const out: Partial<Record<'memory' | 'redis', BusFanoutResult>> = {};
  try {
    for (const bus of ['memory', 'redis'] as const) {
      process.stderr.write(`[bench] scale: ${n} SSE subscribers on the ${bus} bus…\n`);
      out[bus] = await runBusFanout(group, {
        bus,
        n,
        k: opts.k,
        ...(bus === 'redis' ? { redis: { url, admin } } : {}),
      });
    }
  } finally {
    await admin.close();
    await own?.stop();
  }
  const fmt = (r: BusFanoutResult | undefined) =>
    r
      ? `${Math.round(perCore(r)).toLocaleString('en-US')} deliveries/s per core ` +
        `(${r.cpuUsPerDelivery.toFixed(2)} µs CPU per delivery, ` +
        `${Math.round(r.deliveriesPerSec).toLocaleString('en-US')} deliveries/s wall, ` +
        `p50 ${r.p50Ms.toFixed(1)} ms, lost+dup ${r.lost + r.duplicates})`
      : 'not measured';
  const lines = [
    `  Redis bus, 2 processes (${(n / 2).toLocaleString('en-US')} subscribers each, K=${opts.k}, servers/comet.ts): ${fmt(out.redis)}`,
    `  memory bus, 1 process (${n.toLocaleString('en-US')} subscribers): ${fmt(out.memory)}`,
  ];
  return { results: out, lines };
}
