/**
 * A private, throwaway `redis-server` for `--own-redis`: `INFO commandstats`
 * counts every client of a server, so on a Redis shared with other work the
 * commands-per-message figure picks up theirs. This one listens on a spare
 * loopback port, keeps nothing on disk, and is stopped by its pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { RedisAdmin } from './redis-admin.js';
import { sleep } from './wait.js';

/** A running private Redis. */
export interface OwnRedis {
  readonly url: string;
  /** Stops the server by pid and waits for it to exit. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago (the kernel picks it). */
async function sparePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, 'close');
  return port;
}

async function stop(proc: ChildProcess): Promise<void> {
  // A spawn that failed (no binary) has no pid and never emits 'exit'.
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts `redis-server` on a spare 127.0.0.1 port and waits (up to `ms`)
 * until it answers PING.
 * @throws Error when the binary is missing or the server does not answer.
 */
export async function startOwnRedis(ms = 10_000): Promise<OwnRedis> {
  const port = await sparePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  const failed = once(proc, 'error').then(([e]) => {
    throw new Error(`redis-server: ${(e as Error).message}`);
  });
  failed.catch(() => {}); // raced below; an unobserved rejection must not crash the run
  // The orchestrator may exit on a signal: never leave this server behind.
  const onExit = () => proc.kill('SIGKILL');
  process.once('exit', onExit);
  const url = `redis://127.0.0.1:${port}`;
  const end = Date.now() + ms;
  for (;;) {
    try {
      const admin = await Promise.race([RedisAdmin.connect(url, 500), failed]);
      await admin.close();
      break;
    } catch (e) {
      if (Date.now() > end || proc.exitCode !== null || proc.pid === undefined) {
        await stop(proc);
        process.off('exit', onExit);
        throw e;
      }
      await sleep(100);
    }
  }
  return {
    url,
    stop: async () => {
      await stop(proc);
      process.off('exit', onExit);
    },
  };
}

/** The Redis a bench scenario uses: its admin connection, and the private server if one was started. */
export interface BenchRedis {
  readonly url: string;
  readonly admin: RedisAdmin;
  readonly own: OwnRedis | undefined;
}

/**
 * Connects to the shared Redis at `url`, or first starts a private
 * redis-server when `ownRedis`; a private server is stopped again if the
 * connection fails. Throws what went wrong, for the caller's "skipped" line.
 */
export async function openBenchRedis(url: string, ownRedis: boolean): Promise<BenchRedis> {
  let own: OwnRedis | undefined;
  try {
    if (ownRedis) {
      own = await startOwnRedis();
      url = own.url;
    }
    return { url, admin: await RedisAdmin.connect(url), own };
  } catch (e) {
    await own?.stop();
    throw e;
  }
}
