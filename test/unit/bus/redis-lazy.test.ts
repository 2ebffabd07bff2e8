/**
 * koa-comet loads node-redis only when a Redis bus is created: an app on
 * the memory bus does not carry it (lib/bus/redis-module.ts). Checked in a
 * child process, where nothing else has loaded the package.
 */
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Imports index.ts in a fresh process, runs `then`, prints the redis modules loaded. */
function redisModulesAfter(then: string): number {
  const script = `
    import { createRequire } from 'node:module';
    const comet = await import('./index.ts');
    ${then}
    const cache = createRequire(import.meta.url).cache;
    console.log(Object.keys(cache).filter((k) => /node_modules\\/(redis|@redis)\\//.test(k)).length);
    process.exit(0);`;
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  return Number(out.trim().split('\n').at(-1));
}

describe('node-redis is loaded on first use', () => {
  it('is not loaded by importing koa-comet and using the memory bus', () => {
    expect(redisModulesAfter('comet.createMemoryBus();')).toBe(0);
  });

  it('is loaded when a Redis bus is created', () => {
    const modules = redisModulesAfter(
      "const bus = comet.createRedisBus({ url: 'redis://127.0.0.1:1', connectTimeout: 50 }); await bus.close();",
    );
    expect(modules).toBeGreaterThan(0);
  });
});
