/**
 * The demo process (`examples/chat/server.ts`) as `npm start` runs it: with
 * `HTTPS=1` it serves HTTP/2 and HTTP/1.1 over TLS on the one PORT and
 * closes its sessions with GOAWAY on SIGTERM; on plain HTTP it answers the
 * Flash socket policy request on its own port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as connectH2 } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, rawExchange } from './helpers/server.js';

const children = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  children.clear();
  await closeAll();
});

/** Starts the demo with `env`; resolves with its base URL once it listens. */
async function startDemo(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; base: string }> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/chat/server.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const match = /listening on (https?):\/\/localhost:(\d+)\//.exec(out);
      if (match) resolve(`${match[1]}://127.0.0.1:${match[2]}`);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
  });
  return { child, base };
}

describe('the demo process', () => {
  it('HTTPS=1 serves HTTP/2 and HTTP/1.1 on one port, and sends GOAWAY on SIGTERM', async () => {
    const { child, base } = await startDemo({ HTTPS: '1' });
    expect(base).toMatch(/^https:/);
    const session = connectH2(base, { rejectUnauthorized: false });
    session.on('error', () => {});
    const goaway = new Promise<number>((resolve) =>
      session.once('goaway', (c: number) => resolve(c)),
    );
    const stream = session.request({ ':path': '/health' });
    stream.setEncoding('utf8');
    let body = '';
    stream.on('data', (c: string) => {
      body += c;
    });
    const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
    await once(stream, 'end');
    expect(headers[':status']).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ ok: true });
    expect(session.alpnProtocol).toBe('h2');

    const h1 = await new Promise<{ status: number; version: string }>((resolve, reject) => {
      const req = httpsRequest(`${base}/health`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, version: res.httpVersion });
      });
      req.on('error', reject);
      req.end();
    });
    expect(h1).toEqual({ status: 200, version: '1.1' });

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect(await goaway).toBe(0);
    expect((await exited)[0]).toBe(0);
    session.destroy();
  });

  it('on plain HTTP answers the Flash policy request for localhost on its own port', async () => {
    const { base } = await startDemo({});
    const port = Number(new URL(base).port);
    const policy = await rawExchange(port, '<policy-file-request/>\0');
    expect(policy).toContain(`<allow-access-from domain="localhost" to-ports="${port}"/>`);
    expect(policy.endsWith('</cross-domain-policy>\n\0')).toBe(true);
    expect(policy).not.toContain('domain="*"');
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});
