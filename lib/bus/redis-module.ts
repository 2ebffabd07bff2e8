/**
 * node-redis, loaded on first use instead of when koa-comet is imported: an
 * app on the memory bus never loads it (about 12 MiB of a production
 * start's resident size, see docs/design-decisions.md). The package is
 * CommonJS only, so `require` here and an application's own
 * `import { createClient } from 'redis'` share one module instance (one
 * `TimeoutError` class for `instanceof`).
 */
import { createRequire } from 'node:module';
import type * as Redis from 'redis';

let loaded: typeof Redis | undefined;

/** The `redis` package, required once. */
export function redisModule(): typeof Redis {
  loaded ??= createRequire(import.meta.url)('redis') as typeof Redis;
  return loaded;
}
