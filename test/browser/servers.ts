/**
 * Servers for the cross-origin, fallback, restart and demo-page browser tests: the
 * real demo app in-process, a tiny page server on another port, a loopback test
 * proxy (refusing upgrades, buffering responses), and the demo server as a child
 * process (`examples/chat/server.ts`) that a test can SIGKILL and restart.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { createChatApp } from '../../examples/chat/app.js';
import { type Bus, type CorsOptions, createMemoryBus } from '../../index.js';
import { serveClient } from '../../middleware/client-assets.js';
import type { CometMiddleware } from '../../middleware/comet.js';
import { closeServer, listen, testPageRoute } from './harness.js';

/** A running server and how to stop it. */
export interface Running {
  readonly base: string;
  stop(): Promise<void>;
}

/** The demo app (`createChatApp`) on 127.0.0.1, port 0, with the test page mounted. */
export async function startDemoApp(
  options: { bus?: Bus; cors?: CorsOptions } = {},
): Promise<Running & { server: Server; push: CometMiddleware }> {
  const bus = options.bus ?? createMemoryBus();
  const { app, push } = createChatApp({ bus, ...(options.cors ? { cors: options.cors } : {}) });
  app.use(testPageRoute());
  const { server, base } = await listen(app);
  push.attach(server, app);
  return {
    base,
    server,
    push,
    async stop() {
      await push.close();
      await bus.close();
    },
  };
}

/** A page server on its own port: the test page and the client bundles, nothing else. */
export function startPageServer(): Promise<Running> {
  return startTestApp();
}

/** The test page, the client bundles and then `routes`, on 127.0.0.1 port 0. */
export async function startTestApp(
  ...routes: Koa.Middleware[]
): Promise<Running & { server: Server }> {
  const app = new Koa();
  app.use(serveClient());
  app.use(testPageRoute());
  for (const route of routes) app.use(route);
  const { server, base } = await listen(app);
  return { base, server, stop: () => closeServer(server) };
}

/** What the test proxy does to traffic. */
export interface ProxyMode {
  /** Destroy every upgrade request (a proxy without WebSocket support). */
  refuseUpgrades?: boolean;
  /** Forward headers at once but hold every body until the upstream response ends. */
  bufferBodies?: boolean;
}

/**
 * A loopback HTTP proxy in front of `target`: forwards requests unchanged (the Host
 * header too, so the page's origin is the proxy's), and tunnels upgrades unless told
 * to refuse them. With `bufferBodies` it behaves like a buffering reverse proxy: a
 * long-poll answer arrives whole when it ends, a stream never delivers a byte.
 */
export async function startProxy(target: string, mode: ProxyMode): Promise<Running> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        if (!mode.bufferBodies) return void answer.pipe(res);
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => res.end(Buffer.concat(chunks)));
      },
    );
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) out.setHeader(name, value);
    }
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  server.on('upgrade', (req, socket, head) => {
    if (mode.refuseUpgrades) return void socket.destroy();
    const out = request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    });
    out.on('upgrade', (answer, upSocket, upHead) => {
      const lines = Object.entries(answer.headers).map(([k, v]) => `${k}: ${String(v)}`);
      socket.write(`HTTP/1.1 101 Switching Protocols\r\n${lines.join('\r\n')}\r\n\r\n`);
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.pipe(socket).pipe(upSocket);
      socket.on('error', () => upSocket.destroy());
      upSocket.on('error', () => socket.destroy());
    });
    out.on('error', () => socket.destroy());
    out.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, stop: () => closeServer(server) };
}

/** A free loopback port (listen on 0, close). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `examples/chat/server.ts` in a child process on `port` (tsx loaded in the same node
 * process, so the pid is the server's own), resolved once it prints "listening".
 */
export async function startDemoChild(
  port: number,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/chat/server.ts'], {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`demo child did not start:\n${output}`)), 20_000);
    child.stdout?.on('data', () => {
      if (!output.includes('listening on')) return;
      clearTimeout(timer);
      ready();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`demo child exited (${code}):\n${output}`));
    });
  });
  return child;
}

/** SIGKILLs a child by its pid and waits for it to be gone. */
export async function killChild(child: ChildProcess | undefined): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(child.pid, 'SIGKILL');
  await exited;
}

/** The room's head cursor (poll route): where "from now" starts. */
export async function head(base: string, room: string): Promise<string> {
  const res = await fetch(`${base}/rooms/${room}/unread`);
  return ((await res.json()) as { cursor: string }).cursor;
}

/** Publishes `{n}` for n = from … from+count-1 through the demo's POST route; returns ids. */
export async function publish(
  base: string,
  room: string,
  count: number,
  from = 1,
): Promise<string[]> {
  const ids: string[] = [];
  for (let n = from; n < from + count; n += 1) {
    const res = await fetch(`${base}/rooms/${room}/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ n }),
    });
    if (res.status !== 201) throw new Error(`publish ${n}: HTTP ${res.status}`);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}
