/**
 * Scenario "fanout": N SSE subscribers on one channel, K messages of ~100
 * bytes published in a closed loop. Server CPU per delivery, p50/p99
 * publish-to-receive latency, lost and duplicates; and idle memory per SSE
 * connection (RSS with N open streams minus RSS after warm-up, both after GC).
 * A server whose stream route does not answer SSE yet is reported as skipped.
 */
import type { ProcessGroup } from '../lib/proc.js';
import { ratio } from '../lib/stats.js';
import type { Row } from '../lib/table.js';
import { sleep } from '../lib/wait.js';
import { cpuMicros, startLoad, startServer, stats, type Target } from './common.js';

/** Options of one fan-out run. */
export interface FanoutOptions {
  readonly n: number;
  readonly k: number;
  /** Over cleartext HTTP/2: every subscriber a stream of one session (as a browser's tabs). */
  readonly h2?: boolean;
}

/** Figures for one server. */
export interface FanoutResult extends FanoutOptions {
  /** RSS when the server reported ready, before its first client. */
  readonly startRss: number;
  readonly rssPerConnection: number;
  /** The same without the young generation's growth (a bounded, one-time cost). */
  readonly rssPerConnectionBeyondYoung: number;
  /** V8's young generation with N streams open, bytes committed. */
  readonly youngGenOpen: number;
  readonly heapPerConnection: number;
  readonly deliveries: number;
  readonly cpuMs: number;
  readonly cpuUsPerDelivery: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly messagesPerSec: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly outOfOrder: number;
  readonly timeouts: number;
}

/** Runs one fan-out size against one target. */
export async function runFanout(
  group: ProcessGroup,
  target: Target,
  opts: FanoutOptions,
): Promise<FanoutResult> {
  const server = await startServer(group, target, opts.h2 ? { BENCH_H2: '1' } : undefined);
  const config = { port: server.port, room: 'fanout', warm: 20, ...opts };
  const load = startLoad(group, opts.h2 ? 'load/fanout-h2.ts' : 'load/fanout.ts', config);
  try {
    const first = await load.next(['warmed', 'unsupported']);
    if (first.type === 'unsupported') {
      throw new Error(`no SSE stream route yet (GET /rooms/:room/live → ${first['status']})`);
    }
    await sleep(500);
    const idle = await stats(server, true);
    const connected = await load.ask({ type: 'connect' }, ['connected', 'unsupported'], 300_000);
    if (connected.type === 'unsupported') {
      throw new Error(
        `not every subscriber got its stream (first failure: status ${connected['status']})`,
      );
    }
    await sleep(1000);
    const open = await stats(server, true);
    await load.ask({ type: 'run' }, 'measure', 180_000);
    const before = await stats(server, false);
    await load.ask({ type: 'go' }, 'measured', 600_000);
    const after = await stats(server, false);
    const v = await load.ask({ type: 'verdict' });
    const n = (key: string) => v[key] as number;
    const cpu = cpuMicros(before, after);
    return {
      ...opts,
      startRss: server.startRss ?? Number.NaN,
      rssPerConnection: (open.rss - idle.rss) / opts.n,
      rssPerConnectionBeyondYoung: (open.rss - open.youngGen - (idle.rss - idle.youngGen)) / opts.n,
      youngGenOpen: open.youngGen,
      heapPerConnection: (open.heapUsed - idle.heapUsed) / opts.n,
      deliveries: n('deliveries'),
      cpuMs: cpu / 1000,
      cpuUsPerDelivery: cpu / n('deliveries'),
      p50Ms: n('p50'),
      p99Ms: n('p99'),
      messagesPerSec: opts.k / (n('ms') / 1000),
      lost: n('lost'),
      duplicates: n('duplicates'),
      outOfOrder: n('outOfOrder'),
      timeouts: n('timeouts'),
    };
  } finally {
    await load.kill();
    await server.child.kill();
  }
}

/** Table rows for one fan-out size. */
export function fanoutRows(r: Partial<Record<'raw' | 'comet', FanoutResult>>, n: number): Row[] {
  const k = r.raw?.k ?? r.comet?.k ?? 0;
  const scenario = `fanout-sse (N=${n.toLocaleString('en-US')}, K=${k})`;
  const row = (
    metric: string,
    unit: string,
    pick: (x: FanoutResult) => number,
    cmp = true,
  ): Row => {
    const raw = r.raw && pick(r.raw);
    const comet = r.comet && pick(r.comet);
    return { scenario, metric, unit, raw, comet, ...(cmp ? { ratio: ratio(comet, raw) } : {}) };
  };
  return [
    row('server CPU per delivery', 'µs', (x) => x.cpuUsPerDelivery),
    row('publish→receive latency p50', 'ms', (x) => x.p50Ms),
    row('publish→receive latency p99', 'ms', (x) => x.p99Ms),
    row('idle RSS per SSE connection', 'bytes', (x) => x.rssPerConnection),
    row(
      'idle RSS per SSE connection, young generation growth excluded',
      'bytes',
      (x) => x.rssPerConnectionBeyondYoung,
    ),
    row('V8 young generation with N streams open', 'MiB', (x) => x.youngGenOpen / 2 ** 20, false),
    row('idle V8 heap per SSE connection', 'bytes', (x) => x.heapPerConnection),
    row('closed-loop messages per second', '1/s', (x) => x.messagesPerSec, false),
    row('lost', 'count', (x) => x.lost, false),
    row('duplicates / out of order', 'count', (x) => x.duplicates + x.outOfOrder, false),
  ];
}

/** The columns of {@link fanoutH2Rows}. */
export const H2_COLUMNS = ['koa-comet HTTP/1.1', 'koa-comet HTTP/2', 'h2/h1'] as const;

/** Table rows comparing koa-comet's SSE fan-out over HTTP/2 (h2c) with HTTP/1.1, same run. */
export function fanoutH2Rows(h1: FanoutResult | undefined, h2: FanoutResult, n: number): Row[] {
  const scenario = `fanout-sse HTTP/2 (N=${n.toLocaleString('en-US')}, K=${h2.k})`;
  const row = (metric: string, unit: string, pick: (x: FanoutResult) => number): Row => {
    const a = h1 && pick(h1);
    const b = pick(h2);
    return { scenario, metric, unit, raw: a, comet: b, ratio: ratio(b, a) };
  };
  return [
    row('server CPU per delivery', 'µs', (x) => x.cpuUsPerDelivery),
    row('publish→receive latency p50', 'ms', (x) => x.p50Ms),
    row('idle RSS per SSE stream', 'bytes', (x) => x.rssPerConnection),
    row('lost + duplicates + out of order', 'count', (x) => x.lost + x.duplicates + x.outOfOrder),
  ];
}
