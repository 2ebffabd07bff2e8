/**
 * A real buffering nginx for browser tests: Debian's `nginx-light`, started on a
 * loopback spare port with its own temporary prefix, configuration and pid file, in
 * front of a test server, and stopped by its pid.
 *
 * The configuration is what a buffering corporate proxy or CDN does: it buffers every
 * response and ignores the `X-Accel-Buffering: no` a stream asks for, so a stream's
 * headers and bytes are held until the response ends (a stream never does).
 *
 * Missing nginx: outside CI the suite is skipped with a loud warning; under `CI=true`
 * it fails (`.ci/run` installs `nginx-light` when missing).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { whenMet } from '../helpers/requirement.js';
import { freePort, type Running } from './servers.js';

/** Where Debian's `apt-get install nginx-light` puts nginx. */
export const nginxPath = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

/** The buffering reverse proxy's configuration for `upstream` on `port`. */
function bufferingConfig(prefix: string, port: number, upstream: URL): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `  ${kind}_temp_path ${join(prefix, kind)};`)
    .join('\n');
  return `worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
${temp}
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://${upstream.host};
      proxy_set_header Host $http_host;
      proxy_buffering on;
      proxy_ignore_headers X-Accel-Buffering;
      proxy_read_timeout 120s;
    }
  }
}
`;
}

/**
 * Starts nginx (in the foreground, so the child's pid is the master's) as a buffering
 * proxy in front of `target`; resolves once it accepts connections.
 */
export async function startBufferingNginx(target: string): Promise<Running> {
  const prefix = mkdtempSync(join(tmpdir(), 'koa-comet-nginx-'));
  const port = await freePort();
  const config = join(prefix, 'nginx.conf');
  writeFileSync(config, bufferingConfig(prefix, port, new URL(target)));
  const child = spawn(
    nginxPath,
    ['-p', prefix, '-c', config, '-e', join(prefix, 'error.log'), '-g', 'daemon off;'],
    { stdio: 'ignore' },
  );
  const stop = async () => {
    await stopByPid(child);
    rmSync(prefix, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, prefix);
  } catch (error) {
    await stop();
    throw error;
  }
  return { base: `http://127.0.0.1:${port}`, stop };
}

/** Sends SIGTERM (nginx's fast shutdown) to the master by pid; SIGKILL if it lingers. */
async function stopByPid(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

async function waitForPort(port: number, child: ChildProcess, prefix: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const up = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    }).catch(() => false);
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = existsSync(join(prefix, 'error.log'))
    ? readFileSync(join(prefix, 'error.log'), 'utf8')
    : '';
  throw new Error(`nginx did not start on ${port}:\n${log}`);
}

/**
 * Runs `suite` when nginx is installed; otherwise fails under CI and skips with a loud
 * warning elsewhere.
 */
export function whenNginx(name: string, suite: () => void): void {
  whenMet(
    {
      met: existsSync(nginxPath),
      tests: name,
      needs: `nginx at ${nginxPath}`,
      hint: 'Install it with `apt-get install -y nginx-light`',
    },
    suite,
  );
}
