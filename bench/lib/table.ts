/** Plain-text table of the benchmark figures: raw, framework, ratio. */

/** One row of the report. */
export interface Row {
  readonly scenario: string;
  readonly metric: string;
  readonly unit: string;
  readonly raw?: number;
  readonly comet?: number;
  /** framework ÷ raw; omitted when not meaningful (counts, notes). */
  readonly ratio?: number;
}

function num(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return '—';
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Column titles for `raw`, `comet` and their ratio. */
const SIDES = ['raw node:http', 'koa-comet', 'comet/raw'] as const;

/**
 * Renders rows as an aligned table with a header; `columns` retitles the
 * `raw`, `comet` and ratio columns (the redis scenario compares two buses).
 */
export function renderTable(
  rows: readonly Row[],
  columns: readonly [string, string, string] = SIDES,
): string {
  const header = ['scenario', 'metric', 'unit', ...columns];
  const cells = rows.map((r) => [
    r.scenario,
    r.metric,
    r.unit,
    num(r.raw),
    num(r.comet),
    r.ratio === undefined || Number.isNaN(r.ratio) ? '' : `${r.ratio.toFixed(2)}×`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((v, i) => (i >= 3 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...cells.map(line)].join('\n');
}
