/**
 * The one place the project's rule for tests that need an outside service
 * (Redis, a `redis-server` binary, Chromium, nginx, Prometheus) is written
 * down:
 *
 * - the service is there: the tests run;
 * - it is missing under `CI=true`: a test FAILS saying what is missing, so CI
 *   can never pass without running them;
 * - it is missing elsewhere: a loud `console.warn` and one skipped test, so
 *   the run reports the skip (a file with no tests at all would be an error).
 */
import { expect, it } from 'vitest';

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
