/**
 * A hand-written one-room server for browser tests of the client's own logic:
 * a long-poll/JSONP route that replays the message at the cursor (at-least-once)
 * and can fail one request, and a stream route (SSE, or NDJSON with
 * `?transport=ndjson`) that can end itself every few messages (a byte budget) or
 * hold everything back after the headers (a buffering proxy).
 */
import type Koa from 'koa';

/** How the fake stream route behaves. */
export interface StreamBehaviour {
  /** End each stream after this many messages (default: never). */
  endAfter?: number;
  /** Send the headers, then nothing at all: a buffering proxy. */
  buffered?: boolean;
}

interface Envelope {
  id: string;
  channel: string;
  data: unknown;
}

/** A one-room long-poll route by hand, with the faults the test wants. */
export function createRoom(failRequest = 0, stream: StreamBehaviour = {}) {
  const messages: Envelope[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;
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
  return { publish, route, live: liveRoute(messages, waiters, stream) };
}

/** The stream route `/rooms/lobby/live`: SSE by default, NDJSON with `?transport=ndjson`. */
function liveRoute(
  messages: Envelope[],
  waiters: Set<() => void>,
  behaviour: StreamBehaviour,
): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path !== '/rooms/lobby/live') return next();
    const ndjson = ctx.query.transport === 'ndjson';
    const raw = ctx.get('Last-Event-ID') || ctx.query.cursor;
    let sent = raw === undefined ? messages.length : raw === 'earliest' ? 0 : Number(raw);
    // Replay the message at the cursor, as an at-least-once server may.
    sent = Math.max(0, sent - 1);
    ctx.respond = false;
    const res = ctx.res;
    res.writeHead(200, {
      'Content-Type': ndjson ? 'application/x-ndjson' : 'text/event-stream',
      'Cache-Control': 'no-store, no-transform',
    });
    res.flushHeaders();
    if (behaviour.buffered) return;
    let count = 0;
    const flush = () => {
      while (sent < messages.length && !res.writableEnded) {
        const m = messages[sent++]!;
        const json = JSON.stringify(m);
        res.write(ndjson ? `${json}\n` : `id: ${m.id}\ndata: ${json}\n\n`);
        count += 1;
        if (count === behaviour.endAfter) res.end();
      }
    };
    waiters.add(flush);
    res.once('close', () => waiters.delete(flush));
    flush();
  };
}
