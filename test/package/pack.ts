/**
 * Packing koa-comet as a user gets it, and installing it into scratch projects.
 *
 * {@link packTarball} runs `npm pack` (so the real `prepack` build and the `files`
 * list decide what ships) in a staging copy of the sources: the worktree's `dist/`,
 * which other tests serve while they run, is never cleaned or rebuilt under them.
 * The tarball is cached per content of the sources under the system temp folder, so
 * every test file of one `npm test` run (each a separate process) packs once at most.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** What `npm pack` needs from the sources: the build inputs and the shipped documents. */
const packInputs = [
  'package.json',
  'README.md',
  'LICENSE',
  'CHANGELOG.md',
  'tsconfig.json',
  'tsconfig.build.json',
  'index.ts',
  'testing.ts',
  'lib',
  'middleware',
  'client',
];

/** A packed tarball. */
export interface PackedTarball {
  /** Absolute path of the `.tgz`. */
  readonly path: string;
  /** Its entries, as `tar -tzf` lists them without the `package/` prefix, sorted. */
  readonly files: readonly string[];
  /** Its size in bytes. */
  readonly bytes: number;
}

let packing: Promise<PackedTarball> | undefined;

/**
 * Packs the package once per content of its sources (cached in this process and
 * under `os.tmpdir()`), and lists the tarball.
 *
 * @example
 * ```ts
 * const { path, files } = await packTarball();
 * await installInto(dir, [path, ...peersOf()]);
 * ```
 */
export function packTarball(): Promise<PackedTarball> {
  packing ??= packOnce();
  return packing;
}

async function packOnce(): Promise<PackedTarball> {
  const cacheRoot = join(tmpdir(), 'koa-comet-pack');
  const done = join(cacheRoot, sourceHash());
  mkdirSync(cacheRoot, { recursive: true });
  if (!existsSync(join(done, 'files.json')) && !(await packedByAnother(done))) {
    try {
      await packInto(cacheRoot, done);
    } finally {
      rmSync(`${done}.lock`, { recursive: true, force: true });
    }
  }
  const { name, files } = JSON.parse(readFileSync(join(done, 'files.json'), 'utf8')) as {
    name: string;
    files: string[];
  };
  const path = join(done, name);
  return { path, files, bytes: statSync(path).size };
}

/** `npm pack` in a staging copy of the sources; the tarball and its listing end in `done`. */
async function packInto(cacheRoot: string, done: string): Promise<void> {
  const stage = mkdtempSync(join(cacheRoot, 'stage-'));
  try {
    const src = join(stage, 'src');
    const out = join(stage, 'out');
    mkdirSync(out);
    for (const input of packInputs) {
      cpSync(join(repoRoot, input), join(src, input), { recursive: true });
    }
    // The build tools (tsc, tsx, esbuild) and type packages, as installed by `npm ci`.
    symlinkSync(join(repoRoot, 'node_modules'), join(src, 'node_modules'), 'dir');
    const { stdout } = await run('npm', ['pack', '--pack-destination', out, '--silent'], {
      cwd: src,
      maxBuffer: 16 * 1024 * 1024,
    });
    const name = stdout.trim().split('\n').pop() ?? '';
    const listing = await run('tar', ['-tzf', join(out, name)]);
    const files = listing.stdout
      .split('\n')
      .filter((f) => f !== '')
      .map((f) => f.replace(/^package\//, ''))
      .sort();
    writeFileSync(join(out, 'files.json'), JSON.stringify({ name, files }));
    // A packer whose lock went stale may have finished meanwhile: keep its tarball.
    if (!existsSync(join(done, 'files.json'))) renameSync(out, done);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * Whether another test process is packing the same sources: it holds `done.lock`
 * (made atomically by `mkdir`). Then waits, up to 5 minutes, for its tarball.
 * A lock older than 10 minutes is a crashed packer's and is ignored.
 */
async function packedByAnother(done: string): Promise<boolean> {
  const lock = `${done}.lock`;
  try {
    mkdirSync(lock);
    return false;
  } catch {
    if (Date.now() - statSync(lock).mtimeMs > 10 * 60_000) return false;
  }
  const deadline = Date.now() + 5 * 60_000;
  while (!existsSync(join(done, 'files.json'))) {
    if (Date.now() > deadline) throw new Error(`no tarball in ${done} after 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return true;
}

/** A hash of every pack input's path and bytes. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const visit = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) visit(join(path, entry));
      return;
    }
    hash.update(relative(repoRoot, path)).update('\0').update(readFileSync(path)).update('\0');
  };
  for (const input of packInputs) visit(join(repoRoot, input));
  return hash.digest('hex').slice(0, 16);
}

/** The exact version this repository installs of `name` (devDependencies or dependencies). */
export function repoVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const version = pkg.devDependencies?.[name] ?? pkg.dependencies?.[name];
  if (version === undefined) throw new Error(`${name} is not a dependency of this repository`);
  return `${name}@${version}`;
}

/** The peers an app installs beside the tarball, at this repository's versions. */
export function peersOf(): string[] {
  return [repoVersion('koa'), repoVersion('@koa/router')];
}

/**
 * A fresh project folder under `os.tmpdir()` with `package.json` (`extra` merged in)
 * and the given files; remove it with `rmSync(dir, { recursive: true })`.
 */
export function scratchProject(
  label: string,
  files: Record<string, string>,
  extra: Record<string, unknown> = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), `koa-comet-${label}-`));
  const pkg = { name: `scratch-${label}`, private: true, version: '0.0.0', ...extra };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/**
 * `npm install` of `specs` (tarball paths, `name@version`) into `dir`, from the npm
 * cache the repository's own install filled where it can; resolves with npm's output.
 */
export async function installInto(
  dir: string,
  specs: readonly string[],
): Promise<{ stdout: string; stderr: string }> {
  return run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-exact', ...specs],
    { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
  );
}
