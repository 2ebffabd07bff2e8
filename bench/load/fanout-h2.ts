/**
 * Load generator for "fanout" over cleartext HTTP/2 (h2c): the same closed
 * loop as `fanout.ts` (`fanout-run.ts`), but every SSE subscriber is a
 * stream, all of them on one session per 1,000 subscribers (a browser puts
 * all of a page's streams on one connection), and the publisher POSTs on
 * its own session.
 */
import { type ClientHttp2Session, type ClientHttp2Stream, connect } from 'node:http2';
import { until } from '../lib/wait.js';
import { fail, tell, workerConfig } from '../lib/worker.js';
import { type FanoutShape, FanoutTally, runFanout, SseCounter } from './fanout-run.js';

interface FanoutConfig extends FanoutShape {
  readonly port: number;
  readonly room: string;
}

const cfg = workerConfig<FanoutConfig>();
const tally = new FanoutTally(cfg);
const STREAMS_PER_SESSION = 1000;

/** An SSE response on an HTTP/2 stream, counted. */
class Subscriber extends SseCounter {
  constructor(stream: ClientHttp2Stream) {
    super(tally);
    stream.on('response', (headers) => {
      this.status = Number(headers[':status']);
      this.sse = String(headers['content-type']).startsWith('text/event-stream');
    });
    stream.on('data', (chunk: Buffer) => this.onBody(chunk));
    stream.on('error', () => {});
  }
}

function session(): ClientHttp2Session {
  const s = connect(`http://127.0.0.1:${cfg.port}`);
  s.on('error', (e) => fail(e));
  return s;
}

async function subscribe(count: number) {
  const sessions: ClientHttp2Session[] = [];
  const subs: Subscriber[] = [];
  let current: ClientHttp2Session | undefined;
  for (let i = 0; i < count; i++) {
    if (current === undefined || i % STREAMS_PER_SESSION === 0) {
      current = session();
      sessions.push(current);
    }
    const stream = current.request({
      ':path': `/rooms/${cfg.room}/live`,
      accept: 'text/event-stream',
    });
    subs.push(new Subscriber(stream));
  }
  const ok = await until(() => subs.every((s) => s.status !== 0), 60_000, 20);
  if (!ok || !subs.every((s) => s.status === 200 && s.sse)) {
    tell({ type: 'unsupported', status: subs.find((s) => s.status !== 200)?.status ?? 0 });
    process.exit(0);
  }
  return {
    subs,
    close: () => {
      for (const s of sessions) s.destroy();
    },
  };
}

function publish(pub: ClientHttp2Session, data: unknown): Promise<void> {
  const body = JSON.stringify(data);
  return new Promise((resolve, reject) => {
    const stream = pub.request({
      ':method': 'POST',
      ':path': `/rooms/${cfg.room}/messages`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    stream.on('response', (headers) => {
      const status = Number(headers[':status']);
      if (status < 200 || status > 299) reject(new Error(`publish: HTTP ${status}`));
    });
    stream.on('error', reject);
    stream.on('close', () => resolve());
    stream.resume();
    stream.end(body);
  });
}

async function main(): Promise<void> {
  const pub = session();
  await runFanout(cfg, tally, {
    subscribe,
    publish: (data) => publish(pub, data),
    close: () => pub.destroy(),
  });
}

main().catch(fail);
