/**
 * What the fan-out load generators share, over HTTP/1.1 (`fanout.ts`) or
 * HTTP/2 (`fanout-h2.ts`): the per-seq tallies, an SSE subscriber's
 * counting, the closed publish loop, the verdict, and the phases the
 * orchestrator drives. Latency is measured in this one process, so no
 * clocks are compared.
 */
import { percentile, seqsIn } from '../lib/stats.js';
import { until } from '../lib/wait.js';
import { expect, tell } from '../lib/worker.js';

/** The fan-out settings every load generator reads. */
export interface FanoutShape {
  readonly n: number;
  readonly k: number;
  readonly warm: number;
}

const PAD = 'x'.repeat(80); // {"seq":n,"pad":"…"} ≈ 100 bytes of data

/** Seqs published and received, across every subscriber of one run. */
export class FanoutTally {
  readonly total: number;
  readonly received: Uint32Array;
  readonly sent: Float64Array;
  readonly latencies: number[] = [];
  measureFrom = Number.POSITIVE_INFINITY;

  constructor(shape: FanoutShape) {
    this.total = 1 + shape.warm + shape.k; // seq 0 is the server warm-up message
    this.received = new Uint32Array(this.total);
    this.sent = new Float64Array(this.total);
  }
}

/** One subscriber's SSE bytes, counted per seq (and into the run's tally). */
export class SseCounter {
  readonly counts: Uint8Array;
  status = 0;
  sse = false;
  last = -1;
  outOfOrder = 0;
  #text = '';
  readonly #seqs: number[] = [];

  constructor(private readonly tally: FanoutTally) {
    this.counts = new Uint8Array(tally.total);
  }

  onBody(chunk: Buffer): void {
    const text = this.#text + chunk.toString();
    const end = text.lastIndexOf('\n\n');
    if (end === -1) {
      this.#text = text;
      return;
    }
    this.#text = text.slice(end + 2);
    this.#seqs.length = 0;
    seqsIn(text.slice(0, end), this.#seqs);
    const now = performance.now();
    const { total, received, sent, latencies, measureFrom } = this.tally;
    for (const seq of this.#seqs) {
      if (seq <= this.last) this.outOfOrder++;
      this.last = seq;
      if (seq >= total) continue;
      this.counts[seq] = (this.counts[seq] ?? 0) + 1;
      received[seq] = (received[seq] ?? 0) + 1;
      if (seq >= measureFrom) latencies.push(now - (sent[seq] ?? now));
    }
  }
}

/** What a transport gives the shared run: subscribe, publish, close. */
export interface FanoutClient {
  subscribe(count: number): Promise<{ subs: readonly SseCounter[]; close(): void }>;
  publish(data: unknown): Promise<void>;
  close(): void;
}

/** Publishes seqs [from, to), each once every subscriber has the previous one. */
async function closedLoop(
  tally: FanoutTally,
  client: FanoutClient,
  n: number,
  from: number,
  to: number,
): Promise<number> {
  let timeouts = 0;
  for (let seq = from; seq < to; seq++) {
    tally.sent[seq] = performance.now();
    await client.publish({ seq, pad: PAD });
    if (!(await until(() => (tally.received[seq] ?? 0) >= n, 10_000, 1))) timeouts++;
  }
  return timeouts;
}

function verdict(tally: FanoutTally, subs: readonly SseCounter[], from: number) {
  let lost = 0;
  let duplicates = 0;
  for (const s of subs) {
    for (let seq = from; seq < tally.total; seq++) {
      const c = s.counts[seq] ?? 0;
      if (c === 0) lost++;
      else duplicates += c - 1;
    }
  }
  return { lost, duplicates, outOfOrder: subs.reduce((a, s) => a + s.outOfOrder, 0) };
}

/** The phases the orchestrator drives: warm up, connect, run, measure, verdict. */
export async function runFanout(
  shape: FanoutShape,
  tally: FanoutTally,
  client: FanoutClient,
): Promise<void> {
  const warmup = await client.subscribe(Math.min(100, shape.n));
  await closedLoop(tally, client, warmup.subs.length, 0, 1);
  warmup.close();
  tell({ type: 'warmed' });
  await expect('connect');
  const { subs, close } = await client.subscribe(shape.n);
  tell({ type: 'connected' });
  await expect('run');
  await closedLoop(tally, client, shape.n, 1, 1 + shape.warm);
  tell({ type: 'measure' });
  await expect('go');
  tally.measureFrom = 1 + shape.warm;
  const t0 = performance.now();
  const timeouts = await closedLoop(tally, client, shape.n, tally.measureFrom, tally.total);
  const ms = performance.now() - t0;
  tell({ type: 'measured' });
  await expect('verdict');
  const l = Float64Array.from(tally.latencies);
  tell({
    type: 'verdict',
    deliveries: l.length,
    ms,
    timeouts,
    p50: percentile(l, 50),
    p99: percentile(l, 99),
    ...verdict(tally, subs, 1),
  });
  close();
  client.close();
}
