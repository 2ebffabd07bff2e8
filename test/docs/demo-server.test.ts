/**
 * The demo server as the README and docs/guides/deploy.md describe it: a
 * busy port is one line on stderr and exit code 1 (no stack), and the
 * compiled demo (`npm run build:demo`) runs with plain `node`, reading PORT
 * and HOST, serving the page, the client bundle and the rooms.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const compiled = join(root, 'build/demo/examples/chat/server.js');

const children: ChildProcess[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Holds a port on 127.0.0.1 and returns it. */
async function busyPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** Runs `args` with node until it exits; its exit code and output. */
async function runToExit(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

function expectOneClearLine(result: { code: number | null; stderr: string }, port: number) {
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`127.0.0.1:${port} is in use`);
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('demo server (examples/chat/server.ts)', () => {
  it('the README lists every environment variable the demo reads', () => {
    const source = readFileSync(join(root, 'examples/chat/server.ts'), 'utf8');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const names = new Set([...source.matchAll(/process\.env\.([A-Z_]+)/g)].map((m) => m[1]!));
    expect([...names]).toEqual(expect.arrayContaining(['PORT', 'HOST', 'REDIS_URL']));
    for (const name of names) expect(readme, name).toContain(`| \`${name}\` |`);
  });

  it('a port in use: one line on stderr, exit code 1', async () => {
    const port = await busyPort();
    const result = await runToExit(['--import', 'tsx', 'examples/chat/server.ts'], {
      PORT: String(port),
      HOST: '127.0.0.1',
    });
    expectOneClearLine(result, port);
  });

  it('npm run build:demo compiles it; plain node runs it on PORT/HOST', async () => {
    await promisify(execFile)('npm', ['run', 'build:demo'], { cwd: root });
    expect(existsSync(compiled)).toBe(true);

    const busy = await busyPort();
    expectOneClearLine(
      await runToExit([compiled], { PORT: String(busy), HOST: '127.0.0.1' }),
      busy,
    );

    const child = spawn(process.execPath, [compiled], {
      cwd: root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', REDIS_URL: '' },
    });
    children.push(child);
    let out = '';
    const listening = new Promise<string>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk;
        const match = /listening on http:\/\/localhost:(\d+)\//.exec(out);
        if (match) resolve(match[1]!);
      });
    });
    const base = `http://127.0.0.1:${await listening}`;
    expect(out).toContain('(in-memory bus)');
    expect((await fetch(`${base}/`)).headers.get('content-type')).toMatch(/text\/html/);
    const bundle = await fetch(`${base}/comet/koa-comet.js`);
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toContain('subscribe');

    const held = fetch(`${base}/rooms/lobby/messages?timeout=20`).then(
      (r) => r.json() as Promise<{ messages: { data: unknown }[] }>,
    );
    // Publish once the request is parked (the health route counts held requests).
    while (((await (await fetch(`${base}/health`)).json()) as { held: number }).held < 1) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const posted = await fetch(`${base}/rooms/lobby/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'compiled' }),
    });
    expect(posted.status).toBe(201);
    expect((await held).messages[0]?.data).toEqual({ text: 'compiled' });

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0); // graceful close exits by itself
  }, 180_000);
});
