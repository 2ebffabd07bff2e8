/**
 * The server side of the orchestrator's control channel (IPC, not HTTP, so
 * measuring never shares the sockets being measured): announces the port,
 * answers `stats` with RSS, heap and CPU time after an optional forced GC,
 * and exits on `exit` or when the parent goes away.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';

/** What a server reports when asked for `stats`. */
export interface ServerStats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  /**
   * Bytes of memory V8's young generation (new space) has committed: part
   * of `rss`, sized by V8 to the survival it sees, at most its maximum
   * semi-spaces whatever the number of connections.
   */
  readonly youngGen: number;
  /** process.cpuUsage() in microseconds. */
  readonly user: number;
  readonly system: number;
  /** Requests seen by the http server since start. */
  readonly requests: number;
  /** Open connections (server.getConnections). */
  readonly connections: number;
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  // Several passes: the first may only move survivors; later ones free them.
  for (let i = 0; i < 3; i++) gc();
}

async function stats(server: Server, requests: number, gc: boolean): Promise<ServerStats> {
  if (gc) collect();
  const connections = await new Promise<number>((resolve) =>
    server.getConnections((_err, n) => resolve(n ?? -1)),
  );
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  return {
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
    youngGen: young?.physical_space_size ?? 0,
    user: cpu.user,
    system: cpu.system,
    requests,
    connections,
  };
}

/**
 * Wires `server` to the orchestrator once it listens; `features` tells the
 * orchestrator what this server supports (e.g. `{ stream: true }`).
 */
export function attachControl(server: Server, features: Record<string, boolean> = {}): void {
  if (!process.send) throw new Error('bench servers must be started by bench/run.ts (IPC)');
  let requests = 0;
  server.on('request', () => {
    requests++;
  });
  const ready = () => {
    const { port } = server.address() as AddressInfo;
    process.send?.({ type: 'ready', port, features });
  };
  if (server.listening) ready();
  else server.once('listening', ready);
  process.on('message', (m: { type: string; gc?: boolean }) => {
    if (m.type === 'stats') {
      void stats(server, requests, m.gc === true).then((s) =>
        process.send?.({ type: 'stats', ...s }),
      );
    } else if (m.type === 'exit') {
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  // A clean exit on the orchestrator's SIGTERM lets --cpu-prof write its profile.
  process.on('SIGTERM', () => process.exit(0));
}

/**
 * Starts a bench server the same way for every side: long keep-alive, no
 * request timeout, a deep accept backlog, 127.0.0.1 on a free port, and the
 * control channel to the orchestrator.
 */
export function serveBench(server: Server, features: Record<string, boolean>): void {
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  attachControl(server, features);
}
