/**
 * The README's example app runs exactly as printed: its ```ts block is
 * written to a file (the package import pointed at this checkout, the port
 * made free), started with tsx in a child process, and followed with a
 * long-poll until the app's ticker publishes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = dir = undefined;
});

describe('README example', () => {
  it('has one TypeScript block of at most ~25 lines', () => {
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)];
    expect(blocks).toHaveLength(1);
    expect((blocks[0]?.[1] ?? '').split('\n').length).toBeLessThanOrEqual(26);
  });

  it('runs as printed and answers a long-poll with the ticker’s message', async () => {
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(code).toContain("from 'koa-comet'");
    expect(code).toContain('listen(3000)');
    const port = await freePort();
    // Inside the checkout (git-ignored .tmp/) so `koa` and tsx's config resolve as for a user.
    mkdirSync(join(root, '.tmp'), { recursive: true });
    dir = mkdtempSync(join(root, '.tmp', 'readme-'));
    const file = join(dir, 'app.ts');
    writeFileSync(
      file,
      code
        .replace("from 'koa-comet'", `from ${JSON.stringify(join(root, 'index.ts'))}`)
        .replace('listen(3000)', `listen(${port}, '127.0.0.1')`),
    );
    child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    let body: { messages: { data: unknown }[] } | undefined;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/rooms/lobby/messages?timeout=5`);
        body = (await res.json()) as typeof body;
        if (body?.messages.length) break;
      } catch {
        await new Promise((r) => setTimeout(r, 200)); // still starting
      }
    }
    expect(body?.messages[0]?.data).toEqual({ text: 'tick' });
  });
});
