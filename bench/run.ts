/**
 * `npm run bench [-- held churn fanout redis --flags]`: runs each scenario
 * against a hand-written raw `node:http` server and the koa-comet server in
 * the same run (server on core 0, load generator on core 1), prints a table
 * with the ratios and writes JSON to `bench/results/<timestamp>.json`. The
 * redis scenario compares two buses instead (memory, one process ↔ Redis,
 * two processes) and prints its own table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from './lib/args.js';
import { benchLock } from './lib/lock.js';
import { ProcessGroup } from './lib/proc.js';
import { RedisAdmin } from './lib/redis-admin.js';
import { type OwnRedis, startOwnRedis } from './lib/redis-server.js';
import { type Row, renderTable } from './lib/table.js';
import {
  type ChurnResult,
  churnNote,
  churnRows,
  medianChurn,
  runChurn,
} from './scenarios/churn.js';
import type { Side, Target } from './scenarios/common.js';
import { fanoutH2Rows, fanoutRows, H2_COLUMNS, runFanout } from './scenarios/fanout.js';
import { heldRows, runHeld } from './scenarios/held.js';
import { METRICS_COLUMNS, runMetricsCost } from './scenarios/metrics.js';
import { type BusFanoutResult, redisNotes, redisRows, runBusFanout } from './scenarios/redis.js';
import { roomsRows, runRooms } from './scenarios/rooms.js';

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
const group = new ProcessGroup(opts.profile ? { profileDir: profileDir() } : {});
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
 * The server script for each side and kind; self-check puts raw in both
 * columns, --koa-floor puts the bare Koa + @koa/router long-poll server in
 * the framework column.
 */
function target(side: Side, kind: 'longpoll' | 'sse'): Target {
  const raw = kind === 'longpoll' ? 'servers/raw-longpoll.ts' : 'servers/raw-sse.ts';
  if (side === 'raw' || opts.selfCheck) return { side, script: raw };
  if (opts.koaFloor && kind === 'longpoll') return { side, script: 'servers/koa-floor.ts' };
  return { side, script: 'servers/comet.ts' };
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
  let own: OwnRedis | undefined;
  let admin: RedisAdmin;
  let url = opts.redisUrl;
  try {
    if (opts.ownRedis) {
      own = await startOwnRedis();
      url = own.url;
    }
    admin = await RedisAdmin.connect(url);
  } catch (e) {
    await own?.stop();
    const why = (e as Error).message || String(e);
    const where = opts.ownRedis
      ? 'a private redis-server did not start'
      : `not reachable at ${url}`;
    const line = `redis: skipped, Redis ${where} (${why}); set REDIS_URL or start redis-server`;
    process.stderr.write(`[bench] ${line}\n`);
    notes.push(line);
    results['redis'] = { skipped: line };
    return;
  }
  process.stderr.write(`[bench] redis: using ${url}${own ? ' (private redis-server)' : ''}\n`);
  const runs: BusFanoutResult[] = [];
  try {
    for (const n of opts.redisN) {
      const redis = { url, admin };
      const r = await bySide(
        `redis N=${n}`,
        (bus) =>
          runBusFanout(group, { bus, n, k: opts.redisK, ...(bus === 'redis' ? { redis } : {}) }),
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

async function main(): Promise<void> {
  const release = await benchLock(10 * 60_000, (line) => process.stderr.write(`${line}\n`));
  const started = new Date();
  const results: Record<string, unknown> = {};
  const rows: Row[] = [];
  if (opts.profile) {
    mkdirSync(profileDir(), { recursive: true });
    writeFileSync(`${profileDir()}.gitignore`, '*\n'); // results are never committed
  }
  if (!group.pinned) process.stderr.write('[bench] taskset not found: processes are not pinned\n');
  if (opts.scenarios.includes('held')) {
    const r = await bySide('held', (s) =>
      runHeld(group, target(s, 'longpoll'), { n: opts.heldN, warmup: 200 }),
    );
    results['held'] = r;
    rows.push(...heldRows(r));
  }
  const notes: string[] = [];
  const h2Rows: Row[] = [];
  if (opts.scenarios.includes('churn')) {
    const cfg = { pollers: opts.pollers, rate: opts.rate, seconds: opts.seconds };
    // Sides alternate run by run, so a slow spell of the machine hits both.
    const runs: Partial<Record<Side, ChurnResult>>[] = [];
    for (let i = 1; i <= opts.churnRuns; i++) {
      const label = opts.churnRuns > 1 ? `churn ${i}/${opts.churnRuns}` : 'churn';
      runs.push(await bySide(label, (s) => runChurn(group, target(s, 'longpoll'), cfg)));
    }
    const r = medianChurn(runs);
    results['churn'] = { ...r, runs };
    rows.push(...churnRows(r));
    if (opts.churnRuns > 1) notes.push(churnNote(runs));
  }
  if (opts.scenarios.includes('fanout')) {
    for (const n of opts.fanoutN) {
      const r = await bySide(`fanout N=${n}`, (s) =>
        runFanout(group, target(s, 'sse'), { n, k: opts.k }),
      );
      results[`fanout-${n}`] = r;
      rows.push(...fanoutRows(r, n));
      if (opts.selfCheck) continue;
      // The same route over cleartext HTTP/2, all subscribers on one session.
      try {
        console.log(`fanout N=${n}: comet over HTTP/2`);
        const h2 = await runFanout(group, target('comet', 'sse'), { n, k: opts.k, h2: true });
        results[`fanout-h2-${n}`] = h2;
        h2Rows.push(...fanoutH2Rows(r.comet, h2, n));
      } catch (e) {
        failures.push(`fanout N=${n} over HTTP/2: ${(e as Error).message}`);
      }
    }
  }
  const busRows: Row[] = [];
  if (opts.scenarios.includes('redis')) await redisScenario(results, busRows, notes);
  const metricsRows: Row[] = [];
  if (opts.scenarios.includes('metrics')) {
    const churn = { pollers: opts.pollers, rate: opts.rate, seconds: opts.seconds };
    const n = opts.fanoutN[0] ?? 1000;
    const r = await runMetricsCost(group, { churn, n, k: opts.k, runs: opts.metricsRuns });
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
  for (const f of failures) console.log(`not measured: ${f}`);
  if (opts.profile) console.log(`server CPU profiles: ${profileDir()}`);
  const file = new URL(
    `results/${started.toISOString().replaceAll(':', '-')}.json`,
    import.meta.url,
  );
  const machine = { node: process.version, cpus: availableParallelism(), cpu: cpus()[0]?.model };
  const json = { started: started.toISOString(), machine, pinned: group.pinned, opts, results };
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
