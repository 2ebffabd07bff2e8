/**
 * `npm run bench [-- held churn fanout redis --flags]`: runs each scenario
 * against a hand-written raw `node:http` server and koa-comet — by default
 * the compiled demo app as `npm run start:prod` runs it — in the same run
 * (server on core 0, load generator on core 1), every process from the
 * JavaScript compiled into build/bench/ under plain node. held, churn and
 * fanout run `--runs` times per side, interleaved, under each `--heap`
 * setting; a summary table gives the medians, detailed tables each side's
 * median run. JSON goes to `bench/results/<timestamp>.json`. The redis
 * scenario compares two buses instead (memory, one process ↔ Redis, two
 * processes) and prints its own table; scale runs at the machine's limit.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fanoutK, parseArgs } from './lib/args.js';
import { compileBench } from './lib/build.js';
import { benchLock } from './lib/lock.js';
import { ProcessGroup } from './lib/proc.js';
import { type BenchRedis, openBenchRedis } from './lib/redis-server.js';
import { type Row, renderTable } from './lib/table.js';
import { type ChurnResult, churnNote, churnRows, runChurn } from './scenarios/churn.js';
import type { Heap, Side, Target } from './scenarios/common.js';
import {
  type FanoutResult,
  fanoutH2Rows,
  fanoutRows,
  H2_COLUMNS,
  runFanout,
} from './scenarios/fanout.js';
import { type HeldResult, heldRows, runHeld } from './scenarios/held.js';
import { METRICS_COLUMNS, runMetricsCost } from './scenarios/metrics.js';
import { type BusFanoutResult, redisNotes, redisRows, runBusFanout } from './scenarios/redis.js';
import { roomsRows, runRooms } from './scenarios/rooms.js';
import { runScale } from './scenarios/scale.js';
import {
  type HeapRuns,
  medianRun,
  type Runs,
  renderSummary,
  summaryNotes,
} from './scenarios/summary.js';

const opts = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
})();
// The framework server reads it (the servers inherit this environment).
if (opts.viaKoa) process.env['BENCH_VIA_KOA'] = '1';
// The load generators read it (lib/http-client.ts).
if (opts.browserHeaders) process.env['BENCH_BROWSER_HEADERS'] = '1';
const group = new ProcessGroup({
  ...(opts.profile ? { profileDir: profileDir() } : {}),
  runner: opts.tsx ? 'tsx' : 'node',
  serverFlags: opts.serverFlags,
});
const failures: string[] = [];
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`[bench] ${signal}: stopping the benchmark processes\n`);
    void group.killAll().then(() => process.exit(130));
  });
}

/** Where `--profile` writes the servers' `.cpuprofile` files. */
function profileDir(): string {
  return new URL('results/profiles/', import.meta.url).pathname;
}

/**
 * The demo chat server exactly as `npm run start:prod` starts it (compiled
 * `examples/chat/server.js`: its middleware, CORS, metrics when prom-client
 * is installed, Node's default server settings), on a free loopback port,
 * with the control channel preloaded.
 */
const DEMO = {
  script: '../examples/chat/server.ts',
  preload: 'servers/demo-control.ts',
  env: { PORT: '0', HOST: '127.0.0.1' },
  quiet: true,
} as const;

/**
 * The server for each side and kind; self-check puts raw in both columns,
 * --koa-floor puts the bare Koa + @koa/router long-poll server in the
 * framework column, `--comet=bench` (or --via-koa) servers/comet.ts.
 */
function target(side: Side, kind: 'longpoll' | 'sse', heap: Heap = 'pinned'): Target {
  const raw = kind === 'longpoll' ? 'servers/raw-longpoll.ts' : 'servers/raw-sse.ts';
  // --history: the same room history on both sides (the demo and the raw long-poll server read it).
  const history: Record<string, string> =
    opts.history === undefined ? {} : { HISTORY_LIMIT: String(opts.history) };
  if (side === 'raw' || opts.selfCheck) return { side, script: raw, heap, env: history };
  if (opts.koaFloor && kind === 'longpoll') return { side, script: 'servers/koa-floor.ts', heap };
  if (opts.comet === 'bench' || opts.viaKoa) return { side, script: 'servers/comet.ts', heap };
  return { side, ...DEMO, env: { ...DEMO.env, ...history }, heap };
}

