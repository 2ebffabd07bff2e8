/**
 * Command-line options of `npm run bench`: scenario names as positional
 * arguments, `--key=value` flags, each with a `BENCH_<KEY>` env fallback.
 */

/** Every scenario the harness knows, in run order. */
export const SCENARIOS = ['held', 'churn', 'fanout', 'redis', 'rooms', 'metrics', 'scale'] as const;
/** What `npm run bench` runs with no scenario named: the rows of the summary table. */
export const DEFAULT_SCENARIOS = ['held', 'churn', 'fanout'] as const;
/** One scenario name. */
export type Scenario = (typeof SCENARIOS)[number];

/** Parsed options. */
export interface BenchOptions {
  readonly scenarios: readonly Scenario[];
  /** held: number of parked long-polls. */
  readonly heldN: number;
  /** churn: pollers, publish rate per second, seconds measured. */
  readonly pollers: number;
  readonly rate: number;
  readonly seconds: number;
  /** held, fanout: runs per side, interleaved; the tables show medians. */
  readonly runs: number;
  /** churn: runs per side, interleaved with the others (its figure is the noisiest). */
  readonly churnRuns: number;
  /** Server heap settings to measure under: pinned young generation, V8's default, or both. */
  readonly heaps: readonly ('pinned' | 'default')[];
  /** The koa-comet column: the compiled demo as `npm run start:prod` runs it, or servers/comet.ts. */
  readonly comet: 'demo' | 'bench';
  /** Run the children's TypeScript sources under tsx instead of the compiled JavaScript. */
  readonly tsx: boolean;
  /** fanout: also run koa-comet over cleartext HTTP/2 at each N. */
  readonly h2: boolean;
  /** Load generators send a cross-origin browser's headers with every request. */
  readonly browserHeaders: boolean;
  /** Messages kept per room by both servers (`HISTORY_LIMIT`); undefined: their default, 1,000. */
  readonly history: number | undefined;
  /** scale: connections held per process, messages per fan-out run, Redis subscribers in all. */
  readonly scaleN: number;
  readonly scaleK: number;
  readonly scaleRedisN: number;
  /** fanout: subscriber counts and messages per run. */
  readonly fanoutN: readonly number[];
  /** Messages per fan-out run; undefined: {@link fanoutK}'s default for each N. */
  readonly k: number | undefined;
  /** redis: subscriber counts (split over two processes), messages per run, Redis URL. */
  readonly redisN: readonly number[];
  readonly redisK: number;
  readonly redisUrl: string;
  /** redis: start a private redis-server instead (commandstats free of others' commands). */
  readonly ownRedis: boolean;
  /** metrics: alternating runs per mode (off, on) of churn and of fan-out at the first --fanout-n. */
  readonly metricsRuns: number;
  /** rooms: distinct rooms, bytes per message, history age limit (ms). */
  readonly roomsN: number;
  readonly roomsSize: number;
  readonly roomsAge: number;
  /** Which columns to run; `raw` is always needed for a ratio. */
  readonly sides: readonly ('raw' | 'comet')[];
  /** Run the raw servers in the framework column too (plumbing check). */
  readonly selfCheck: boolean;
  /** Run the bare Koa + @koa/router long-poll server in the framework column (Koa's own cost). */
  readonly koaFloor: boolean;
  /** Send koa-comet's decorated routes through Koa's middleware stack, not direct dispatch. */
  readonly viaKoa: boolean;
  /** Write a V8 CPU profile of every server process (bench/results/profiles/). */
  readonly profile: boolean;
  /** Extra node flags for every server, raw or koa-comet (diagnostics such as `--trace-gc-nvp`). */
  readonly serverFlags: readonly string[];
}

export const USAGE = `usage: npm run bench -- [held] [churn] [fanout] [redis] [rooms] [metrics] [scale] [flags]
  (no scenario: held churn fanout, the summary table)
  --runs=3              held/fanout runs per side, interleaved; tables show medians
  --churn-runs=5        churn runs per side, interleaved with them
  --heap=both           server heap: pinned (16 MiB semi-spaces), default (V8's own), or both
  --comet=demo          koa-comet column: demo (compiled examples/chat/server.js, as npm run start:prod)
                        or bench (servers/comet.ts; --via-koa, metrics, redis and --h2 always use it)
  --tsx                 run servers and load generators from TypeScript under tsx (the loader's cost)
  --held-n=10000        long-polls held at once (stay under ~18000: 20000 fds per process)
  --pollers=1000 --rate=1000 --seconds=5    churn shape
  --fanout-n=1000,10000 --k=200             fan-out subscribers and messages
                        (without --k: 200, but at most 1,000,000 deliveries a run: 100 at N=10,000)
  --h2                  fanout: koa-comet over cleartext HTTP/2 too, at each N
  --browser-headers     every request carries a cross-origin browser's headers (Origin, User-Agent, …)
  --history=N           messages kept per room by both servers (HISTORY_LIMIT; default 1,000)
  --scale-n=18000 --scale-k=20 --scale-redis-n=18000   scale: held per process, messages, Redis subscribers
  --redis-n=100,1000 --redis-k=200          redis: subscribers (half on A, half on B), messages
  --redis-url=redis://127.0.0.1:6379        redis: the shared Redis (else REDIS_URL); skipped if down
  --own-redis           redis: start a private redis-server on a spare port (clean commandstats)
  --metrics-runs=3      metrics: runs per mode (metrics off / on, alternating) of churn and fan-out
  --rooms-n=20000 --rooms-size=61440 --rooms-age=2000   rooms: one message per room, bytes, age limit ms
  --sides=raw,comet     which servers to run
  --self-check          use the raw servers in the framework column (harness check)
  --koa-floor           long-poll scenarios: the bare Koa + @koa/router server in the framework column
  --via-koa             koa-comet column: decorated routes through Koa's middleware stack (not direct dispatch)
  --profile             write each server's V8 CPU profile to bench/results/profiles/
  --server-flags="--trace-gc-nvp"   extra node flags for every server (both columns); their output is shown
  every flag also reads BENCH_<FLAG> from the environment, e.g. BENCH_HELD_N=5000`;

