/**
 * A reader follows `docs/tutorial.md` from an empty folder: this test does the
 * same in a fresh project under `os.tmpdir()`. It installs the packed tarball
 * (`npm pack`, as published) with the packages the tutorial's set-up commands
 * name, writes the `package.json` fields, the `tsconfig.json` and every
 * `File \`path\`:` block exactly as printed, and type-checks them with `tsc`.
 * Every `docs/examples/` file (the complete files the fragments come from)
 * is type-checked there too, importing `'koa-comet'` as a reader would. Then
 * the compiled app of step 3 runs with plain `node` and answers a long-poll.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  installInto,
  packTarball,
  repoRoot,
  repoVersion,
  scratchProject,
} from '../package/pack.js';
import { blocksOf } from './regions.js';

const run = promisify(execFile);
const tutorial = readFileSync(join(repoRoot, 'docs/tutorial.md'), 'utf8');
const blocks = blocksOf(tutorial);
const files = blocks.filter((b) => b.caption?.kind === 'file');

/** The complete files, a later version of a path beside the earlier (`server.2.ts`). */
function projectFiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const block of files) {
    let path = block.caption!.path;
    for (let n = 2; out.has(path); n++) path = block.caption!.path.replace(/(\.\w+)$/, `.${n}$1`);
    out.set(path, `${block.code}\n`);
  }
  return out;
}

/** The packages `npm install` lines of the set-up name, at the versions this repository tests. */
function setupPackages(tarball: string): string[] {
  const setup = blocks.find((b) => b.lang === 'sh' && b.code.includes('npm init -y'));
  expect(setup, 'a ```sh block with npm init -y').toBeDefined();
  const names = setup!.code
    .split('\n')
    .filter((line) => line.startsWith('npm install '))
    .flatMap((line) => line.split(/\s+/).slice(2))
    .filter((word) => !word.startsWith('-'));
  expect(names).toContain('koa-comet');
  return names.map((spec) => {
    if (spec === 'koa-comet') return tarball;
    const name = spec.replace(/(.)@.*$/, '$1'); // @types/node@20 → @types/node
    return repoVersion(name);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

let dir = '';
let child: ChildProcess | undefined;

beforeAll(async () => {
  const { path } = await packTarball();
  const fragment = blocks.find(
    (b) => b.caption?.kind === 'fragment' && b.caption.path === 'package.json',
  );
  expect(fragment, 'the package.json fields').toBeDefined();
  dir = scratchProject('tutorial', Object.fromEntries(projectFiles()), JSON.parse(fragment!.code));
  await installInto(dir, setupPackages(path));
  // The complete files the fragments come from, importing the package by name.
  const examples = join(dir, 'examples');
  cpSync(join(repoRoot, 'docs/examples'), examples, { recursive: true });
  for (const entry of readdirSync(examples, { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.ts')) continue;
    const file = join(examples, entry);
    const text = readFileSync(file, 'utf8').replace(/'(\.\.\/)+index\.js'/g, `'koa-comet'`);
    writeFileSync(file, text);
  }
  writeFileSync(
    join(dir, 'tsconfig.examples.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { noEmit: true, rootDir: '.' },
      include: ['examples'],
    }),
  );
}, 300_000);

afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function tsc(args: string[]): Promise<string> {
  try {
    await run(join(dir, 'node_modules/.bin/tsc'), args, { cwd: dir });
    return '';
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    return `${stdout ?? ''}${stderr ?? ''}` || String(error);
  }
}

describe('the tutorial, followed in a new project that installs the packed tarball', () => {
  it('shows complete files: tsconfig.json and TypeScript modules', () => {
    const paths = files.map((b) => b.caption!.path);
    expect(paths).toContain('tsconfig.json');
    expect(paths.filter((p) => p.endsWith('.ts')).length).toBeGreaterThanOrEqual(3);
  });

  it('every complete TypeScript file type-checks as written (tsc, the tutorial’s tsconfig)', async () => {
    expect(await tsc(['-p', 'tsconfig.json'])).toBe('');
  }, 120_000);

  it('every docs/examples file type-checks importing koa-comet', async () => {
    expect(await tsc(['-p', 'tsconfig.examples.json'])).toBe('');
  }, 120_000);

  it('every complete JavaScript file parses with node', async () => {
    const js = [...projectFiles().keys()].filter((p) => p.endsWith('.js'));
    expect(js.length).toBeGreaterThanOrEqual(1);
    for (const path of js) await run(process.execPath, ['--check', join(dir, path)]);
  });

  it('the compiled app of step 3 runs with node and delivers a published message', async () => {
    // `npm run build` of the tutorial: tsc into dist/.
    expect(await tsc(['-p', 'tsconfig.json'].concat(['--noEmit', 'false']))).toBe('');
    const server = [...projectFiles().keys()]
      .filter((p) => /^src\/server(\.\d+)?\.ts$/.test(p))
      .at(-1)!;
    const compiled = join(dir, 'dist', server.replace(/^src\//, '').replace(/\.ts$/, '.js'));
    const port = await freePort();
    child = spawn(process.execPath, [compiled], {
      cwd: dir,
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    await new Promise<void>((resolve) => {
      child!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk;
        if (out.includes('listening')) resolve();
      });
    });
    const base = `http://127.0.0.1:${port}`;
    const first = (await (await fetch(`${base}/rooms/lobby/messages?timeout=0`)).json()) as {
      cursor: string;
    };
    const posted = await fetch(`${base}/rooms/lobby/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'hi' }),
    });
    expect(posted.status).toBe(201);
    const next = await fetch(`${base}/rooms/lobby/messages?cursor=${first.cursor}&timeout=5`);
    const batch = (await next.json()) as { messages: { data: unknown }[] };
    expect(batch.messages.map((m) => m.data)).toEqual([{ text: 'hi' }]);
    child.kill('SIGTERM');
    await once(child, 'exit');
  }, 120_000);
});