/** The command line this run was started with, for the report. */
function commandLine(): string {
  const args = process.argv.slice(2);
  return `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
}

/** Runs `fn` for each side (or bus); a failing side is recorded, not fatal. */
async function bySide<T, S extends string = Side>(
  name: string,
  fn: (side: S) => Promise<T>,
  sides: readonly S[] = opts.sides as readonly string[] as readonly S[],
): Promise<Partial<Record<S, T>> & { errors?: Record<string, string> }> {
  const out: Partial<Record<S, T>> & { errors?: Record<string, string> } = {};
  for (const side of sides) {
    process.stderr.write(`[bench] ${name}: ${side}${opts.selfCheck ? ' (self-check)' : ''}…\n`);
    try {
      (out as Partial<Record<S, T>>)[side] = await fn(side);
    } catch (e) {
      const message = (e as Error).message;
      process.stderr.write(`[bench] ${name}: ${side} failed: ${message}\n`);
      out.errors = { ...out.errors, [side]: message };
      failures.push(`${name} / ${side}: ${message}`);
    }
    await group.killAll();
  }
  return out;
}

/**
 * The redis scenario: at each N, one process on the memory bus, then two on
 * Redis. Skipped with a message when Redis does not answer (a benchmark is
 * not a test). Rows go to `rows`, lines to print under the table to `notes`.
 */
async function redisScenario(results: Record<string, unknown>, rows: Row[], notes: string[]) {
  let redis: BenchRedis;
  try {
    redis = await openBenchRedis(opts.redisUrl, opts.ownRedis);
  } catch (e) {
    const why = (e as Error).message || String(e);
    const where = opts.ownRedis
      ? 'a private redis-server did not start'
      : `not reachable at ${opts.redisUrl}`;
    const line = `redis: skipped, Redis ${where} (${why}); set REDIS_URL or start redis-server`;
    process.stderr.write(`[bench] ${line}\n`);
    notes.push(line);
    results['redis'] = { skipped: line };
    return;
  }
  const { url, admin, own } = redis;
  process.stderr.write(`[bench] redis: using ${url}${own ? ' (private redis-server)' : ''}\n`);
  const runs: BusFanoutResult[] = [];
  try {
    for (const n of opts.redisN) {
      const r = await bySide(
        `redis N=${n}`,
        (bus) =>
          runBusFanout(group, {
            bus,
            n,
            k: opts.redisK,
            ...(bus === 'redis' ? { redis: { url, admin } } : {}),
          }),
        ['memory', 'redis'] as const,
      );
      results[`redis-${n}`] = r;
      rows.push(...redisRows(r, n));
      if (r.redis) runs.push(r.redis);
    }
  } finally {
    await admin.close();
    await own?.stop();
  }
  notes.push(...redisNotes(runs));
}

/** What the koa-comet column runs, for the report. */
function cometLabel(): string {
  if (opts.selfCheck) return 'the raw servers (self-check)';
  const longpoll = opts.koaFloor ? 'servers/koa-floor.ts for long-poll, ' : '';
  if (opts.comet === 'bench' || opts.viaKoa) {
    return `${longpoll}servers/comet.ts${opts.viaKoa ? ' through Koa (direct: false)' : ''}`;
  }
  return `${longpoll}the demo, examples/chat/server.js as npm run start:prod runs it`;
}

/**
 * held, churn and fanout, `--runs` times per side under each heap setting:
 * run by run, heap by heap, scenario by scenario, the sides alternate (and
 * which goes first alternates run by run), so a slow spell of the shared
 * machine lands on both columns.
 */
async function interleaved(results: Record<string, unknown>): Promise<HeapRuns[]> {
  const want = (s: 'held' | 'churn' | 'fanout') => opts.scenarios.includes(s);
  if (!want('held') && !want('churn') && !want('fanout')) return [];
  const all = opts.heaps.map((heap) => ({
    heap,
    held: [] as Runs<HeldResult>,
    churn: [] as Runs<ChurnResult>,
    fanout: new Map<number, Runs<FanoutResult>>(
      want('fanout') ? opts.fanoutN.map((n) => [n, []]) : [],
    ),
  }));
  const churn = { pollers: opts.pollers, rate: opts.rate, seconds: opts.seconds };
  const most = Math.max(
    want('churn') ? opts.churnRuns : 0,
    want('held') || want('fanout') ? opts.runs : 0,
  );
  for (let i = 1; i <= most; i++) {
    const sides = i % 2 === 1 ? opts.sides : [...opts.sides].reverse();
    for (const h of all) {
      const tag = `run ${i}/${most}, ${h.heap} heap`;
      if (want('held') && i <= opts.runs) {
        const held = { n: opts.heldN, warmup: 200 };
        h.held.push(
          await bySide(
            `held (${tag})`,
            (s) => runHeld(group, target(s, 'longpoll', h.heap), held),
            sides,
          ),
        );
      }
      if (want('churn') && i <= opts.churnRuns) {
        h.churn.push(
          await bySide(
            `churn (${tag})`,
            (s) => runChurn(group, target(s, 'longpoll', h.heap), churn),
            sides,
          ),
        );
      }
      for (const [n, runs] of i <= opts.runs ? h.fanout : []) {
        const cfg = { n, k: fanoutK(opts, n) };
        runs.push(
          await bySide(
            `fanout N=${n} (${tag})`,
            (s) => runFanout(group, target(s, 'sse', h.heap), cfg),
            sides,
          ),
        );
      }
    }
  }
  for (const h of all) {
    results[h.heap] = { held: h.held, churn: h.churn, fanout: Object.fromEntries(h.fanout) };
  }
  return all;
}

async function main(): Promise<void> {
  const release = await benchLock(30 * 60_000, (line) => process.stderr.write(`${line}\n`));
  // Under the lock: a queued run must not recompile build/bench/ under a running one.
  if (!opts.tsx) compileBench((line) => process.stderr.write(`${line}\n`));
  const started = new Date();
  const results: Record<string, unknown> = {};
  const rows: Row[] = [];
  if (opts.profile) {
    mkdirSync(profileDir(), { recursive: true });
    writeFileSync(`${profileDir()}.gitignore`, '*\n'); // results are never committed
  }
  if (!group.pinned) process.stderr.write('[bench] taskset not found: processes are not pinned\n');
  const notes: string[] = [];
  const h2Rows: Row[] = [];
  const heapRuns = await interleaved(results);
  for (const h of heapRuns) {
    const tag = opts.heaps.length > 1 || h.heap === 'default' ? `, ${h.heap} heap` : '';
    const label = (rows: Row[]) => rows.map((r) => ({ ...r, scenario: `${r.scenario}${tag}` }));
    if (h.held.length > 0) rows.push(...label(heldRows(medianRun(h.held, (x) => x.rssPerHeld))));
    if (h.churn.length > 0) {
      rows.push(...label(churnRows(medianRun(h.churn, (x) => x.cpuUsPerDelivery))));
      if (h.churn.length > 1) notes.push(`${churnNote(h.churn)}${tag}`);
    }
    for (const [n, runs] of h.fanout) {
      rows.push(
        ...label(
          fanoutRows(
            medianRun(runs, (x) => x.cpuUsPerDelivery),
            n,
          ),
        ),
      );
    }
  }
  if (opts.h2 && opts.scenarios.includes('fanout') && !opts.selfCheck) {
    for (const n of opts.fanoutN) {
      // The same route over cleartext HTTP/2, all subscribers on one session.
      try {
        const bench: Target = { side: 'comet', script: 'servers/comet.ts' };
        process.stderr.write(
          `[bench] fanout N=${n}: koa-comet (servers/comet.ts) over HTTP/1.1 and HTTP/2…\n`,
        );
        const h1 = await runFanout(group, bench, { n, k: fanoutK(opts, n) });
        const h2 = await runFanout(group, bench, { n, k: fanoutK(opts, n), h2: true });
        results[`fanout-h2-${n}`] = { h1, h2 };
        h2Rows.push(...fanoutH2Rows(h1, h2, n));
      } catch (e) {
        failures.push(`fanout N=${n} over HTTP/2: ${(e as Error).message}`);
      }
      await group.killAll();
    }
  }
  const scaleLines: string[] = [];
  if (opts.scenarios.includes('scale')) {
    try {
      const r = await runScale(group, {
        n: opts.scaleN,
        k: opts.scaleK,
        redisN: opts.scaleRedisN,
        redisUrl: opts.redisUrl,
        ownRedis: opts.ownRedis,
        heap: opts.heaps[0] ?? 'pinned',
        target: (side, kind) => target(side, kind, opts.heaps[0]),
      });
      results['scale'] = r.results;
      scaleLines.push(...r.lines);
    } catch (e) {
      failures.push(`scale: ${(e as Error).message}`);
    }
    await group.killAll();
  }
  const busRows: Row[] = [];
  if (opts.scenarios.includes('redis')) await redisScenario(results, busRows, notes);
  const metricsRows: Row[] = [];
  if (opts.scenarios.includes('metrics')) {
    const churn = { pollers: opts.pollers, rate: opts.rate, seconds: opts.seconds };
    const n = opts.fanoutN[0] ?? 1000;
    const k = fanoutK(opts, n);
    const r = await runMetricsCost(group, { churn, n, k, runs: opts.metricsRuns });
    results['metrics'] = { churn: r.churn, fanout: r.fanout };
    metricsRows.push(...r.rows);
  }
  if (opts.scenarios.includes('rooms')) {
    const cfg = { rooms: opts.roomsN, size: opts.roomsSize, ageMs: opts.roomsAge };
    process.stderr.write('[bench] rooms: memory bus…\n');
    try {
      const r = await runRooms(group, cfg);
      results['rooms'] = r;
      rows.push(...roomsRows(r, cfg));
    } catch (e) {
      failures.push(`rooms: ${(e as Error).message}`);
    }
    await group.killAll();
  }
  console.log(`\n${commandLine()}`);
  console.log(
    `servers: ${opts.tsx ? 'TypeScript under tsx' : 'compiled JavaScript (build/bench) under plain node'}; ` +
      `koa-comet column: ${cometLabel()}; requests: ${opts.browserHeaders ? "a cross-origin browser's headers" : 'Host (+ Accept / Content-Type) only'}`,
  );
  if (heapRuns.some((h) => h.held.length + h.churn.length + h.fanout.size > 0)) {
    console.log(`\n${renderSummary(heapRuns, 'koa-comet')}`);
    console.log('every run:');
    for (const line of summaryNotes(heapRuns)) console.log(line);
  }
  const floorColumns = ['raw node:http', 'Koa floor', 'koa/raw'] as const;
  if (rows.length > 0)
    console.log(`\n${renderTable(rows, opts.koaFloor ? floorColumns : undefined)}\n`);
  if (h2Rows.length > 0) console.log(`\n${renderTable(h2Rows, H2_COLUMNS)}\n`);
  if (busRows.length > 0) {
    const columns = ['memory bus, 1 process', 'Redis bus, 2 processes', 'redis/memory'] as const;
    console.log(`\n${renderTable(busRows, columns)}\n`);
  }
  if (metricsRows.length > 0) console.log(`\n${renderTable(metricsRows, METRICS_COLUMNS)}\n`);
  for (const line of notes) console.log(line);
  for (const line of scaleLines) console.log(line);
  for (const f of failures) console.log(`not measured: ${f}`);
  if (opts.profile) console.log(`server CPU profiles: ${profileDir()}`);
  const file = new URL(
    `results/${started.toISOString().replaceAll(':', '-')}.json`,
    import.meta.url,
  );
  const machine = { node: process.version, cpus: availableParallelism(), cpu: cpus()[0]?.model };
  const json = {
    started: started.toISOString(),
    command: commandLine(),
    machine,
    pinned: group.pinned,
    opts,
    results,
  };
  writeFileSync(
    file,
    `${JSON.stringify({ ...json, rows, h2Rows, busRows, metricsRows }, null, 2)}\n`,
  );
  console.log(`results: ${file.pathname}`);
  release();
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => group.killAll());
