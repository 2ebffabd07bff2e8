/**
 * A raw node:http server (no Koa) serving one channel through the stream
 * transports and the stream session, the way the hub will: subscribe
 * first, read the backlog after the cursor, then follow live messages, each
 * frame encoded once per (message, transport, variant) and shared.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Message } from '../../lib/bus/bus.js';
import { createMemoryBus, type MemoryBus } from '../../lib/bus/memory.js';
import type { StreamEndReason } from '../../lib/stream/connection.js';
import { createHttpConnection } from '../../lib/stream/http.js';
import {
  createStreamSession,
  type StreamSession,
  type StreamSessionOptions,
} from '../../lib/stream/session.js';
import { createTimerWheel, type TimerWheel } from '../../lib/suspend/timer-wheel.js';
import { iframeTransport, iframeVariant } from '../../lib/wire/iframe.js';
import { multipartTransport } from '../../lib/wire/multipart.js';
import { ndjsonTransport } from '../../lib/wire/ndjson.js';
import { sseTransport } from '../../lib/wire/sse.js';
import type { StreamTransport } from '../../lib/wire/stream-transport.js';

export const CHANNEL = 'room:test';

export interface HarnessOptions {
  session?: Partial<StreamSessionOptions>;
  transports?: Partial<Record<string, StreamTransport>>;
  bus?: MemoryBus;
  /** SSE `retry:` (default 50 ms, so eventsource reconnects fast). */
  retryMs?: number;
}

export interface Harness {
  readonly url: string;
  readonly server: Server;
  readonly bus: MemoryBus;
  readonly wheel: TimerWheel;
  /** Live sessions. */
  readonly sessions: Set<StreamSession>;
  /** Why each finished session ended, in order. */
  readonly ends: StreamEndReason[];
  /** How many times each (transport, variant, id) frame was encoded. */
  readonly encodes: Map<string, number>;
  publish(data: unknown): Promise<Message>;
  close(): Promise<void>;
}

/** Starts the harness on 127.0.0.1, port 0. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const bus = options.bus ?? createMemoryBus();
  const wheel = createTimerWheel();
  const transports: Record<string, StreamTransport | undefined> = {
    sse: sseTransport,
    ndjson: ndjsonTransport,
    multipart: multipartTransport,
    iframe: iframeTransport,
    ...options.transports,
  };
  const sessions = new Set<StreamSession>();
  const ends: StreamEndReason[] = [];
  const encodes = new Map<string, number>();
  // Encode once per (message, transport, variant): the shared frame cache.
  const frames = new Map<string, Buffer>();
  const frame = (t: StreamTransport, variant: string, m: Message): Buffer => {
    const key = `${t.name}|${variant}|${m.id}`;
    let bytes = frames.get(key);
    if (bytes === undefined) {
      bytes = t.encode(m, variant);
      frames.set(key, bytes);
      encodes.set(key, (encodes.get(key) ?? 0) + 1);
    }
    return bytes;
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const transport = transports[url.searchParams.get('transport') ?? 'sse'];
    if (transport === undefined) {
      res.writeHead(400).end();
      return;
    }
    // The iframe's postMessage form: `NAME ORIGIN` (no allow-list here; Koa's glue has it).
    const origin = url.searchParams.get('origin');
    const callback = url.searchParams.get('callback') ?? '';
    const variant = origin === null ? callback : iframeVariant(callback, origin);
    const lastEventId = req.headers['last-event-id'];
    const cursor = typeof lastEventId === 'string' ? lastEventId : url.searchParams.get('cursor');
    const writer = transport.open(res, { variant, retryMs: options.retryMs ?? 50 });
    const pending: Message[] = [];
    let live = false;
    const off = bus.subscribe(CHANNEL, (m) => {
      if (live) session.send(writer.wire(frame(transport, variant, m)));
      else pending.push(m);
    });
    const session = createStreamSession(createHttpConnection(res, writer), {
      wheel,
      ...options.session,
      onEnd: (reason) => {
        off();
        sessions.delete(session);
        ends.push(reason);
      },
    });
    sessions.add(session);
    if (cursor !== null) {
      const read = await bus.read(CHANNEL, cursor, 10_000);
      if (read.gap) session.send(writer.wire(transport.encodeReset(read.cursor, variant)));
      for (const m of read.messages) session.send(writer.wire(frame(transport, variant, m)));
      const seen = new Set(read.messages.map((m) => m.id));
      for (const m of pending)
        if (!seen.has(m.id)) session.send(writer.wire(frame(transport, variant, m)));
    } else {
      for (const m of pending) session.send(writer.wire(frame(transport, variant, m)));
    }
    live = true;
  }

  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/live`,
    server,
    bus,
    wheel,
    sessions,
    ends,
    encodes,
    publish: (data) => bus.publish(CHANNEL, data),
    async close() {
      for (const s of sessions) s.end();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      wheel.close();
      await bus.close();
    },
  };
}

/** Resolves when `check()` is true, polling every 5 ms (fails the test after `ms`). */
export async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
