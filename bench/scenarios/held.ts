/**
 * Scenario "held": server RSS (and V8 heap) per suspended long-poll.
 * Baseline = RSS after warm-up at idle; held = RSS with N long-polls parked;
 * both after a forced GC. Then one publish releases all N and each must get it.
 */
import type { ProcessGroup } from '../lib/proc.js';
import { ratio } from '../lib/stats.js';
import type { Row } from '../lib/table.js';
import { sleep } from '../lib/wait.js';
import { type RunningServer, startLoad, startServer, stats, type Target } from './common.js';

/** Options of the held scenario. */
export interface HeldOptions {
  readonly n: number;
  readonly warmup: number;
}

/** Figures for one server. */
export interface HeldResult {
  readonly n: number;
  readonly rssIdle: number;
  readonly rssHeld: number;
  readonly rssPerHeld: number;
  readonly heapPerHeld: number;
  readonly openMs: number;
  readonly received: number;
  readonly answeredEarly: number;
}

async function settle(server: RunningServer, requests: number): Promise<boolean> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    const s = await stats(server, false);
    if (s.requests >= requests) return true;
    await sleep(100);
  }
  return false;
}

/** Runs the held scenario against one target. */
export async function runHeld(
  group: ProcessGroup,
  target: Target,
  opts: HeldOptions,
): Promise<HeldResult> {
  const server = await startServer(group, target.script);
  const room = 'held';
  const load = startLoad(group, 'load/held.ts', { port: server.port, room, ...opts });
  try {
    await load.next('warmed');
    await sleep(500);
    const idle = await stats(server, true);
    const holding = await load.ask({ type: 'hold' }, 'holding');
    // +1: the publish that fixes the cursor the polls park at.
    if (!(await settle(server, idle.requests + 1 + opts.n))) {
      throw new Error(`${target.side}: the server never saw all ${opts.n} long-polls`);
    }
    await sleep(1000);
    const held = await stats(server, true);
    const released = await load.ask({ type: 'release' }, 'released');
    return {
      n: opts.n,
      rssIdle: idle.rss,
      rssHeld: held.rss,
      rssPerHeld: (held.rss - idle.rss) / opts.n,
      heapPerHeld: (held.heapUsed - idle.heapUsed) / opts.n,
      openMs: holding['openMs'] as number,
      received: released['received'] as number,
      answeredEarly: released['answeredEarly'] as number,
    };
  } finally {
    await load.kill();
    await server.child.kill();
  }
}

/** Table rows for the held scenario. */
export function heldRows(r: Partial<Record<'raw' | 'comet', HeldResult>>): Row[] {
  const n = r.raw?.n ?? r.comet?.n ?? 0;
  const scenario = `held (N=${n.toLocaleString('en-US')})`;
  const row = (metric: string, unit: string, pick: (x: HeldResult) => number, cmp = true): Row => {
    const raw = r.raw && pick(r.raw);
    const comet = r.comet && pick(r.comet);
    return { scenario, metric, unit, raw, comet, ...(cmp ? { ratio: ratio(comet, raw) } : {}) };
  };
  return [
    row('RSS per held long-poll', 'bytes', (x) => x.rssPerHeld),
    row('V8 heap per held long-poll', 'bytes', (x) => x.heapPerHeld),
    row('RSS at idle baseline (after warm-up)', 'MiB', (x) => x.rssIdle / 2 ** 20, false),
    row('released polls that got the message', 'count', (x) => x.received, false),
  ];
}
