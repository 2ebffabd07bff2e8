/**
 * A hand-written one-room server for browser tests of the client's own logic:
 * a long-poll/JSONP route that replays the message at the cursor (at-least-once)
 * and can fail one request, and a stream route (SSE, or NDJSON with
 * `?transport=ndjson`) that can end itself every few messages (a byte budget) or
 * hold everything back after the headers (a buffering proxy); iframe and WebSocket
 * framing too.
 */
import type { Server } from 'node:http';
import type Koa from 'koa';
import { WebSocketServer } from 'ws';

/** How the fake stream route behaves. */
export interface StreamBehaviour {
  /** End each stream after this many messages (default: never). */
  endAfter?: number;
  /** Send the headers, then nothing at all: a buffering proxy. */
  buffered?: boolean;
}

export interface Envelope {
  id: string;
  channel: string;
  data: unknown;
}

/** A one-room long-poll route by hand, with the faults the test wants. */
export function createRoom(failRequest = 0, stream: StreamBehaviour = {}) {
  const messages: Envelope[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;
  let markFailed = () => {};
  /** Settles once the failing request has been answered with its 503. */
  const failed = new Promise<void>((resolve) => {
    markFailed = resolve;
  });
  const publish = (data: unknown) => {
    messages.push({ id: String(messages.length + 1), channel: 'room:lobby', data });
    for (const wake of waiters) wake();
  };
  const route: Koa.Middleware = async (ctx, next) => {
    if (ctx.path !== '/rooms/lobby/messages') return next();
    requests += 1;
    if (requests === failRequest) {
      ctx.status = 503;
      ctx.body = { error: { code: 'TEST_UNAVAILABLE', message: 'try again' } };
      markFailed();
      return;
    }
    const raw = ctx.query.cursor;
    const after = raw === undefined ? messages.length : raw === 'earliest' ? 0 : Number(raw);
    const timeoutMs = Number(ctx.query.timeout ?? 25) * 1000;
    if (messages.length <= after && timeoutMs > 0) {
      await new Promise<void>((resume) => {
        const wake = () => {
          waiters.delete(wake);
          clearTimeout(timer);
          resume();
        };
        const timer = setTimeout(wake, timeoutMs);
        waiters.add(wake);
        ctx.req.once('close', wake);
      });
    }
    // Replays the message at the cursor: the client must drop it as a duplicate.
    const batch = {
      messages: messages.slice(Math.max(0, after - 1)),
      cursor: String(Math.max(after, messages.length)),
      gap: false,
    };
    ctx.set('Cache-Control', 'no-store, no-transform');
    const callback = ctx.query.callback;
    if (typeof callback === 'string') {
      ctx.type = 'application/javascript';
      ctx.set('X-Content-Type-Options', 'nosniff');
      ctx.body = `/**/${callback}(${JSON.stringify(batch)});`;
    } else {
      ctx.body = batch;
    }
  };
  return {
    publish,
    route,
    messages,
    waiters,
    failed,
    live: liveRoute({ messages, waiters }, stream),
  };
}

/** Where a stream starts: the cursor (replaying the message at it, as an at-least-once server may). */
function startOf(raw: string | undefined, messages: Envelope[]): number {
  const after =
    raw === undefined || raw === '' ? messages.length : raw === 'earliest' ? 0 : Number(raw);
  return Math.max(0, after - 1);
}

/**
 * Writes every message from `start` on with `write`, live, and calls `end` after
 * `endAfter` of them; returns the unfollow function.
 */
function follow(
  room: { messages: Envelope[]; waiters: Set<() => void> },
  start: number,
  endAfter: number | undefined,
  write: (m: Envelope) => void,
  end: () => void,
): () => void {
  let sent = start;
  let count = 0;
  const flush = () => {
    while (sent < room.messages.length && count !== endAfter) {
      write(room.messages[sent++]!);
      count += 1;
      if (count === endAfter) end();
    }
  };
  room.waiters.add(flush);
  flush();
  return () => room.waiters.delete(flush);
}

/** Frames one envelope for a stream transport. */
function frame(transport: string, m: Envelope, callback: string): string {
  const json = JSON.stringify(m);
  if (transport === 'ndjson') return `${json}\n`;
  if (transport === 'iframe')
    return `<script>parent.${callback}(${json.replaceAll('<', '\\u003c')})</script>\n`;
  return `id: ${m.id}\ndata: ${json}\n\n`;
}

const contentTypes: Record<string, string> = {
  ndjson: 'application/x-ndjson',
  iframe: 'text/html; charset=utf-8',
  sse: 'text/event-stream',
};

/**
 * The stream route `/rooms/lobby/live`: SSE by default, `?transport=ndjson`, or
 * `?transport=iframe&callback=NAME`.
 */
function liveRoute(
  room: { messages: Envelope[]; waiters: Set<() => void> },
  behaviour: StreamBehaviour,
): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path !== '/rooms/lobby/live') return next();
    const transport = String(ctx.query.transport ?? 'sse');
    const callback = String(ctx.query.callback ?? '');
    const raw = ctx.get('Last-Event-ID') || (ctx.query.cursor as string | undefined);
    ctx.respond = false;
    const res = ctx.res;
    res.writeHead(200, {
      'Content-Type': contentTypes[transport] ?? 'text/event-stream',
      'Cache-Control': 'no-store, no-transform',
    });
    res.flushHeaders();
    if (behaviour.buffered) return;
    // The forever frame needs padding before browsers start running its scripts.
    if (transport === 'iframe') res.write(`<!doctype html><body>${' '.repeat(1024)}\n`);
    const unfollow = follow(
      room,
      startOf(raw, room.messages),
      behaviour.endAfter,
      (m) => res.write(frame(transport, m, callback)),
      () => res.end(),
    );
    res.once('close', unfollow);
  };
}

/** WebSocket upgrades on `/rooms/lobby/live`: one envelope per text frame, `?cursor=`. */
export function attachWebSocket(
  server: Server,
  room: { messages: Envelope[]; waiters: Set<() => void> },
  behaviour: StreamBehaviour,
): void {
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/rooms/lobby/live') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const start = startOf(url.searchParams.get('cursor') ?? undefined, room.messages);
      const unfollow = follow(
        room,
        start,
        behaviour.endAfter,
        (m) => ws.send(JSON.stringify(m)),
        () => ws.close(1000),
      );
      ws.once('close', unfollow);
    });
  });
  server.once('close', () => wss.close());
}
