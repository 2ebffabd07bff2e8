/**
 * The package as a user gets it: `npm pack` (the real `prepack` build and `files`
 * list), the tarball's contents, then the tarball installed with its peers into fresh
 * projects under the system temp folder, each serving and receiving a real message:
 * an ESM TypeScript app, a CommonJS app, and an esbuild bundle of `koa-comet/client`
 * in headless Chromium.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowserSession, describeBrowser } from '../browser/harness.js';
import { browserBundleApp, commonJsApp, esmTypeScriptApp } from './consumers.js';
import {
  installInto,
  type PackedTarball,
  packTarball,
  peersOf,
  repoVersion,
  scratchProject,
} from './pack.js';

const run = promisify(execFile);
const MINUTES = 60_000;
const projects: string[] = [];
let tarball: PackedTarball;

beforeAll(async () => {
  tarball = await packTarball();
}, 5 * MINUTES);

afterAll(() => {
  for (const dir of projects.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A scratch project with the tarball, its peers and `extra` packages installed. */
async function project(
  label: string,
  files: Record<string, string>,
  pkg: Record<string, unknown>,
  extra: string[],
): Promise<string> {
  const dir = scratchProject(label, files, pkg);
  projects.push(dir);
  const { stderr } = await installInto(dir, [tarball.path, ...peersOf(), ...extra]);
  // No install-time warnings about engines or peers on the supported Node.
  expect(stderr).not.toMatch(/EBADENGINE|ERESOLVE|peer dep/i);
  return dir;
}

/** Runs a project binary (`node_modules/.bin/NAME`). */
function bin(dir: string, name: string, args: string[]) {
  return run(join(dir, 'node_modules', '.bin', name), args, { cwd: dir });
}

describe('the packed tarball', () => {
  it('holds dist/ (server, client, types, testing), README, LICENSE, CHANGELOG and nothing else', () => {
    const { files } = tarball;
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/middleware/comet.js',
      'dist/client/koa-comet.js',
      'dist/client/koa-comet.iife.js',
      'dist/client/types/index.d.ts',
      'dist/testing.js',
      'dist/testing.d.ts',
    ]) {
      expect(files, required).toContain(required);
    }
    const top = new Set(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']);
    expect(files.filter((f) => !top.has(f) && !f.startsWith('dist/'))).toEqual([]);
    // No sources, tests or bench compiled along.
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|bench|examples)\//.test(f))).toEqual([]);
  });
});

describe('the tarball installed into fresh projects', () => {
  it(
    'an ESM TypeScript app (tsc strict, standard decorators) serves and receives a message',
    async () => {
      const dir = await project('esm-ts', esmTypeScriptApp, { type: 'module' }, [
        repoVersion('typescript'),
        repoVersion('@types/node'),
        repoVersion('@types/koa'),
        repoVersion('vitest'),
        repoVersion('vite'),
      ]);
      await bin(dir, 'tsc', ['-p', 'tsconfig.json']);
      const { stdout } = await run(process.execPath, ['dist/app.js'], { cwd: dir });
      expect(stdout.trim()).toBe('received [{"text":"hello from esm"}]');
      // The shipped contract suite runs under the app's own vitest (an optional peer).
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([key]) => !/^(VITEST|NODE_OPTIONS$)/.test(key)),
      );
      const contract = await run(join(dir, 'node_modules', '.bin', 'vitest'), ['run'], {
        cwd: dir,
        env: { ...env, CI: 'true', NO_COLOR: '1' },
      });
      expect(contract.stdout).toMatch(/Tests\s+\d+ passed \(\d+\)/);
    },
    5 * MINUTES,
  );

  it(
    'a CommonJS app require()s koa-comet, declares routes without decorators and streams',
    async () => {
      const dir = await project('cjs', commonJsApp, { type: 'commonjs' }, []);
      const { stdout, stderr } = await run(process.execPath, ['app.js'], { cwd: dir });
      expect(stdout.trim()).toBe('received {"text":"hello from cjs"}');
      // Node 20 flags require() of an ES module as experimental; nothing else is printed.
      expect(stderr).not.toMatch(/Error/);
    },
    5 * MINUTES,
  );
});

const session = createBrowserSession();

describeBrowser('koa-comet/client bundled by esbuild, in Chromium', session, () => {
  let server: ChildProcess | undefined;
  afterAll(() => {
    server?.kill();
  });

  it(
    'type-checks, bundles, and receives a published message in the page',
    async () => {
      const dir = await project('browser', browserBundleApp, { type: 'module' }, [
        repoVersion('esbuild'),
        repoVersion('typescript'),
      ]);
      await bin(dir, 'tsc', ['-p', 'tsconfig.json']);
      await bin(dir, 'esbuild', [
        'src/page.ts',
        '--bundle',
        '--format=esm',
        '--target=es2022',
        '--outfile=public/page.js',
      ]);
      const child = spawn(process.execPath, ['server.mjs'], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      server = child;
      const port = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const match = /listening (\d+)/.exec(out);
          if (match) resolve(match[1] ?? '');
        });
        child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const page = await session.browser.newPage();
      await page.goto(`${base}/`, { waitUntil: 'commit' });
      await page.waitForFunction("document.title === 'open'", undefined, { timeout: 20_000 });
      const said = await fetch(`${base}/say`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ text: 'hello from the bundle' }),
      });
      expect(said.status).toBe(200);
      await page.waitForFunction("document.getElementById('out').textContent !== ''", undefined, {
        timeout: 20_000,
      });
      expect(await page.textContent('#out')).toBe('{"text":"hello from the bundle"}');
      await page.close();
    },
    5 * MINUTES,
  );
});
