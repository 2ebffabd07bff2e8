/**
 * The servers `attach()` accepts and how each kind is closed.
 *
 * `node:http` / `node:https` servers close with `closeIdleConnections()`
 * then `closeAllConnections()` after the grace. HTTP/2 servers
 * (`http2.createSecureServer`, with or without `allowHTTP1`, and cleartext
 * `http2.createServer`, h2c) have neither: every session is tracked from
 * `attach()` on (`server.on('session')`) and closed with `session.close()`,
 * which sends GOAWAY (RFC 9113 §6.8) so a client opens its next request
 * elsewhere while the streams already answered finish; HTTP/1.1 connections
 * an `allowHTTP1` server took are closed once idle. Whatever is left when
 * the grace runs out is destroyed.
 */
import type { Server as HttpServer } from 'node:http';
import type { Http2SecureServer, Http2Server, Http2Session } from 'node:http2';
import type { Socket } from 'node:net';

/** A server `attach()` accepts: `node:http`, `node:https`, or HTTP/2 (TLS or h2c). */
export type AttachableServer = HttpServer | Http2Server | Http2SecureServer;

/** Closes one attached server within a grace period. */
export type ServerCloser = (grace: number) => Promise<void>;

function isHttp1Server(server: AttachableServer): server is HttpServer {
  return typeof (server as HttpServer).closeAllConnections === 'function';
}

/** Starts tracking what `server` needs to close; returns its closer. */
export function trackServer(server: AttachableServer): ServerCloser {
  if (isHttp1Server(server)) return (grace) => closeHttp1(server, grace);
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // `allowHTTP1`: an HTTP/1.1 connection is a TLS socket that never
  // becomes a session (ALPN chose `http/1.1`, or the client offered none).
  server.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    if (socket.alpnProtocol === 'h2') return;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return (grace) => closeHttp2(server, sessions, sockets, grace);
}

async function closeHttp1(server: HttpServer, grace: number): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), grace);
  cut.unref();
  await closed;
  clearTimeout(cut);
}

/** The response an HTTP/1.1 socket is serving (Node's `_http_server` sets it), if any. */
function busy(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: unknown })._httpMessage != null;
}

async function closeHttp2(
  server: Http2Server | Http2SecureServer,
  sessions: Set<Http2Session>,
  sockets: Set<Socket>,
  grace: number,
): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // GOAWAY now: no new streams; those in flight (already answered by the
  // hub's shutdown) finish and the session closes by itself.
  for (const session of sessions) if (!session.closed) session.close();
  // Held HTTP/1.1 requests were answered synchronously; let their bytes go.
  setImmediate(() => {
    for (const socket of sockets) if (!busy(socket)) socket.end();
  });
  const cut = setTimeout(() => {
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
  }, grace);
  cut.unref();
  await closed;
  clearTimeout(cut);
}
