/**
 * Load generator for "fanout": N SSE subscribers on one room; messages of
 * ~100 bytes are published in a closed loop (the next only once every
 * subscriber has the previous one, or after a timeout). Publish-to-receive
 * latency is measured in this one process, so no clocks are compared.
 * With `subscriberPorts` (the redis scenario), subscribers are split evenly
 * across those servers while the publisher stays on `port`.
 */
import type { Exchange, HttpConnection } from '../lib/http-client.js';
import { getRequest, openMany, publish } from '../lib/http-client.js';
import { percentile, seqsIn } from '../lib/stats.js';
import { until } from '../lib/wait.js';
import { expect, fail, tell, workerConfig } from '../lib/worker.js';

interface FanoutConfig {
  readonly port: number;
  readonly n: number;
  readonly k: number;
  readonly warm: number;
  readonly room: string;
  /** Servers the subscribers are split across (default: `port` alone). */
  readonly subscriberPorts?: readonly number[];
}

const cfg = workerConfig<FanoutConfig>();
const PAD = 'x'.repeat(80); // {"seq":n,"pad":"…"} ≈ 100 bytes of data
const total = 1 + cfg.warm + cfg.k; // seq 0 is the server warm-up message
const received = new Uint32Array(total);
const sent = new Float64Array(total);
const latencies: number[] = [];
let measureFrom = Number.POSITIVE_INFINITY;

class Subscriber implements Exchange {
  readonly counts = new Uint8Array(total);
  status = 0;
  sse = false;
  last = -1;
  outOfOrder = 0;
  #text = '';
  readonly #seqs: number[] = [];

  onHead(status: number, head: string): void {
    this.status = status;
    this.sse = /\r\ncontent-type:\s*text\/event-stream/i.test(head);
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
    for (const seq of this.#seqs) {
      if (seq <= this.last) this.outOfOrder++;
      this.last = seq;
      if (seq >= total) continue;
      this.counts[seq]!++;
      received[seq]!++;
      if (seq >= measureFrom) latencies.push(now - sent[seq]!);
    }
  }

  onEnd(): void {}
}

/** Opens `count` connections split evenly across the subscriber ports. */
async function openSplit(count: number): Promise<HttpConnection[]> {
  const ports = cfg.subscriberPorts ?? [cfg.port];
  const conns: HttpConnection[] = [];
  for (const [i, port] of ports.entries()) {
    const share = Math.floor(count / ports.length) + (i < count % ports.length ? 1 : 0);
    conns.push(...(await openMany(port, share, 250)));
  }
  return conns;
}

async function subscribe(count: number) {
  const conns = await openSplit(count);
  const subs = conns.map((c) => {
    const s = new Subscriber();
    c.send(getRequest(`/rooms/${cfg.room}/live`, 'text/event-stream'), s);
    return s;
  });
  const ok = await until(() => subs.every((s) => s.status !== 0), 60_000, 20);
  if (!ok || !subs.every((s) => s.status === 200 && s.sse)) {
    const bad = subs.find((s) => s.status !== 200 || !s.sse);
    tell({ type: 'unsupported', status: bad?.status ?? 0 });
    process.exit(0);
  }
  return { conns, subs };
}

/** Publishes seqs [from, to), each once every subscriber has the previous one. */
async function closedLoop(pub: HttpConnection, n: number, from: number, to: number) {
  let timeouts = 0;
  for (let seq = from; seq < to; seq++) {
    sent[seq] = performance.now();
    await publish(pub, cfg.room, { seq, pad: PAD });
    if (!(await until(() => received[seq]! >= n, 10_000, 1))) timeouts++;
  }
  return timeouts;
}

function verdict(subs: Subscriber[], from: number) {
  let lost = 0;
  let duplicates = 0;
  for (const s of subs) {
    for (let seq = from; seq < total; seq++) {
      const c = s.counts[seq]!;
      if (c === 0) lost++;
      else duplicates += c - 1;
    }
  }
  return { lost, duplicates, outOfOrder: subs.reduce((a, s) => a + s.outOfOrder, 0) };
}

async function main(): Promise<void> {
  const pub = (await openMany(cfg.port, 1))[0]!;
  const warmup = await subscribe(Math.min(100, cfg.n));
  await closedLoop(pub, warmup.subs.length, 0, 1);
  for (const c of warmup.conns) c.close();
  tell({ type: 'warmed' });
  await expect('connect');
  const { conns, subs } = await subscribe(cfg.n);
  tell({ type: 'connected' });
  await expect('run');
  await closedLoop(pub, cfg.n, 1, 1 + cfg.warm);
  tell({ type: 'measure' });
  await expect('go');
  measureFrom = 1 + cfg.warm;
  const t0 = performance.now();
  const timeouts = await closedLoop(pub, cfg.n, measureFrom, total);
  const ms = performance.now() - t0;
  tell({ type: 'measured' });
  await expect('verdict');
  const l = Float64Array.from(latencies);
  const deliveries = l.length;
  const p50 = percentile(l, 50);
  const p99 = percentile(l, 99);
  tell({ type: 'verdict', deliveries, ms, timeouts, p50, p99, ...verdict(subs, 1) });
  for (const c of conns) c.close();
  pub.close();
}

main().catch(fail);
