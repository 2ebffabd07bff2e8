/** Summary statistics for the benchmark's figures. */

/** The `p`-th percentile (0–100) of `values` (nearest rank); NaN when empty. */
export function percentile(values: Float64Array | number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** framework ÷ raw, or NaN when either is missing or raw is zero. */
export function ratio(framework: number | undefined, raw: number | undefined): number {
  if (framework === undefined || raw === undefined || raw === 0) return Number.NaN;
  return framework / raw;
}

/** Extracts every `"seq":<n>` number in `text`, in order (payloads are `{"seq":n,…}`). */
export function seqsIn(text: string, out: number[]): void {
  let at = text.indexOf('"seq":');
  while (at !== -1) {
    let n = 0;
    let i = at + 6;
    for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) {
      n = n * 10 + (c - 48);
    }
    out.push(n);
    at = text.indexOf('"seq":', i);
  }
}
