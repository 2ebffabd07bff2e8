/**
 * Scenario "churn": P long-pollers re-polling with their cursors while
 * messages are published at a fixed rate. The stable figure is the SERVER's
 * CPU time (user + system, read over IPC before and after the measured
 * window) per delivered message; a delivery is one message reaching one
 * poller. Lost and duplicate counts cover warm-up and measured phases.
 */
import type { IpcMessage, ProcessGroup } from '../lib/proc.js';
import { ratio } from '../lib/stats.js';
import type { Row } from '../lib/table.js';
import { sleep } from '../lib/wait.js';
import { cpuMicros, startLoad, startServer, stats, type Target } from './common.js';

/** Options of the churn scenario. */
export interface ChurnOptions {
  readonly pollers: number;
  readonly rate: number;
  readonly seconds: number;
}

/** Figures for one server. */
export interface ChurnResult extends ChurnOptions {
  /** RSS when the server reported ready, before its first client. */
  readonly startRss: number;
  readonly published: number;
  readonly publishRate: number;
  readonly deliveries: number;
  readonly deliveriesPerSec: number;
  readonly responses: number;
  readonly cpuMs: number;
  readonly cpuUsPerDelivery: number;
  readonly cpuUsPerResponse: number;
  readonly meanBatch: number;
  readonly lost: number;
  /** Deliveries a gap answer told the poller it missed (it fell behind the history). */
  readonly skipped: number;
  readonly duplicates: number;
  readonly outOfOrder: number;
  readonly gaps: number;
  readonly errors: number;
  readonly complete: boolean;
}

/** Runs the churn scenario against one target. */
export async function runChurn(
  group: ProcessGroup,
  target: Target,
  opts: ChurnOptions,
): Promise<ChurnResult> {
  const server = await startServer(group, target);
  const room = 'churn';
  // Phases are bounded in time: on a busy machine fewer messages go out, never a longer run.
  const total = opts.rate * (opts.seconds + 1) + 1;
  const pollers = startLoad(group, 'load/churn.ts', { port: server.port, room, total, ...opts });
  const publisher = startLoad(group, 'load/publisher.ts', { port: server.port, room, ...opts });
  try {
    await pollers.next('loaded');
    const { cursor } = await publisher.next('seeded');
    await pollers.ask({ type: 'start', cursor }, 'polling');
    await sleep(500);
    const warmed = await publisher.ask({ type: 'phase', from: 0, ms: 1000 }, 'published');
    const warm = warmed['to'] as number;
    if (!(await pollers.ask({ type: 'drain', last: warm - 1 }, 'drained'))['ok']) {
      throw new Error('the warm-up phase never reached every poller');
    }
    await pollers.ask({ type: 'measure', from: warm });
    const before = await stats(server, false);
    const t0 = performance.now();
    const phase = { type: 'phase', from: warm, ms: opts.seconds * 1000 };
    const published = await publisher.ask(phase, 'published');
    const end = published['to'] as number;
    const drained = await pollers.ask({ type: 'drain', last: end - 1 }, 'drained');
    const after = await stats(server, false);
    const windowMs = performance.now() - t0;
    const v = await pollers.ask({ type: 'verdict', end });
    return churnResult(opts, v, cpuMicros(before, after), server.startRss ?? Number.NaN, {
      published: end - warm,
      publishMs: published['ms'] as number,
      windowMs,
      complete: drained['ok'] === true,
    });
  } finally {
    await pollers.kill();
    await publisher.kill();
    await server.child.kill();
  }
}

function churnResult(
  opts: ChurnOptions,
  v: IpcMessage,
  cpu: number,
  startRss: number,
  w: { published: number; publishMs: number; windowMs: number; complete: boolean },
): ChurnResult {
  const n = (k: string) => v[k] as number;
  return {
    ...opts,
    startRss,
    published: w.published,
    publishRate: w.published / (w.publishMs / 1000),
    deliveries: n('deliveries'),
    deliveriesPerSec: n('deliveries') / (w.windowMs / 1000),
    responses: n('responses'),
    cpuMs: cpu / 1000,
    cpuUsPerDelivery: cpu / n('deliveries'),
    cpuUsPerResponse: cpu / n('responses'),
    meanBatch: n('deliveries') / n('responses'),
    lost: n('lost'),
    skipped: n('skipped'),
    duplicates: n('duplicates'),
    outOfOrder: n('outOfOrder'),
    gaps: n('gaps'),
    errors: n('errors'),
    complete: w.complete,
  };
}

type Sides = Partial<Record<'raw' | 'comet', ChurnResult>>;

/**
 * Each side's median run by CPU per delivered message (the run shown in
 * the table: its figures belong together, unlike per-metric medians).
 */
export function medianChurn(runs: readonly Sides[]): Sides {
  const out: Sides = {};
  for (const side of ['raw', 'comet'] as const) {
    const mine = runs
      .map((r) => r[side])
      .filter((x): x is ChurnResult => x !== undefined)
      .sort((a, b) => a.cpuUsPerDelivery - b.cpuUsPerDelivery);
    const median = mine[Math.floor((mine.length - 1) / 2)];
    if (median) out[side] = median;
  }
  return out;
}

/** A line under the table: every run's CPU per delivery and per response, per side. */
export function churnNote(runs: readonly Sides[]): string {
  const list = (side: 'raw' | 'comet') =>
    runs
      .map((r) => r[side])
      .filter((x): x is ChurnResult => x !== undefined)
      .map((x) => `${x.cpuUsPerDelivery.toFixed(2)}/${x.cpuUsPerResponse.toFixed(1)}`)
      .join(', ');
  return `churn, every run (µs per delivery/per response; the table shows each side's median run): raw ${list('raw')}; koa-comet ${list('comet')}`;
}

/** Table rows for the churn scenario. */
export function churnRows(r: Partial<Record<'raw' | 'comet', ChurnResult>>): Row[] {
  const any = r.raw ?? r.comet;
  const scenario = any
    ? `churn (${any.pollers} pollers, ${any.rate}/s × ${any.seconds}s)`
    : 'churn';
  const row = (metric: string, unit: string, pick: (x: ChurnResult) => number, cmp = true): Row => {
    const raw = r.raw && pick(r.raw);
    const comet = r.comet && pick(r.comet);
    return { scenario, metric, unit, raw, comet, ...(cmp ? { ratio: ratio(comet, raw) } : {}) };
  };
  return [
    row('server CPU per delivered message', 'µs', (x) => x.cpuUsPerDelivery),
    row('server CPU per long-poll response', 'µs', (x) => x.cpuUsPerResponse),
    row('messages per response (mean batch)', 'msgs', (x) => x.meanBatch, false),
    row('deliveries per second', '1/s', (x) => x.deliveriesPerSec),
    row('publish rate achieved', '1/s', (x) => x.publishRate, false),
    row('lost', 'count', (x) => x.lost, false),
    row('skipped after a gap answer (history overrun)', 'count', (x) => x.skipped, false),
    row('duplicates', 'count', (x) => x.duplicates, false),
    row('out of order / gaps / errors', 'count', (x) => x.outOfOrder + x.gaps + x.errors, false),
  ];
}
