/**
 * HTTP/2 set-up for the integration tests: the demo chat app on
 * `http2.createSecureServer({ allowHTTP1: true })` (self-signed, made once
 * per file) or on cleartext `http2.createServer` (h2c), and a small
 * `http2.connect` client that reads a response as it arrives.
 */
import { once } from 'node:events';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
} from 'node:http2';
import {
  createHttpsServer,
  type Pems,
  selfSignedCertificate,
} from '../../../examples/chat/https.js';
import { createMemoryBus, type MemoryBus } from '../../../index.js';
import type { CometMiddleware } from '../../../middleware/comet.js';
import { createTestApp } from './app.js';
import { DIRECT, LINGER_MS } from './server.js';

let pems: Promise<Pems> | undefined;

/** A running HTTP/2 demo server. */
export interface H2Running {
  readonly kind: 'tls' | 'h2c';
  readonly base: string;
  readonly port: number;
  readonly server: Http2Server | Http2SecureServer;
  readonly bus: MemoryBus;
  readonly push: CometMiddleware;
  /** A new client session (closed by {@link H2Running.close}). */
  connect(): ClientHttp2Session;
  close(): Promise<void>;
}

/** Starts the demo chat on an HTTP/2 server of `kind`, attached, on 127.0.0.1:0. */
export async function startH2Chat(kind: 'tls' | 'h2c'): Promise<H2Running> {
  const bus = createMemoryBus();
  const { app, push } = createTestApp({ bus, channelLinger: LINGER_MS, direct: DIRECT });
  pems ??= selfSignedCertificate(); // once per file
  const server = kind === 'tls' ? createHttpsServer(app, await pems) : createServer(app.callback());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  push.attach(server, app);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const base = `${kind === 'tls' ? 'https' : 'http'}://127.0.0.1:${port}`;
  const sessions = new Set<ClientHttp2Session>();
  let closing: Promise<void> | undefined;
  return {
    kind,
    base,
    port,
    server,
    bus,
    push,
    connect() {
      const session = connect(base, { rejectUnauthorized: false });
      session.on('error', () => {}); // a GOAWAY'd or destroyed session in a test
      sessions.add(session);
      return session;
    },
    close() {
      closing ??= (async () => {
        const done = push.close();
        for (const session of sessions) session.destroy();
        await done;
        if (server.listening) await new Promise((r) => server.close(r));
        await bus.close();
      })();
      return closing;
    },
  };
}

/** One request on a session: its response head, its body so far, and its end. */
export interface H2Exchange {
  readonly stream: ClientHttp2Stream;
  readonly response: Promise<IncomingHttpHeaders>;
  /** Resolves with the body text once `done(text)` holds (or the stream ends). */
  until(done: (text: string) => boolean): Promise<string>;
  /** The whole body, at the end of the stream. */
  readonly body: Promise<string>;
}

/** Sends a request on `session` and follows its body as it arrives. */
export function request(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): H2Exchange {
  const stream = session.request({
    ':path': path,
    ':method': body === undefined ? 'GET' : 'POST',
    ...headers,
  });
  stream.on('error', () => {}); // a reset stream in a test
  if (body === undefined) stream.end();
  else stream.end(body);
  stream.setEncoding('utf8');
  let text = '';
  const waiters = new Set<() => void>();
  stream.on('data', (chunk: string) => {
    text += chunk;
    for (const wake of waiters) wake();
  });
  const ended = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  return {
    stream,
    response: once(stream, 'response').then(([h]) => h as IncomingHttpHeaders),
    body: ended.then(() => text),
    async until(done) {
      while (!done(text)) {
        const more = new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
          void ended.then(wake);
        });
        if (stream.closed) break;
        await more;
      }
      return text;
    },
  };
}
