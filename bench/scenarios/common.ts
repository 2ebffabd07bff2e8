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
 * V8 flags of every server, raw or framework alike: the young generation
 * is fixed at 16 MiB semi-spaces, the size V8 grows it to under these loads
 * (its default maximum on this machine), instead of growing into it during
 * the run. V8 decides to allocate a kind of object straight in the old
 * generation ("pretenuring") only while the young generation is at its
 * maximum, so whether a server got there before or after its first burst
 * of held requests otherwise flips its per-request GC cost between two
 * levels, about 1.4× apart, from run to run — for the raw servers and the
 * framework alike. A long-running busy server is in the pinned state.
 */
export const SERVER_NODE_FLAGS: readonly string[] = [
  '--min-semi-space-size=16',
  '--max-semi-space-size=16',
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
    exposeGc: true,
    profile: true,
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
