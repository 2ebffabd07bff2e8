/**
 * The raw long-poll logic: what a hand-written `node:http` server does for the
 * framework's `@longpoll` route, as a careful engineer would write
 * it without a framework — ring-buffer history per room, waiters parked only
 * at the head, ONE encoded body per publish written to every waiter, one
 * shared sweep timer for timeouts instead of a timer per request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJsonPost, roomOf, send, splitUrl } from '../lib/room-path.js';

// The framework's defaults: memory bus history 1000 (the demo's HISTORY_LIMIT
// when set, as here), long-poll maxBatch 100.
const HISTORY = Number(process.env.HISTORY_LIMIT ?? 1000);
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
  const body = await readJsonPost(req, res, BODY_LIMIT);
  if (body !== undefined) send(res, 200, `{"id":"${publish(room, body.data)}"}`);
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

/** The whole raw long-poll server as one request handler (the Koa floor reuses it). */
export function handleRaw(req: IncomingMessage, res: ServerResponse): void {
  const { path } = splitUrl(req.url ?? '/');
  const name = roomOf(path, 'messages');
  if (name === undefined) send(res, 404, '{"error":{"code":"route"}}');
  else if (req.method === 'GET') longpoll(req, res, roomFor(name));
  else if (req.method === 'POST') void post(req, res, roomFor(name));
  else send(res, 405, '{"error":{"code":"method"}}');
}

/** Starts the shared timeout sweep (one timer for every waiter). */
export function startSweep(): void {
  setInterval(sweep, 1000).unref();
}
