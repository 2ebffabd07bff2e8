/**
 * The summary table of `npm run bench`: the rows (SSE fan-out CPU
 * per delivery at each N, idle bytes per SSE connection and per held
 * long-poll, churn CPU per delivered message with the per-response cost,
 * batch and publish rate that explain it, RSS at start) for raw
 * node:http and koa-comet, each the median of the interleaved runs, under
 * each heap setting side by side.
 */
import type { ChurnResult } from './churn.js';
import type { Heap, Side } from './common.js';
import type { FanoutResult } from './fanout.js';
import type { HeldResult } from './held.js';

/** One scenario's runs: each run has a result per side (a failed side is absent). */
export type Runs<T> = Partial<Record<Side, T>>[];

/** What one heap setting measured. */
export interface HeapRuns {
  readonly heap: Heap;
  readonly held: Runs<HeldResult>;
  readonly churn: Runs<ChurnResult>;
  readonly fanout: ReadonlyMap<number, Runs<FanoutResult>>;
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Each side's median run by `pick` (its figures belong together, unlike per-metric medians). */
export function medianRun<T>(runs: Runs<T>, pick: (x: T) => number): Partial<Record<Side, T>> {
  const out: Partial<Record<Side, T>> = {};
  for (const side of ['raw', 'comet'] as const) {
    const mine = runs
      .map((r) => r[side])
      .filter((x): x is T => x !== undefined)
      .sort((a, b) => pick(a) - pick(b));
    const m = mine[Math.floor((mine.length - 1) / 2)];
    if (m) out[side] = m;
  }
  return out;
}

interface Line {
  readonly metric: string;
  readonly unit: string;
  /** Per heap: raw, comet medians; `ratio` false for counts. */
  readonly cells: readonly { raw: number; comet: number }[];
  readonly ratio: boolean;
  /** Values per run, for the notes. */
  readonly runs?: readonly { raw: number[]; comet: number[] }[];
}

function sides<T>(runs: Runs<T>, pick: (x: T) => number) {
  const of = (side: Side) =>
    runs
      .map((r) => r[side])
      .filter((x): x is T => x !== undefined)
      .map(pick);
  return { raw: of('raw'), comet: of('comet') };
}

function mib(bytes: number): number {
  return bytes / 2 ** 20;
}

/** The summary lines, one per issue row, with a column pair per heap. */
function lines(all: readonly HeapRuns[]): Line[] {
  const line = <T>(
    metric: string,
    unit: string,
    runsOf: (h: HeapRuns) => Runs<T>,
    pick: (x: T) => number,
    ratio = true,
  ): Line => {
    const runs = all.map((h) => sides(runsOf(h), pick));
    const cells = runs.map((r) => ({ raw: median(r.raw), comet: median(r.comet) }));
    return { metric, unit, cells, ratio, runs };
  };
  const out: Line[] = [];
  const ns = [...(all[0]?.fanout.keys() ?? [])];
  for (const n of ns) {
    const fan = (h: HeapRuns) => h.fanout.get(n) ?? [];
    out.push(
      line(
        `SSE fan-out ${n.toLocaleString('en-US')} subscribers: server CPU per delivery`,
        'µs',
        fan,
        (x) => x.cpuUsPerDelivery,
      ),
    );
  }
  const biggest = ns.at(-1);
  if (biggest !== undefined) {
    out.push(
      line(
        `idle SSE bytes per connection (RSS, N=${biggest.toLocaleString('en-US')})`,
        'bytes',
        (h) => h.fanout.get(biggest) ?? [],
        (x) => x.rssPerConnection,
      ),
    );
  }
  if (all.some((h) => h.held.length > 0)) {
    const n = all.find((h) => h.held[0])?.held[0];
    const count = (n?.raw ?? n?.comet)?.n ?? 0;
    out.push(
      line(
        `idle long-poll bytes per held poll (RSS, N=${count.toLocaleString('en-US')})`,
        'bytes',
        (h) => h.held,
        (x) => x.rssPerHeld,
      ),
    );
  }
  if (all.some((h) => h.churn.length > 0)) {
    const c = all.find((h) => h.churn[0])?.churn[0];
    const shape = c?.raw ?? c?.comet;
    const label = shape
      ? `${shape.pollers.toLocaleString('en-US')} pollers × ${shape.rate.toLocaleString('en-US')} msg/s`
      : '';
    out.push(
      line(
        `long-poll churn ${label}: server CPU per delivered message`,
        'µs',
        (h) => h.churn,
        (x) => x.cpuUsPerDelivery,
      ),
      // Per delivery = per response ÷ mean batch, and on a saturated server the
      // batch follows the machine's scheduling: these two say which moved.
      line(
        '  the same: server CPU per long-poll response',
        'µs',
        (h) => h.churn,
        (x) => x.cpuUsPerResponse,
      ),
      line(
        '  the same: messages per response (mean batch)',
        'msgs',
        (h) => h.churn,
        (x) => x.meanBatch,
        false,
      ),
      // Below the asked rate the server is saturated: each side then carried
      // the load it could take, and per delivery compares different loads.
      line(
        `  the same: publish rate achieved (of ${shape?.rate.toLocaleString('en-US') ?? '?'}/s)`,
        '1/s',
        (h) => h.churn,
        (x) => x.publishRate,
        false,
      ),
    );
  }
  const startRss = (h: HeapRuns): Runs<{ startRss: number }> => [
    ...h.held,
    ...h.churn,
    ...[...h.fanout.values()].flat(),
  ];
  out.push(
    line('server RSS at start, before its first client', 'MiB', startRss, (x) => mib(x.startRss)),
  );
  const faults = (h: HeapRuns): Runs<{ faults: number }> => [
    ...h.held.map((r) => mapSides(r, (x) => ({ faults: x.n - x.received }))),
    ...h.churn.map((r) => mapSides(r, (x) => ({ faults: x.lost + x.duplicates + x.outOfOrder }))),
    ...[...h.fanout.values()]
      .flat()
      .map((r) => mapSides(r, (x) => ({ faults: x.lost + x.duplicates + x.outOfOrder }))),
  ];
  const total = (runs: (h: HeapRuns) => Runs<{ faults: number }>) =>
    all
      .map((h) => sides(runs(h), (x) => x.faults))
      .map((s) => ({
        raw: s.raw.reduce((a, b) => a + b, 0),
        comet: s.comet.reduce((a, b) => a + b, 0),
      }));
  out.push({
    metric: 'lost + duplicate + out-of-order deliveries, all runs',
    unit: 'count',
    cells: total(faults),
    ratio: false,
  });
  // Not a fault: the gap answer the contract gives a poller that fell
  // further behind than the history (churn at a rate the machine cannot
  // serve; `--history` raises both servers' history).
  out.push({
    metric: 'churn: deliveries skipped after a gap answer, all runs',
    unit: 'count',
    cells: total((h) => h.churn.map((r) => mapSides(r, (x) => ({ faults: x.skipped })))),
    ratio: false,
  });
  return out;
}

function mapSides<T, U>(r: Partial<Record<Side, T>>, f: (x: T) => U): Partial<Record<Side, U>> {
  const out: Partial<Record<Side, U>> = {};
  if (r.raw !== undefined) out.raw = f(r.raw);
  if (r.comet !== undefined) out.comet = f(r.comet);
  return out;
}

function num(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  const digits = Number.isInteger(n) || abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** Renders the summary: a raw / koa-comet / ratio column triple per heap setting. */
export function renderSummary(all: readonly HeapRuns[], comet: string): string {
  const first = all[0];
  const count = (runs: readonly unknown[]) => runs.length;
  const parts = first
    ? [
        first.held.length > 0 ? `held ${count(first.held)}` : '',
        first.churn.length > 0 ? `churn ${count(first.churn)}` : '',
        first.fanout.size > 0 ? `fanout ${count([...first.fanout.values()][0] ?? [])}` : '',
      ].filter(Boolean)
    : [];
  const ls = lines(all);
  const header = ['metric', 'unit'];
  for (const h of all) header.push(`raw (${h.heap})`, `${comet} (${h.heap})`, 'ratio');
  const cells = ls.map((l) => {
    const row = [l.metric, l.unit];
    for (const c of l.cells) {
      const ratio = l.ratio && c.raw > 0 ? `${(c.comet / c.raw).toFixed(2)}×` : '';
      row.push(num(c.raw), num(c.comet), ratio);
    }
    return row;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const fmt = (c: string[]) =>
    c.map((v, i) => (i >= 2 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ');
  const title = `summary: medians of interleaved runs per side (${parts.join(', ')}; every run below); heap "pinned" = --min/max-semi-space-size=16 --no-allocation-site-pretenuring, "default" = V8's own`;
  return [title, fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(fmt)].join(
    '\n',
  );
}

/** One note line per summary row: every run's value, per heap and side. */
export function summaryNotes(all: readonly HeapRuns[]): string[] {
  const out: string[] = [];
  for (const l of lines(all)) {
    if (!l.runs) continue;
    const parts = l.runs.map((r, i) => {
      const f = (xs: number[]) => xs.map((x) => num(x)).join(', ');
      return `${all[i]!.heap}: raw ${f(r.raw)}; koa-comet ${f(r.comet)}`;
    });
    out.push(`  ${l.metric} (${l.unit}) — ${parts.join(' | ')}`);
  }
  return out;
}
