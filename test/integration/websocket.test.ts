/**
 * The WebSocket transport on a raw node:http server's `upgrade` event, with
 * `ws` as the client: frames, resume, gap, Origin refusal, oversize close,
 * dead-peer and slow-reader handling.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Message } from '../../lib/bus/bus.js';
import { createMemoryBus, type MemoryBus } from '../../lib/bus/memory.js';
import type { StreamEndReason } from '../../lib/stream/connection.js';
import { createStreamSession, type StreamSessionOptions } from '../../lib/stream/session.js';
import {
  createWebSocketConnection,
  createWebSocketServer,
  handleWebSocketUpgrade,
} from '../../lib/stream/websocket.js';
import { createTimerWheel, type TimerWheel } from '../../lib/suspend/timer-wheel.js';
import { encodeWebSocketFrame, encodeWebSocketReset } from '../../lib/wire/websocket.js';
import { HOSTILE_PAYLOADS } from '../fixtures/hostile-payloads.js';
import { until } from './stream-harness.js';

const CHANNEL = 'room:ws';

interface WsHarness {
  url: string;
  server: Server;
  bus: MemoryBus;
  wheel: TimerWheel;
  ends: StreamEndReason[];
  encodes: number;
}

let h: WsHarness | undefined;
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  if (h) {
    h.server.closeAllConnections();
    h.server.close();
    h.wheel.close();
    await h.bus.close();
  }
  h = undefined;
});

async function start(session: Partial<StreamSessionOptions> = {}): Promise<WsHarness> {
  const bus = createMemoryBus({ epoch: 'w1' });
  const wheel = createTimerWheel();
  const wss = createWebSocketServer();
  const ends: StreamEndReason[] = [];
  const frames = new Map<string, Buffer>();
  const harness: WsHarness = { url: '', server: createServer(), bus, wheel, ends, encodes: 0 };
  const frame = (m: Message): Buffer => {
    let bytes = frames.get(m.id);
    if (bytes === undefined) {
      bytes = encodeWebSocketFrame(m);
      frames.set(m.id, bytes);
      harness.encodes++;
    }
    return bytes;
  };
  const onConnection = async (ws: WebSocket, req: IncomingMessage): Promise<void> => {
    const cursor = new URL(req.url ?? '/', 'http://x').searchParams.get('cursor');
    const pending: Message[] = [];
    let live = false;
    const off = bus.subscribe(CHANNEL, (m) => {
      if (live) s.send(frame(m));
      else pending.push(m);
    });
    const s = createStreamSession(createWebSocketConnection(ws), {
      wheel,
      ...session,
      onEnd: (reason) => {
        off();
        ends.push(reason);
      },
    });
    const seen = new Set<string>();
    if (cursor !== null) {
      const read = await bus.read(CHANNEL, cursor);
      if (read.gap) s.send(encodeWebSocketReset(read.cursor));
      for (const m of read.messages) {
        seen.add(m.id);
        s.send(frame(m));
      }
    }
    for (const m of pending) if (!seen.has(m.id)) s.send(frame(m));
    live = true;
  };
  harness.server.on('upgrade', (req, socket, head) => {
    handleWebSocketUpgrade(wss, req, socket, head, {
      allowOrigins: ['https://allowed.example'],
      onConnection: (ws, r) => void onConnection(ws, r),
    });
  });
  harness.server.listen(0, '127.0.0.1');
  await once(harness.server, 'listening');
  harness.url = `ws://127.0.0.1:${(harness.server.address() as AddressInfo).port}/live`;
  h = harness;
  return harness;
}

function connect(url: string, options?: ConstructorParameters<typeof WebSocket>[2]): WebSocket {
  const ws = new WebSocket(url, options);
  // Refused or terminated handshakes emit 'error'; the tests assert on close codes instead.
  ws.on('error', () => {});
  clients.push(ws);
  return ws;
}

function collect(ws: WebSocket): { text: string; binary: boolean }[] {
  const got: { text: string; binary: boolean }[] = [];
  ws.on('message', (data, isBinary) => got.push({ text: String(data), binary: isBinary }));
  return got;
}

describe('WebSocket frames', () => {
  it('sends each hostile payload as one text frame, encoded once for all sockets', async () => {
    const s = await start();
    const a = connect(s.url);
    const b = connect(s.url);
    const gotA = collect(a);
    const gotB = collect(b);
    await Promise.all([once(a, 'open'), once(b, 'open')]);
    await until(() => s.bus.subscriberCount(CHANNEL) === 2);
    const ids: string[] = [];
    for (const data of HOSTILE_PAYLOADS) ids.push((await s.bus.publish(CHANNEL, data)).id);
    await until(() => gotA.length === ids.length && gotB.length === ids.length);
    const expected = HOSTILE_PAYLOADS.map((data, i) =>
      JSON.stringify({ id: ids[i], channel: CHANNEL, data }),
    );
    expect(gotA.map((f) => f.text)).toEqual(expected);
    expect(gotB.map((f) => f.text)).toEqual(expected);
    expect(gotA.every((f) => !f.binary)).toBe(true);
    expect(s.encodes).toBe(ids.length);
  });

  it('resumes with ?cursor= exactly once, in order, then follows live', async () => {
    const s = await start();
    const first = await s.bus.publish(CHANNEL, 0);
    await s.bus.publish(CHANNEL, 1);
    await s.bus.publish(CHANNEL, 2);
    const ws = connect(`${s.url}?cursor=${first.id}`);
    const got = collect(ws);
    await once(ws, 'open');
    await until(() => got.length === 2);
    await s.bus.publish(CHANNEL, 3);
    await until(() => got.length === 3);
    expect(got.map((f) => JSON.parse(f.text).data)).toEqual([1, 2, 3]);
  });

  it('sends the gap control frame first for a cursor from another epoch', async () => {
    const s = await start();
    await s.bus.publish(CHANNEL, 'x');
    const ws = connect(`${s.url}?cursor=zz-4`);
    const got = collect(ws);
    await until(() => got.length === 1);
    expect(JSON.parse(got[0]!.text)).toEqual({ gap: true, cursor: 'w1-1' });
  });
});

describe('WebSocket Origin', () => {
  it('refuses a foreign Origin with a 403 JSON answer and no handshake', async () => {
    const s = await start();
    const ws = connect(s.url, { origin: 'https://evil.example' });
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({
      error: { code: 'COMET_ERR_ORIGIN_FORBIDDEN', message: 'Origin not allowed' },
    });
    expect(s.bus.subscriberCount(CHANNEL)).toBe(0);
  });

  it.each([
    ['no Origin', undefined],
    ['an allowed Origin', 'https://allowed.example'],
    ['the page’s own origin', 'SELF'],
  ])('accepts %s', async (_, origin) => {
    const s = await start();
    const self = s.url.replace('ws:', 'http:').replace('/live', '');
    const ws = connect(s.url, origin ? { origin: origin === 'SELF' ? self : origin } : {});
    await once(ws, 'open');
  });
});

describe('WebSocket limits', () => {
  it('closes with 1009 when a client sends a frame over 64 KiB', async () => {
    const s = await start();
    const ws = connect(s.url);
    await once(ws, 'open');
    ws.send('x'.repeat(64 * 1024 + 1));
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(1009);
    await until(() => s.ends.length === 1);
    expect(s.ends).toEqual(['disconnect']);
    expect(s.bus.subscriberCount(CHANNEL)).toBe(0);
  });

  it('accepts a frame of exactly 64 KiB', async () => {
    const s = await start({ heartbeatMs: 20 });
    const ws = connect(s.url);
    await once(ws, 'open');
    ws.send('x'.repeat(64 * 1024));
    // The server reads frames in order: its pong to a ping sent after the big
    // frame shows it took that frame (a refused one closes with 1009 first).
    ws.ping();
    await once(ws, 'pong');
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it('terminates a peer that stops answering pings', async () => {
    const s = await start({ heartbeatMs: 20 });
    const ws = connect(s.url);
    await once(ws, 'open');
    // The client stops reading, so it never sees a ping nor answers with a pong.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await until(() => s.ends.length === 1);
    expect(s.ends).toEqual(['disconnect']);
    expect(s.wheel.size).toBe(0);
  });

  it('closes with 4000 "lifetime" at the end of its lifetime (1001 is for shutdown only)', async () => {
    // Long enough that the close frame never races the handshake on a loaded machine.
    const s = await start({ maxLifetimeMs: 300 });
    const ws = connect(s.url);
    const closed = once(ws, 'close');
    await once(ws, 'open');
    const [code, reason] = (await closed) as [number, Buffer];
    expect([code, String(reason)]).toEqual([4000, 'lifetime']);
    expect(s.ends).toEqual(['lifetime']);
  });

  it('drops a reader with more than 1 MiB queued', async () => {
    const s = await start();
    const ws = connect(s.url);
    await once(ws, 'open');
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = 'y'.repeat(60 * 1024);
    for (let i = 0; i < 2000 && !s.ends.includes('slow'); i++) {
      await s.bus.publish(CHANNEL, big);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(s.ends).toEqual(['slow']);
    expect(s.bus.subscriberCount(CHANNEL)).toBe(0);
  });
});
