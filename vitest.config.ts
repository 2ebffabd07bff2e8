import { defineConfig } from 'vitest/config';

/**
 * The batch-route test files run twice: through Koa's middleware stack, and
 * again with `COMET_DIRECT=1`, where the demo app answers its decorated
 * routes by direct dispatch (`comet({ direct: true })`), so both paths keep
 * the same wire contract.
 */
const directFiles = [
  'test/integration/long-poll.test.ts',
  'test/integration/jsonp.test.ts',
  'test/integration/poll.test.ts',
  'test/integration/errors-and-limits.test.ts',
  'test/integration/cors.test.ts',
  'test/integration/shutdown.test.ts',
  'test/integration/cursor-rule.test.ts',
  'test/integration/http2.test.ts',
];

export default defineConfig({
  test: {
    setupFiles: ['./lib/base/symbol-metadata.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'koa-comet', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'direct', include: directFiles, env: { COMET_DIRECT: '1' } },
      },
    ],
  },
});
