/**
 * Scenario "held": server RSS (and V8 heap) per suspended long-poll.
 * Baseline = RSS after warm-up at idle; held = RSS with N long-polls parked;
 * both after a forced GC. The slope between N/2 and N is reported too: it is
 * free of the heap slack a bigger idle process can fill without new pages. Then one publish releases all N and each must get it.
 */
import type { ProcessGroup } from '../lib/proc.js';
import { ratio } from '../lib/stats.js';
import type { Row } from '../lib/table.js';
import { sleep } from '../lib/wait.js';
import {
  cpuMicros,
  type RunningServer,
  startLoad,
  startServer,
  stats,
  type Target,
} from './common.js';

/** Options of the held scenario. */
export interface HeldOptions {
  readonly n: number;
  readonly warmup: number;
}

/** Figures for one server. */
export interface HeldResult {
  readonly n: number;
  /** RSS when the server reported ready, before its first client. */
  readonly startRss: number;
  readonly rssIdle: number;
  readonly rssHeld: number;
  readonly rssPerHeld: number;
  /** RSS growth per held request between N/2 and N: free of warm-up slack. */
  readonly rssSlope: number;
  readonly heapPerHeld: number;
  readonly openMs: number;
  /** Server CPU from the releasing publish until every poll got it, per released poll. */
  readonly cpuUsPerRelease: number;
  readonly received: number;
  readonly answeredEarly: number;
}

/** Waits until the server has seen `requests`, then lets it settle for a second. */
async function settle(server: RunningServer, requests: number, target: Target): Promise<void> {
  const end = Date.now() + 60_000;
  while ((await stats(server, false)).requests < requests) {
    if (Date.now() > end) throw new Error(`${target.side}: the server never saw every long-poll`);
    await sleep(100);
  }
  await sleep(1000);
}

/** Runs the held scenario against one target. */
export async function runHeld(
  group: ProcessGroup,
  target: Target,
  opts: HeldOptions,
): Promise<HeldResult> {
  const server = await startServer(group, target);
  const room = 'held';
  const load = startLoad(group, 'load/held.ts', { port: server.port, room, ...opts });
  try {
    await load.next('warmed');
    await sleep(500);
    const idle = await stats(server, true);
    // +1: the publish that fixes the cursor the polls park at.
    const half = (await load.ask({ type: 'hold' }, 'holding-half'))['sent'] as number;
    await settle(server, idle.requests + 1 + half, target);
    const halfway = await stats(server, true);
    const holding = await load.ask({ type: 'hold-rest' }, 'holding');
    await settle(server, idle.requests + 1 + opts.n, target);
    const held = await stats(server, true);
    const beforeRelease = await stats(server, false);
    const released = await load.ask({ type: 'release' }, 'released');
    const afterRelease = await stats(server, false);
    // Polls answered before the publish (a refusal, a timeout) were never held:
    // the memory figures would describe something else, so the run fails.
    if ((released['answeredEarly'] as number) > 0 || (released['received'] as number) < opts.n) {
      throw new Error(
        `${released['answeredEarly']} polls answered before the publish, ` +
          `${released['received']} of ${opts.n} got the message`,
      );
    }
    return {
      n: opts.n,
      startRss: server.startRss ?? Number.NaN,
      rssIdle: idle.rss,
      rssHeld: held.rss,
      rssPerHeld: (held.rss - idle.rss) / opts.n,
      rssSlope: (held.rss - halfway.rss) / (opts.n - half),
      heapPerHeld: (held.heapUsed - idle.heapUsed) / opts.n,
      openMs: holding['openMs'] as number,
      cpuUsPerRelease: cpuMicros(beforeRelease, afterRelease) / opts.n,
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
    row('RSS per held long-poll, slope N/2→N', 'bytes', (x) => x.rssSlope),
    row('V8 heap per held long-poll', 'bytes', (x) => x.heapPerHeld),
    row('RSS at idle baseline (after warm-up)', 'MiB', (x) => x.rssIdle / 2 ** 20, false),
    row('server CPU per poll released by one publish', 'µs', (x) => x.cpuUsPerRelease),
    row('released polls that got the message', 'count', (x) => x.received, false),
  ];
}
