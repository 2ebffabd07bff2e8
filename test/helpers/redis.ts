/**
 * Shared Redis plumbing for the tests that need a real Redis (the bus
 * contract, multi-node, the Redis docs example, the restart browser test) or
 * a `redis-server` binary (the fault tests); what happens when it is missing
 * is {@link whenMet}'s rule (requirement.ts).
 */
import { createClient } from 'redis';
import { whenMet } from './requirement.js';

/** The shared Redis the tests use: `REDIS_URL`, default the local one. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * {@link whenMet} for the shared Redis at {@link redisUrl}; `reachable` is
 * what {@link redisAnswers} said (probe once, at the top of the file, since
 * tests are registered synchronously).
 */
export function withRedis(reachable: boolean, tests: string, register: () => void): void {
  const hint = 'Start one (`redis-server --port 6379`, or run .ci/run) or set REDIS_URL';
  whenMet({ met: reachable, tests, needs: `Redis at ${redisUrl}`, hint }, register);
}

/** Whether a Redis at `url` answers a PING, trying to connect for at most `connectTimeout` ms. */
export async function redisAnswers(url = redisUrl, connectTimeout = 1000): Promise<boolean> {
  const probe = createClient({ url, socket: { connectTimeout, reconnectStrategy: false } });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    await probe.close();
    return true;
  } catch {
    if (probe.isOpen) probe.destroy();
    return false;
  }
}

/** Deletes every key matching `match` (a SCAN pattern) on the Redis at `url`. */
export async function deleteRedisKeys(match: string, url = redisUrl): Promise<void> {
  const admin = createClient({ url });
  admin.on('error', () => {});
  await admin.connect();
  try {
    for await (const keys of admin.scanIterator({ MATCH: match, COUNT: 500 })) {
      if (keys.length > 0) await admin.del(keys);
    }
  } finally {
    await admin.close();
  }
}
