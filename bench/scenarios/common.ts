/**
 * What every scenario shares: starting a server child on core 0 and a load
 * generator on core 1, reading the server's stats over IPC, and the shape
 * of a scenario's result.
 */
import type { ServerStats } from '../lib/control.js';
import type { Child, ProcessGroup } from '../lib/proc.js';

/** Which implementation a column measures. */
export type Side = 'raw' | 'comet';

/**
 * How a server's V8 heap is set: `pinned` fixes the young generation (see
 * {@link SERVER_NODE_FLAGS}); `default` leaves V8's defaults, as `node
 * server.js` runs.
 */
export type Heap = 'pinned' | 'default';

/** A server under test: its script and the column it fills. */
export interface Target {
  readonly side: Side;
  /** Script under `bench/`, e.g. `servers/raw-longpoll.ts` or `../examples/chat/server.ts`. */
  readonly script: string;
  /** Loaded first with `--import` (the demo's control channel). */
  readonly preload?: string;
  /** Environment of the server (on top of the orchestrator's). */
  readonly env?: Readonly<Record<string, string>>;
  /** Heap settings; `pinned` when absent. */
  readonly heap?: Heap;
  /** The server writes to stdout (the demo's banner): discard it. */
  readonly quiet?: boolean;
}

/** A started server. */
export interface RunningServer {
  readonly child: Child;
  readonly port: number;
  readonly features: Record<string, boolean>;
  /** RSS (bytes) once it listens, before its first client, no forced GC. */
  readonly startRss?: number;
}

/** One metric of a scenario, for the table (lower is better unless noted). */
export interface Metric {
  readonly name: string;
  readonly unit: string;
  /** Whether the ratio framework/raw is meaningful for this metric. */
  readonly compare: boolean;
  readonly raw?: number;
  readonly comet?: number;
}

/**
 * V8 flags of every server, raw or framework alike (the `pinned` heap):
 *
 * - The young generation is fixed at 16 MiB semi-spaces, the size V8 grows
 *   it to under these loads (its default maximum on this machine), instead
 *   of growing into it during the run.
 * - No allocation-site pretenuring. V8 decides once per allocation site,
 *   for the life of the process, whether its objects start in the old
 *   generation, from what the first scavenge after 100 of them finds still
 *   alive — and only while the young generation is at its maximum, which
 *   the fixed size makes true from the first scavenge. Whichever burst of
 *   long-lived objects (a thousand sockets connecting, a thousand polls
 *   parking) met that scavenge then decided Node's per-request objects for
 *   the whole run: tenured, every short-lived request object is allocated
 *   old and keeps what it points to alive through every scavenge. Raw
 *   servers landed there in some runs, the demo in every run (2.5 MB
 *   promoted per scavenge, three times raw's GC time); without the flag on
 *   both, the ratio measured which server the decision happened to hit.
 *   `--server-flags=--trace-gc-nvp` shows it (docs/design-decisions.md).
 *
 * V8's own settings are the `default` heap.
 */
export const SERVER_NODE_FLAGS: readonly string[] = [
  '--min-semi-space-size=16',
  '--max-semi-space-size=16',
  '--no-allocation-site-pretenuring',
];

/**
 * Starts `target` on core 0 with `--expose-gc` and waits for its port;
 * `startRss` is its resident size when it reported ready, before any client.
 */
export async function startServer(
  group: ProcessGroup,
  target: Target,
  env?: Record<string, string>,
): Promise<RunningServer> {
  const all = target.env || env ? { ...target.env, ...env } : undefined;
  const child = group.start(target.script, {
    core: 0,
    measured: true,
    nodeFlags: target.heap === 'default' ? [] : SERVER_NODE_FLAGS,
    ...(all ? { env: all } : {}),
    ...(target.preload ? { preload: target.preload } : {}),
    ...(target.quiet ? { quiet: true } : {}),
  });
  const ready = await child.next('ready', 30_000);
  const server = {
    child,
    port: ready['port'] as number,
    features: (ready['features'] ?? {}) as Record<string, boolean>,
  };
  return { ...server, startRss: (await stats(server, false)).rss };
}

/** Starts a load generator on core 1 with its config. */
export function startLoad(group: ProcessGroup, script: string, config: object): Child {
  return group.start(script, { core: 1, args: [JSON.stringify(config)] });
}

/** Reads the server's stats, forcing a GC first when `gc`. */
export async function stats(
  server: Pick<RunningServer, 'child'>,
  gc: boolean,
): Promise<ServerStats> {
  const m = await server.child.ask({ type: 'stats', gc }, 'stats', 30_000);
  return m as unknown as ServerStats;
}

/** CPU microseconds (user + system) between two stats. */
export function cpuMicros(before: ServerStats, after: ServerStats): number {
  return after.user + after.system - (before.user + before.system);
}
