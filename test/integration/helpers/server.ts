/**
 * Shared set-up for the integration tests: a real Koa server on
 * 127.0.0.1 port 0 with a fresh memory bus, and a registry of everything a
 * test opened (servers, raw sockets, agents) so `afterEach` closes it all.
 */
import { once } from 'node:events';
import { Agent, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type Koa from 'koa';
import { expect } from 'vitest';
import { createMemoryBus, type MemoryBus, type Message } from '../../../index.js';
import type { CometMiddleware } from '../../../middleware/comet.js';
import type { CorsOptions } from '../../../middleware/cors.js';
import { createTestApp } from './app.js';

/** A running server and its handles. */
export interface Running {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly base: string;
  readonly port: number;
  readonly server: Server;
  readonly bus: MemoryBus;
  readonly push: CometMiddleware;
  /** Graceful `push.close()` plus cutting whatever is left; idempotent. */
  close(): Promise<void>;
}

/** Everything opened by the current test; {@link closeAll} in `afterEach`. */
const open = { running: new Set<Running>(), sockets: new Set<Socket>(), agents: new Set<Agent>() };

/** Closes every server, socket and agent opened since the last call. */
export async function closeAll(): Promise<void> {
  for (const socket of open.sockets) socket.destroy();
  for (const agent of open.agents) agent.destroy();
  const running = [...open.running];
  open.sockets.clear();
  open.agents.clear();
  open.running.clear();
  await Promise.all(running.map((r) => r.close()));
}

/**
 * Listens on 127.0.0.1:0 and ties `push` to the server (unless `attach` is
 * false: then `push.close()` leaves the server open, as when an app closes
 * its comet routes but keeps serving).
 */
export async function listen(
  app: Koa,
  push: CometMiddleware,
  bus: MemoryBus,
  attach = true,
): Promise<Running> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  if (attach) push.attach(server, app);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let closing: Promise<void> | undefined;
  const running: Running = {
    base: `http://127.0.0.1:${port}`,
    port,
    server,
    bus,
    push,
    close() {
      closing ??= (async () => {
        const done = push.close();
        // Tests do not wait out the shutdown grace for keep-alive sockets.
        server.closeAllConnections();
        await done;
        if (server.listening) await new Promise((r) => server.close(r));
        await bus.close();
      })();
      return closing;
    },
  };
  open.running.add(running);
  return running;
}

/** The channel linger (ms) of the servers these helpers start. */
export const LINGER_MS = 50;

/**
 * Whether {@link startChat} answers the decorated routes by direct dispatch
 * (`comet({ direct: true })`). The `direct` test project (vitest.config.ts)
 * runs the batch-route test files again with `COMET_DIRECT=1`.
 */
export const DIRECT = process.env['COMET_DIRECT'] === '1';

/**
 * Starts the test app (./app.ts: the demo chat's routes, built for the tests)
 * with a fresh memory bus.
 */
export async function startChat(
  options: { cors?: CorsOptions; bus?: MemoryBus; channelLinger?: number } = {},
) {
  const bus = options.bus ?? createMemoryBus();
  // A short linger, so tests see bus subscriptions released without waiting 10 s.
  const { app, push } = createTestApp({
    bus,
    channelLinger: options.channelLinger ?? LINGER_MS,
    direct: DIRECT,
    ...(options.cors ? { cors: options.cors } : {}),
  });
  return listen(app, push, bus);
}

/** Publishes to a room over HTTP, as a client would; returns the new id. */
export async function post(base: string, room: string, data: unknown): Promise<string> {
  const res = await fetch(`${base}/rooms/${room}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** Publishes to a room straight on the bus. */
export function publish(bus: MemoryBus, room: string, data: unknown): Promise<Message> {
  return bus.publish(`room:${room}`, data);
}

/** Polls `check` every few ms until it is true; fails after `withinMs`. */
export async function until(
  check: () => boolean,
  withinMs = 2000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits until `push` holds `n` requests (so a long-poll really parked). */
export function held(running: Running, n: number, withinMs = 2000): Promise<void> {
  return until(() => running.push.stats().held === n, withinMs, `${n} held`);
}

/** An http.Agent for many concurrent requests, destroyed by {@link closeAll}. */
export function agent(maxSockets: number): Agent {
  const a = new Agent({ keepAlive: false, maxSockets });
  open.agents.add(a);
  return a;
}

/** A raw TCP connection to the server, destroyed by {@link closeAll}. */
export async function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  open.sockets.add(socket);
  await once(socket, 'connect');
  return socket;
}

/** Sends a raw request and resolves with every byte until the server closes. */
export async function rawExchange(port: number, request: string): Promise<string> {
  const socket = await rawSocket(port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(request);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('utf8');
}

/** A batch answer of poll / long-poll. */
export interface BatchBody {
  messages: { id: string; channel: string; data: unknown }[];
  cursor: string;
  gap: boolean;
}

/** GETs `path` and parses the JSON body. */
export async function getJson<T = BatchBody>(
  base: string,
  path: string,
  init?: RequestInit,
): Promise<{ res: Response; body: T }> {
  const res = await fetch(base + path, init);
  return { res, body: (await res.json()) as T };
}

/** Asserts a coded JSON error response. */
export async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
}
