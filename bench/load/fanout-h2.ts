/**
 * Load generator for "fanout" over cleartext HTTP/2 (h2c): the same closed
 * loop as `fanout.ts`, but every SSE subscriber is a stream, all of them on
 * one session per 1,000 subscribers (a browser puts all of a page's streams
 * on one connection), and the publisher POSTs on its own session.
 */
import { type ClientHttp2Session, type ClientHttp2Stream, connect } from 'node:http2';
import { percentile, seqsIn } from '../lib/stats.js';
import { until } from '../lib/wait.js';
import { expect, fail, tell, workerConfig } from '../lib/worker.js';

interface FanoutConfig {
  readonly port: number;
  readonly n: number;
  readonly k: number;
  readonly warm: number;
  readonly room: string;
}

const cfg = workerConfig<FanoutConfig>();
const PAD = 'x'.repeat(80);
const total = 1 + cfg.warm + cfg.k;
const received = new Uint32Array(total);
const sent = new Float64Array(total);
const latencies: number[] = [];
let measureFrom = Number.POSITIVE_INFINITY;
const STREAMS_PER_SESSION = 1000;

class Subscriber {
  readonly counts = new Uint8Array(total);
  status = 0;
  sse = false;
  last = -1;
  outOfOrder = 0;
  #text = '';
  readonly #seqs: number[] = [];

  constructor(readonly stream: ClientHttp2Stream) {
    stream.on('response', (headers) => {
      this.status = Number(headers[':status']);
      this.sse = String(headers['content-type']).startsWith('text/event-stream');
    });
    stream.on('data', (chunk: Buffer) => this.onBody(chunk));
    stream.on('error', () => {});
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
}

function session(): ClientHttp2Session {
  const s = connect(`http://127.0.0.1:${cfg.port}`);
  s.on('error', (e) => fail(e));
  return s;
}

async function subscribe(count: number) {
  const sessions: ClientHttp2Session[] = [];
  const subs: Subscriber[] = [];
  for (let i = 0; i < count; i++) {
    if (i % STREAMS_PER_SESSION === 0) sessions.push(session());
    const s = sessions[sessions.length - 1]!;
    const stream = s.request({ ':path': `/rooms/${cfg.room}/live`, accept: 'text/event-stream' });
    subs.push(new Subscriber(stream));
  }
  const ok = await until(() => subs.every((s) => s.status !== 0), 60_000, 20);
  if (!ok || !subs.every((s) => s.status === 200 && s.sse)) {
    tell({ type: 'unsupported', status: subs.find((s) => s.status !== 200)?.status ?? 0 });
    process.exit(0);
  }
  return { sessions, subs };
}

function publish(pub: ClientHttp2Session, data: unknown): Promise<void> {
  const body = JSON.stringify(data);
  return new Promise((resolve, reject) => {
    const stream = pub.request({
      ':method': 'POST',
      ':path': `/rooms/${cfg.room}/messages`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    stream.on('response', (headers) => {
      const status = Number(headers[':status']);
      if (status < 200 || status > 299) reject(new Error(`publish: HTTP ${status}`));
    });
    stream.on('error', reject);
    stream.on('close', () => resolve());
    stream.resume();
    stream.end(body);
  });
}

async function closedLoop(pub: ClientHttp2Session, n: number, from: number, to: number) {
  let timeouts = 0;
  for (let seq = from; seq < to; seq++) {
    sent[seq] = performance.now();
    await publish(pub, { seq, pad: PAD });
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
  const pub = session();
  const warmup = await subscribe(Math.min(100, cfg.n));
  await closedLoop(pub, warmup.subs.length, 0, 1);
  for (const s of warmup.sessions) s.destroy();
  tell({ type: 'warmed' });
  await expect('connect');
  const { sessions, subs } = await subscribe(cfg.n);
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
  tell({
    type: 'verdict',
    deliveries: l.length,
    ms,
    timeouts,
    p50: percentile(l, 50),
    p99: percentile(l, 99),
    ...verdict(subs, 1),
  });
  for (const s of sessions) s.destroy();
  pub.destroy();
}

main().catch(fail);
