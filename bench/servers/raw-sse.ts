/**
 * The floor for fan-out streaming: a hand-written `node:http` SSE server.
 * `GET /rooms/:room/live` opens an event stream (flushed at once with a
 * comment); `POST /rooms/:room/messages` encodes the SSE frame ONCE and
 * writes the same Buffer to every open response on the room.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { serveBench } from '../lib/control.js';
import { readJsonPost, roomOf, send, splitUrl } from '../lib/room-path.js';

const BODY_LIMIT = 65_536;
const HEARTBEAT_MS = 25_000;
const HEARTBEAT = Buffer.from(':\n\n');

interface Room {
  readonly channel: string;
  head: number;
  readonly subscribers: Set<ServerResponse>;
}

const rooms = new Map<string, Room>();

function roomFor(name: string): Room {
  let room = rooms.get(name);
  if (!room) {
    room = { channel: `room:${name}`, head: 0, subscribers: new Set() };
    rooms.set(name, room);
  }
  return room;
}

function live(res: ServerResponse, room: Room): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store, no-transform',
    'x-accel-buffering': 'no',
  });
  res.write(':ok\n\n');
  room.subscribers.add(res);
  res.on('close', () => room.subscribers.delete(res));
}

async function post(req: IncomingMessage, res: ServerResponse, room: Room): Promise<void> {
  const body = await readJsonPost(req, res, BODY_LIMIT);
  if (body === undefined) return;
  const data = body.data;
  const id = String(++room.head);
  const envelope = JSON.stringify({ id, channel: room.channel, data });
  const frame = Buffer.from(`id: ${id}\ndata: ${envelope}\n\n`);
  for (const sub of room.subscribers) sub.write(frame);
  send(res, 200, `{"id":"${id}"}`);
}

const server = createServer((req, res) => {
  const { path } = splitUrl(req.url ?? '/');
  if (req.method === 'GET') {
    const name = roomOf(path, 'live');
    if (name !== undefined) return live(res, roomFor(name));
  } else if (req.method === 'POST') {
    const name = roomOf(path, 'messages');
    if (name !== undefined) return void post(req, res, roomFor(name));
  }
  send(res, 404, '{"error":{"code":"route"}}');
});
setInterval(() => {
  for (const room of rooms.values()) for (const sub of room.subscribers) sub.write(HEARTBEAT);
}, HEARTBEAT_MS).unref();
serveBench(server, { longpoll: false, stream: true });
