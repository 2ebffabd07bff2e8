/**
 * The demo server as the README and docs/guides/deploy.md describe it: a
 * busy port is one line on stderr and exit code 1 (no stack), and the
 * compiled demo (`npm run build:demo`) runs with plain `node`, reading PORT
 * and HOST, serving the page, the client bundle and the rooms.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { blocksOf } from './regions.js';

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

    const { child, base, out } = await startDemo([compiled], {});
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

  it('HISTORY_LIMIT bounds what the in-memory bus keeps per room', async () => {
    const { base } = await startDemo(['--import', 'tsx', 'examples/chat/server.ts'], {
      HISTORY_LIMIT: '2',
    });
    for (const text of ['one', 'two', 'three']) {
      const posted = await fetch(`${base}/rooms/kept/messages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ text }),
      });
      expect(posted.status).toBe(201);
    }
    const read = (await (
      await fetch(`${base}/rooms/kept/messages?cursor=earliest&timeout=0`)
    ).json()) as { messages: { data: { text: string } }[] };
    expect(read.messages.map((m) => m.data.text)).toEqual(['two', 'three']);
  }, 60_000);
});

/** Starts the demo on a free port with `env`; resolves once it prints its address. */
async function startDemo(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', REDIS_URL: '', ...env },
  });
  children.push(child);
  let out = '';
  const port = await new Promise<string>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /listening on http:\/\/localhost:(\d+)\//.exec(out);
      if (match) resolve(match[1]!);
    });
  });
  return { child, base: `http://127.0.0.1:${port}`, out };
}

/** A free port on 127.0.0.1 (closed again before it is used). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const nginx = '/usr/sbin/nginx';
const haveTools =
  existsSync(nginx) &&
  ['redis-server', 'redis-cli'].every((tool) => {
    try {
      return execFileSync('sh', ['-c', `command -v ${tool}`]).length > 0;
    } catch {
      return false;
    }
  });
if (!haveTools && process.env.CI !== 'true') {
  console.warn(
    '\n!!! deploy guide run SKIPPED — needs /usr/sbin/nginx, redis-server and redis-cli (.ci/run installs them); under CI=true this fails.\n',
  );
}

describe.skipIf(!haveTools && process.env.CI !== 'true')('docs/guides/deploy.md', () => {
  it('its commands run as written (ports and folder made unique): a message crosses both processes', async () => {
    const guide = readFileSync(join(root, 'docs/guides/deploy.md'), 'utf8');
    const [redis, one, two, proxy] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    mkdirSync(join(root, '.tmp'), { recursive: true });
    const state = mkdtempSync(join(root, '.tmp', 'deploy-')).slice(root.length);
    const swap = (text: string) =>
      text
        .replaceAll('6380', String(redis))
        .replaceAll('3001', String(one))
        .replaceAll('3002', String(two))
        .replaceAll('8080', String(proxy))
        .replaceAll('.deploy', state);
    writeFileSync(
      join(root, state, 'nginx.conf'),
      swap(readFileSync(join(root, 'docs/examples/nginx.conf'), 'utf8')),
    );
    const steps = blocksOf(guide)
      .filter((b) => b.lang === 'sh' && !b.code.includes('npm ci'))
      .map((b) =>
        swap(b.code).replaceAll('"$PWD/docs/examples/nginx.conf"', `"$PWD/${state}/nginx.conf"`),
      )
      .map((code) =>
        code.includes('curl -N') ? code.replace('curl -N', 'timeout 3 curl -N') : code,
      );
    expect(steps.length).toBeGreaterThanOrEqual(6);
    const script = join(root, state, 'guide.sh');
    // The stream step ends by timeout (status 124): the guide says Ctrl-C.
    writeFileSync(
      script,
      `set -ex\n${steps.join('\n').replace(/(timeout 3 curl -N [^\n]*)/, '$1 || true')}\n`,
    );
    const log = join(root, state, 'guide.log');
    const fd = openSync(log, 'w');
    // Output to a file, not a pipe: nginx keeps its stderr open as a daemon.
    const child = spawn('bash', [script], { cwd: root, stdio: ['ignore', fd, fd] });
    children.push(child);
    const [code] = (await once(child, 'exit')) as [number | null];
    const out = readFileSync(log, 'utf8');
    try {
      expect(code, out).toBe(0);
      expect(out).toContain(
        `listening on http://localhost:${one}/ (Redis bus at redis://127.0.0.1:${redis})`,
      );
      expect(out).toContain(
        `listening on http://localhost:${two}/ (Redis bus at redis://127.0.0.1:${redis})`,
      );
      // the long-poll held through nginx got the message published on the other process
      expect(out).toMatch(new RegExp(`"data":\\{"text":"via ${two}"\\}\\}\\],"cursor"`));
      expect(out).toMatch(/data: \{"id":"[^"]+","channel":"room:lobby","data":\{"text":"via/); // SSE via nginx
    } finally {
      // What a failed script left running (when it passes it stops everything itself).
      for (const name of ['node-1.pid', 'node-2.pid', 'redis.pid', 'nginx/nginx.pid']) {
        const file = join(root, state, name);
        if (code === 0 || !existsSync(file)) continue;
        try {
          process.kill(Number(readFileSync(file, 'utf8')), 'SIGKILL');
        } catch {}
      }
      rmSync(join(root, state), { recursive: true, force: true });
    }
  }, 240_000);
});
