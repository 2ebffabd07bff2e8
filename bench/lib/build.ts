/**
 * Compiles what the benchmark's children run (the library, the demo app,
 * the bench servers and load generators) with `tsc -p tsconfig.bench.json`
 * into `build/bench/`: the demo's compiler options (`tsconfig.demo.json`),
 * so the servers run the same JavaScript `npm run build:demo` emits, under
 * plain `node`. Skipped when nothing under the compiled folders is newer
 * than the last build.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = ['lib', 'middleware', 'index.ts', 'examples/chat', 'bench', 'tsconfig.bench.json'];
/**
 * Written after each build here. Not `.tsbuildinfo`: a `tsc -p
 * tsconfig.bench.json --noEmit` run (a type check) updates that file
 * without emitting, and the next bench would then run stale JavaScript.
 */
const STAMP = join(ROOT, 'build/bench/.compiled');

/** The newest modification time (ms) of any `.ts` file (or the file itself) under `path`. */
function newest(path: string): number {
  const s = statSync(path, { throwIfNoEntry: false });
  if (!s) return 0;
  if (!s.isDirectory()) return s.mtimeMs;
  let max = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'results') continue;
    const p = join(path, e.name);
    if (e.isDirectory()) max = Math.max(max, newest(p));
    else if (e.name.endsWith('.ts')) max = Math.max(max, statSync(p).mtimeMs);
  }
  return max;
}

/** Compiles into build/bench/ when a source is newer than the last build; returns whether it did. */
export function compileBench(log: (line: string) => void): boolean {
  const built = statSync(STAMP, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const changed = Math.max(...SOURCES.map((s) => newest(join(ROOT, s))));
  if (built > changed) return false;
  log(
    '[bench] compiling the servers and load generators: tsc -p tsconfig.bench.json → build/bench/',
  );
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.bench.json')], {
    stdio: 'inherit',
  });
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  return true;
}
