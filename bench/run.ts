/**
 * `npm run bench [-- held churn fanout --flags]`: runs each scenario against a
 * hand-written raw `node:http` server and the koa-comet server in the same
 * run (server on core 0, load generator on core 1), prints a table with the
 * ratios and writes JSON to `bench/results/<timestamp>.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from './lib/args.js';
import { benchLock } from './lib/lock.js';
import { ProcessGroup } from './lib/proc.js';
import { type Row, renderTable } from './lib/table.js';
import { churnRows, runChurn } from './scenarios/churn.js';
import type { Side, Target } from './scenarios/common.js';
import { fanoutRows, runFanout } from './scenarios/fanout.js';
import { heldRows, runHeld } from './scenarios/held.js';

const opts = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
})();
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

/** The server script for each side and kind; self-check puts raw in both columns. */
function target(side: Side, kind: 'longpoll' | 'sse'): Target {
  const raw = kind === 'longpoll' ? 'servers/raw-longpoll.ts' : 'servers/raw-sse.ts';
  return { side, script: side === 'raw' || opts.selfCheck ? raw : 'servers/comet.ts' };
}

/** Runs `fn` for each side; a failing side is recorded, not fatal. */
async function bySide<T>(
  name: string,
  fn: (side: Side) => Promise<T>,
): Promise<Partial<Record<Side, T>> & { errors?: Record<string, string> }> {
  const out: Partial<Record<Side, T>> & { errors?: Record<string, string> } = {};
  for (const side of opts.sides) {
    process.stderr.write(`[bench] ${name}: ${side}${opts.selfCheck ? ' (self-check)' : ''}…\n`);
    try {
      out[side] = await fn(side);
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
  if (opts.scenarios.includes('churn')) {
    const cfg = { pollers: opts.pollers, rate: opts.rate, seconds: opts.seconds };
    const r = await bySide('churn', (s) => runChurn(group, target(s, 'longpoll'), cfg));
    results['churn'] = r;
    rows.push(...churnRows(r));
  }
  if (opts.scenarios.includes('fanout')) {
    for (const n of opts.fanoutN) {
      const r = await bySide(`fanout N=${n}`, (s) =>
        runFanout(group, target(s, 'sse'), { n, k: opts.k }),
      );
      results[`fanout-${n}`] = r;
      rows.push(...fanoutRows(r, n));
    }
  }
  console.log(`\n${renderTable(rows)}\n`);
  for (const f of failures) console.log(`not measured: ${f}`);
  if (opts.profile) console.log(`server CPU profiles: ${profileDir()}`);
  const file = new URL(
    `results/${started.toISOString().replaceAll(':', '-')}.json`,
    import.meta.url,
  );
  const machine = { node: process.version, cpus: availableParallelism(), cpu: cpus()[0]?.model };
  const json = { started: started.toISOString(), machine, pinned: group.pinned, opts, results };
  writeFileSync(file, `${JSON.stringify({ ...json, rows }, null, 2)}\n`);
  console.log(`results: ${file.pathname}`);
  release();
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => group.killAll());
