/**
 * What counting costs: the koa-comet server with `comet({ metrics })` on
 * (a prom-client registry; `BENCH_METRICS=1`) beside the same server with
 * metrics off, on the churn and fan-out loads, alternating run by run. The
 * table's "raw" column is metrics off here, "koa-comet" metrics on.
 */
import type { ProcessGroup } from '../lib/proc.js';
import type { Row } from '../lib/table.js';
import { type ChurnOptions, type ChurnResult, runChurn } from './churn.js';
import type { Target } from './common.js';
import { type FanoutResult, runFanout } from './fanout.js';

/** Column titles of the metrics table. */
export const METRICS_COLUMNS = ['metrics off', 'metrics on', 'on/off'] as const;

type Mode = 'off' | 'on';

/** The median of each mode's runs by `pick`. */
function median<T>(runs: readonly T[], pick: (x: T) => number): number {
  const sorted = runs.map(pick).sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

/** Runs `fn` with metrics off then on, `runs` times, killing the servers after each. */
async function alternate<T>(
  group: ProcessGroup,
  runs: number,
  label: string,
  fn: () => Promise<T>,
): Promise<Record<Mode, T[]>> {
  const out: Record<Mode, T[]> = { off: [], on: [] };
  for (let i = 1; i <= runs; i++) {
    // Which mode goes first alternates too: a pair's second run must not always be the same mode.
    const order = i % 2 === 1 ? (['off', 'on'] as const) : (['on', 'off'] as const);
    for (const mode of order) {
      process.stderr.write(`[bench] ${label} ${i}/${runs}: metrics ${mode}…\n`);
      process.env['BENCH_METRICS'] = mode === 'on' ? '1' : '';
      try {
        out[mode].push(await fn());
      } finally {
        process.env['BENCH_METRICS'] = '';
        await group.killAll();
      }
    }
  }
  return out;
}

/** The metrics on/off comparison: churn and one fan-out size, `runs` alternating runs each. */
export async function runMetricsCost(
  group: ProcessGroup,
  opts: { churn: ChurnOptions; n: number; k: number; runs: number },
): Promise<{
  churn: Record<Mode, ChurnResult[]>;
  fanout: Record<Mode, FanoutResult[]>;
  rows: Row[];
}> {
  const comet: Target = { side: 'comet', script: 'servers/comet.ts' };
  const churn = await alternate(group, opts.runs, 'metrics churn', () =>
    runChurn(group, comet, opts.churn),
  );
  const fanout = await alternate(group, opts.runs, `metrics fanout N=${opts.n}`, () =>
    runFanout(group, comet, { n: opts.n, k: opts.k }),
  );
  const row = (scenario: string, metric: string, off: number, on: number): Row => ({
    scenario,
    metric,
    unit: 'µs',
    raw: off,
    comet: on,
    ratio: on / off,
  });
  const perDelivery = (x: { cpuUsPerDelivery: number }) => x.cpuUsPerDelivery;
  const rows = [
    row(
      `metrics cost, churn (median of ${opts.runs})`,
      'server CPU per delivered message',
      median(churn.off, perDelivery),
      median(churn.on, perDelivery),
    ),
    row(
      `metrics cost, fanout-sse N=${opts.n} (median of ${opts.runs})`,
      'server CPU per delivery',
      median(fanout.off, perDelivery),
      median(fanout.on, perDelivery),
    ),
  ];
  return { churn, fanout, rows };
}
