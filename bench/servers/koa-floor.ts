/**
 * Koa's own floor for long-poll (`npm run bench -- churn --koa-floor`): the
 * raw server's exact logic (raw-longpoll.ts, copied verbatim) run as a
 * `@koa/router` route that hands `req`/`res` over (`ctx.respond = false`).
 * No framework code at all — what any Koa long-poll route costs before it
 * does anything, so a reader can tell Koa's share from koa-comet's.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import { attachControl } from '../lib/control.js';
import { readBody, roomOf, splitUrl } from '../lib/room-path.js';

// The framework's defaults: memory bus history 1000, long-poll maxBatch 100.
const HISTORY = 1000;
const MAX_BATCH = 100;
const BODY_LIMIT = 65_536;

interface Waiter {
  readonly res: ServerResponse;
  readonly deadline: number;
}

interface Room {
  readonly channel: string;
  /** Id (as a number) of the newest message; 0 before the first. */
  head: number;
  /** Encoded envelopes; message `n` lives at `n % HISTORY`. */
  readonly ring: string[];
  waiters: Set<Waiter>;
}

const rooms = new Map<string, Room>();

function roomFor(name: string): Room {
  let room = rooms.get(name);
  if (!room) {
    room = { channel: `room:${name}`, head: 0, ring: new Array(HISTORY), waiters: new Set() };
    rooms.set(name, room);
  }
  return room;
}

function send(res: ServerResponse, status: number, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store, no-transform',
  });
  res.end(body);
}

function batch(envelopes: string, cursor: number, gap: boolean): string {
  return `{"messages":[${envelopes}],"cursor":"${cursor}","gap":${gap}}`;
}

function answerFrom(room: Room, res: ServerResponse, after: number) {
  const oldest = Math.max(1, room.head - HISTORY + 1);
  if (after < oldest - 1) return send(res, 200, batch('', room.head, true));
  const last = Math.min(room.head, after + MAX_BATCH);
  const parts: string[] = [];
  for (let n = after + 1; n <= last; n++) parts.push(room.ring[n % HISTORY]!);
  send(res, 200, batch(parts.join(','), last, false));
}

function park(room: Room, res: ServerResponse, timeout: number) {
  if (timeout === 0) return send(res, 200, batch('', room.head, false));
  const waiter: Waiter = { res, deadline: Date.now() + timeout * 1000 };
  room.waiters.add(waiter);
  res.on('close', () => room.waiters.delete(waiter));
}

function longpoll(req: IncomingMessage, res: ServerResponse, room: Room) {
  const { query } = splitUrl(req.url ?? '/');
  const t = query.get('timeout') ?? '25';
  const timeout = /^\d{1,2}$/.test(t) ? Number(t) : -1;
  if (timeout < 0 || timeout > 60) return send(res, 400, '{"error":{"code":"timeout"}}');
  const cursor = query.get('cursor');
  if (cursor === null) return park(room, res, timeout);
  const after = cursor === 'earliest' ? Math.max(0, room.head - HISTORY) : Number(cursor);
  if (!/^\d+$/.test(cursor) && cursor !== 'earliest') {
    return send(res, 400, '{"error":{"code":"cursor"}}');
  }
  if (after > room.head) return send(res, 400, '{"error":{"code":"cursor"}}');
  if (after < room.head) return answerFrom(room, res, after);
  park(room, res, timeout);
}

function publish(room: Room, data: unknown): number {
  const id = ++room.head;
  const envelope = JSON.stringify({ id: String(id), channel: room.channel, data });
  room.ring[id % HISTORY] = envelope;
  if (room.waiters.size > 0) {
    // Every waiter's cursor is the previous head: one body fits them all.
    const body = Buffer.from(batch(envelope, id, false));
    const waiters = room.waiters;
    room.waiters = new Set();
    for (const w of waiters) send(w.res, 200, body);
  }
  return id;
}

async function post(req: IncomingMessage, res: ServerResponse, room: Room): Promise<void> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    return send(res, 415, '{"error":{"code":"type"}}');
  }
  const body = await readBody(req, BODY_LIMIT);
  if (body === undefined) return send(res, 413, '{"error":{"code":"size"}}');
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    return send(res, 400, '{"error":{"code":"json"}}');
  }
  send(res, 200, `{"id":"${publish(room, data)}"}`);
}

function sweep(): void {
  const now = Date.now();
  for (const room of rooms.values()) {
    for (const w of room.waiters) {
      if (w.deadline > now) continue;
      room.waiters.delete(w);
      send(w.res, 200, batch('', room.head, false));
    }
  }
}

const handler = (req: IncomingMessage, res: ServerResponse) => {
  const { path } = splitUrl(req.url ?? '/');
  const name = roomOf(path, 'messages');
  if (name === undefined) return send(res, 404, '{"error":{"code":"route"}}');
  const room = roomFor(name);
  if (req.method === 'GET') return longpoll(req, res, room);
  if (req.method === 'POST') return void post(req, res, room);
  send(res, 405, '{"error":{"code":"method"}}');
};
const app = new Koa();
const router = new Router();
const viaKoa = (ctx: Koa.Context) => {
  ctx.respond = false;
  handler(ctx.req, ctx.res);
};
router.get('/rooms/:room/messages', viaKoa);
router.post('/rooms/:room/messages', viaKoa);
app.use(async (_ctx, next) => {
  await next();
});
app.use(router.routes());
const server = createServer(app.callback());
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;
setInterval(sweep, 1000).unref();
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
attachControl(server, { longpoll: true, stream: false });
