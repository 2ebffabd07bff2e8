/**
 * A throwaway `redis-server` for fault tests: started on a spare port with the
 * flags a case needs, stopped by its pid (never the shared Redis on 6379).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { createRedisBus, type RedisBus, type RedisBusOptions } from '../../lib/bus/redis.js';
import { redisAnswers } from './redis.js';

/** Whether a `redis-server` binary is installed. */
export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** A running throwaway Redis. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** SIGKILLs the process by its pid and removes its directory; idempotent. */
  stop(): Promise<void>;
}

/** A TCP port nothing listens on right now. */
export async function sparePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Polls `predicate` every 10 ms until true; throws after `ms`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} not met in time`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether something on `port` answers a RESP `PING` at all (`LOADING` counts). */
async function anyReply(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk) => done(chunk[0] === 0x2b || chunk[0] === 0x2d));
    socket.write('PING\r\n');
  });
}

/**
 * Starts `redis-server` with `flags` (e.g. `['--busy-reply-threshold', '50']`);
 * with `loading: true` it returns as soon as the server answers at all, even
 * `LOADING` while it still loads its dataset.
 */
export async function startRedisServer(
  flags: readonly string[] = [],
  options: { loading?: boolean } = {},
): Promise<RedisServer> {
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), 'comet-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', [...args, '--dir', dir, ...flags], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const server: RedisServer = {
    port,
    url,
    child,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  try {
    const up = options.loading ? () => anyReply(port) : () => redisAnswers(url, 500);
    await waitFor(up, 10_000, `redis-server on ${port}`);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/**
 * A Redis bus on a throwaway server with the fault tests' short timings,
 * ready, and pushed on `open` so the test's `afterEach` closes it.
 */
export async function faultBus(
  url: string,
  open: RedisBus[],
  options: RedisBusOptions = {},
): Promise<RedisBus> {
  const created = createRedisBus({
    url,
    keyPrefix: 'faults:',
    readyTimeout: 200,
    commandTimeout: 2000,
    reconnect: { baseDelay: 20, maxDelay: 200 },
    ...options,
  });
  open.push(created);
  await created.ready();
  return created;
}

/** A plain client on `server` for staging faults; close it after use. */
export async function adminClient(server: Pick<RedisServer, 'url'>) {
  const client = createClient({ url: server.url, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  return client;
}
