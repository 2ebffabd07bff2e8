/**
 * Shared Redis plumbing for the tests that need a real Redis (the bus
 * contract, multi-node, the Redis docs example, the restart browser test) or
 * a `redis-server` binary (the fault tests), and the one place the project's
 * rule for such tests is written down:
 *
 * - the service is there: the tests run;
 * - it is missing under `CI=true`: a test FAILS saying what is missing, so CI
 *   can never pass without running them;
 * - it is missing elsewhere: a loud `console.warn` and one skipped test, so
 *   the run reports the skip (a file with no tests at all would be an error).
 */
import { createClient } from 'redis';
import { expect, it } from 'vitest';

/** The shared Redis the tests use: `REDIS_URL`, default the local one. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A service some tests need, and whether it is there. */
export interface Requirement {
  /** Whether the service is there. */
  readonly met: boolean;
  /** The tests, for the messages: "the Redis bus contract". */
  readonly tests: string;
  /** What they need, for the messages: "Redis at redis://…". */
  readonly needs: string;
  /** How to get it, for the warning. */
  readonly hint: string;
}

/**
 * Runs `register` (which adds the tests) when `requirement.met`; otherwise
 * applies the rule above: a failing test under `CI=true`, else a loud warning
 * and one skipped test.
 */
export function whenMet(requirement: Requirement, register: () => void): void {
  const { met, tests, needs, hint } = requirement;
  if (met) {
    register();
  } else if (process.env.CI === 'true') {
    it(`${tests}: needs ${needs} under CI`, () => {
      expect.fail(`${needs} is not available; CI must run ${tests}`);
    });
  } else {
    console.warn(
      `\n\n*** SKIPPING ${tests}: no ${needs}. ***\n` +
        `*** ${hint}; under CI=true this fails. ***\n\n`,
    );
    it.skip(`${tests} (needs ${needs})`, () => {});
  }
}

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