function flag(flags: Map<string, string>, name: string, fallback: string): string {
  const env = process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  return flags.get(name) ?? env ?? fallback;
}

function int(text: string, name: string, max = 1_000_000): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new Error(`--${name}: bad value ${text}`);
  return n;
}

/**
 * Messages per fan-out run at `n` subscribers: `--k`, else 200 but at most
 * 1,000,000 deliveries (100 at N = 10,000: its closed loop is most of the
 * default run's time, and a million deliveries is plenty for a median).
 */
export function fanoutK(opts: Pick<BenchOptions, 'k'>, n: number): number {
  return opts.k ?? Math.max(20, Math.min(200, Math.floor(1_000_000 / n)));
}

function heapsOf(text: string): ('pinned' | 'default')[] {
  if (text === 'both') return ['pinned', 'default'];
  if (text === 'pinned' || text === 'default') return [text];
  throw new Error('--heap: pinned, default or both');
}

function cometOf(text: string): 'demo' | 'bench' {
  if (text === 'demo' || text === 'bench') return text;
  throw new Error('--comet: demo or bench');
}

/** Parses `argv` (without node and script). */
export function parseArgs(argv: readonly string[]): BenchOptions {
  const flags = new Map<string, string>();
  const scenarios: Scenario[] = [];
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') throw new Error(USAGE);
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(arg);
    if (m) flags.set(m[1]!, m[2] ?? 'true');
    else if ((SCENARIOS as readonly string[]).includes(arg)) scenarios.push(arg as Scenario);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  const sides = flag(flags, 'sides', 'raw,comet').split(',');
  if (!sides.every((s) => s === 'raw' || s === 'comet')) throw new Error('--sides: raw,comet');
  return {
    scenarios: scenarios.length > 0 ? scenarios : [...DEFAULT_SCENARIOS],
    heldN: int(flag(flags, 'held-n', '10000'), 'held-n', 18_000),
    pollers: int(flag(flags, 'pollers', '1000'), 'pollers', 18_000),
    rate: int(flag(flags, 'rate', '1000'), 'rate'),
    seconds: int(flag(flags, 'seconds', '5'), 'seconds', 600),
    runs: int(flag(flags, 'runs', '3'), 'runs', 20),
    churnRuns: int(flag(flags, 'churn-runs', '5'), 'churn-runs', 20),
    heaps: heapsOf(flag(flags, 'heap', 'both')),
    comet: cometOf(flag(flags, 'comet', 'demo')),
    tsx: flag(flags, 'tsx', 'false') === 'true',
    h2: flag(flags, 'h2', 'false') === 'true',
    browserHeaders: flag(flags, 'browser-headers', 'false') === 'true',
    history:
      flag(flags, 'history', '') === '' ? undefined : int(flag(flags, 'history', ''), 'history'),
    scaleN: int(flag(flags, 'scale-n', '18000'), 'scale-n', 19_000),
    scaleK: int(flag(flags, 'scale-k', '20'), 'scale-k', 10_000),
    scaleRedisN: int(flag(flags, 'scale-redis-n', '18000'), 'scale-redis-n', 19_000),
    fanoutN: flag(flags, 'fanout-n', '1000,10000')
      .split(',')
      .map((s) => int(s, 'fanout-n', 18_000)),
    k:
      flags.has('k') || process.env['BENCH_K']
        ? int(flag(flags, 'k', '200'), 'k', 100_000)
        : undefined,
    redisN: flag(flags, 'redis-n', '100,1000')
      .split(',')
      .map((s) => int(s, 'redis-n', 18_000)),
    redisK: int(flag(flags, 'redis-k', '200'), 'redis-k', 100_000),
    redisUrl: flag(flags, 'redis-url', process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'),
    ownRedis: flag(flags, 'own-redis', 'false') === 'true',
    metricsRuns: int(flag(flags, 'metrics-runs', '3'), 'metrics-runs', 20),
    roomsN: int(flag(flags, 'rooms-n', '20000'), 'rooms-n'),
    roomsSize: int(flag(flags, 'rooms-size', '61440'), 'rooms-size', 1_000_000),
    roomsAge: int(flag(flags, 'rooms-age', '2000'), 'rooms-age', 600_000),
    sides: sides as ('raw' | 'comet')[],
    selfCheck: flag(flags, 'self-check', 'false') === 'true',
    koaFloor: flag(flags, 'koa-floor', 'false') === 'true',
    viaKoa: flag(flags, 'via-koa', 'false') === 'true',
    profile: flag(flags, 'profile', 'false') === 'true',
    serverFlags: flag(flags, 'server-flags', '').split(/\s+/).filter(Boolean),
  };
}
