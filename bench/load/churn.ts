/**
 * The pollers of "churn": P long-pollers on one room re-poll with their
 * cursors (the publisher is another process). Each counts every seq it
 * receives: every message must reach every poller exactly once, in order.
 * Commands: `start {cursor}`, `drain {last}`, `measure {from}`, `verdict`.
 */
import { collect, getRequest, type HttpConnection, openMany } from '../lib/http-client.js';
import type { IpcMessage } from '../lib/proc.js';
import { seqsIn } from '../lib/stats.js';
import { until } from '../lib/wait.js';
import { fail, tell, workerConfig } from '../lib/worker.js';

interface ChurnConfig {
  readonly port: number;
  readonly pollers: number;
  readonly room: string;
  /** At most seqs 0 … total-1 will be published. */
  readonly total: number;
}

const cfg = workerConfig<ChurnConfig>();
const seen: number[] = [];
const counter = { measureFrom: Number.POSITIVE_INFINITY, deliveries: 0, responses: 0 };

class Poller {
  readonly counts = new Uint8Array(cfg.total);
  /** Seqs this poller was told it missed: skipped by a gap answer (history overrun). */
  readonly skipped = new Uint8Array(cfg.total);
  /** The last seq before a gap answer, until the next message shows where it resumed. */
  gapFrom: number | undefined;
  last = -1;
  outOfOrder = 0;
  gaps = 0;
  errors = 0;

  constructor(
    readonly conn: HttpConnection,
    public cursor: string,
  ) {}

  poll(): void {
    const path = `/rooms/${cfg.room}/messages?cursor=${encodeURIComponent(this.cursor)}&timeout=30`;
    this.conn.send(
      getRequest(path),
      collect((status, body) => this.#onAnswer(status, body)),
    );
  }

  #onAnswer(status: number, body: string): void {
    if (status !== 200) {
      this.errors++;
      setTimeout(() => this.poll(), 10);
      return;
    }
    seen.length = 0;
    seqsIn(body, seen);
    const first = seen[0];
    if (this.gapFrom !== undefined && first !== undefined) {
      for (let seq = this.gapFrom + 1; seq < first && seq < cfg.total; seq++) this.skipped[seq] = 1;
      this.gapFrom = undefined;
    }
    for (const seq of seen) {
      if (seq <= this.last) this.outOfOrder++;
      this.last = seq;
      if (seq < cfg.total) this.counts[seq]!++;
      if (seq >= counter.measureFrom) counter.deliveries++;
    }
    if (seen.length > 0 && seen[0]! >= counter.measureFrom) counter.responses++;
    if (body.includes('"gap":true')) {
      this.gaps++;
      this.gapFrom ??= this.last;
    }
    const at = body.indexOf('"cursor":"') + 10;
    this.cursor = body.slice(at, body.indexOf('"', at));
    this.poll();
  }
}

/**
 * Lost and duplicates over seqs [0, end): every poller must have each
 * exactly once, or have been told by a gap answer that it missed it (a
 * poller that fell further behind than the history: `skipped`, not lost).
 */
function verdict(pollers: Poller[], end: number) {
  let lost = 0;
  let skipped = 0;
  let duplicates = 0;
  for (const p of pollers) {
    for (let seq = 0; seq < cfg.total; seq++) {
      const c = p.counts[seq]!;
      if (c > 1) duplicates += c - 1;
      else if (c === 0 && seq < end) {
        if (p.skipped[seq] === 1) skipped++;
        else lost++;
      }
    }
  }
  const sum = (f: (p: Poller) => number) => pollers.reduce((s, p) => s + f(p), 0);
  return {
    lost,
    skipped,
    duplicates,
    outOfOrder: sum((p) => p.outOfOrder),
    gaps: sum((p) => p.gaps),
    errors: sum((p) => p.errors),
    deliveries: counter.deliveries,
    responses: counter.responses,
  };
}

async function handle(m: IpcMessage, pollers: Poller[]): Promise<void> {
  if (m.type === 'start') {
    const conns = await openMany(cfg.port, cfg.pollers);
    for (const c of conns) pollers.push(new Poller(c, m['cursor'] as string));
    for (const p of pollers) p.poll();
    tell({ type: 'polling' });
  } else if (m.type === 'drain') {
    const last = m['last'] as number;
    const ok = await until(() => pollers.every((p) => p.last >= last), 30_000, 5);
    tell({ type: 'drained', ok });
  } else if (m.type === 'measure') {
    counter.measureFrom = m['from'] as number;
    tell({ type: 'measure' });
  } else if (m.type === 'verdict') {
    tell({ type: 'verdict', ...verdict(pollers, m['end'] as number) });
    for (const p of pollers) p.conn.close();
  }
}

const pollers: Poller[] = [];
process.on('message', (m: IpcMessage) => void handle(m, pollers).catch(fail));
tell({ type: 'loaded' });
