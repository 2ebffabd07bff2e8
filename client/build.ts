/**
 * Builds the browser client with esbuild: `dist/client/koa-comet.js` (ES module) and
 * `dist/client/koa-comet.iife.js` (script tag, global `KoaComet`), minified, with
 * source maps, and prints their gzipped sizes. Run with `npm run build:client`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build } from 'esbuild';

/** The built bundles, with their sizes in bytes. */
export interface ClientBuildResult {
  readonly files: readonly {
    readonly path: string;
    readonly bytes: number;
    readonly gzipBytes: number;
  }[];
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Bundles `client/index.ts` into `outDir` (default `dist/client` at the repository root).
 *
 * @example
 * ```ts
 * const { files } = await buildClient();
 * ```
 */
export async function buildClient(
  outDir = resolve(here, '..', 'dist', 'client'),
): Promise<ClientBuildResult> {
  const common: BuildOptions = {
    entryPoints: [join(here, 'index.ts')],
    bundle: true,
    minify: true,
    sourcemap: true,
    // Chromium 120+ and its peers; also keeps esbuild from leaving syntax untouched.
    target: 'es2022',
    platform: 'browser',
    tsconfig: join(here, 'tsconfig.json'),
    legalComments: 'none',
    logLevel: 'warning',
  };
  const esm = join(outDir, 'koa-comet.js');
  const iife = join(outDir, 'koa-comet.iife.js');
  await Promise.all([
    build({ ...common, format: 'esm', outfile: esm }),
    build({ ...common, format: 'iife', globalName: 'KoaComet', outfile: iife }),
  ]);
  return {
    files: [esm, iife].map((path) => {
      const bytes = readFileSync(path);
      return { path, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
    }),
  };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { files } = await buildClient();
  for (const file of files) {
    console.log(`${file.path}: ${file.bytes} B, ${file.gzipBytes} B gzipped`);
  }
}
