/**
 * WebSocket (RFC 6455) on the app's own HTTP server, through `ws` in
 * `noServer` mode: the server's `upgrade` event hands the request here.
 *
 * One envelope `{"id","channel","data"}` per text frame, the gap control
 * frame `{"gap":true,"cursor":"<head>"}` as a frame, resume with `?cursor=`.
 * The `Origin` is checked before the handshake (a browser page from another
 * site must not follow a user's channels with the user's cookies:
 * cross-site WebSocket hijacking; `'*'` admits no credentialed handshake);
 * a handshake without `Origin` comes from a non-browser client and is allowed. Frames are encoded once: the same
 * `Buffer` goes to every socket (`permessage-deflate` is off, so `ws` frames
 * it without copying).
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import { type WebSocket, WebSocketServer } from 'ws';
import { CometError } from '../base/errors.js';
import type { ConnectionCloseTarget, StreamConnection, StreamEndReason } from './connection.js';

const debug = debuglog('comet:ws');

/** Options for {@link createWebSocketServer}. */
export interface WebSocketServerOptions {
  /** Largest frame a client may send; larger ones close with 1009. Default 64 KiB. */
  maxPayload?: number;
}

/**
 * A `ws` server that owns no listening socket (`noServer`), for upgrades on
 * the application's HTTP server.
 *
 * @example
 * ```ts
 * const wss = createWebSocketServer();
 * server.on('upgrade', (req, socket, head) =>
 *   handleWebSocketUpgrade(wss, req, socket, head, { allowOrigins: [], onConnection }));
 * ```
 */
export function createWebSocketServer(options: WebSocketServerOptions = {}): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload ?? 64 * 1024,
    // Compression would re-encode every frame per socket: no encode-once.
    perMessageDeflate: false,
  });
}

/**
 * Which cross-origin pages may connect: a list of serialized origins (`'*'`
 * for any origin, without credentials) or a predicate naming the origins
 * allowed with credentials too.
 */
export type OriginAllowList = readonly string[] | ((origin: string) => boolean);

/**
 * True when a handshake's `Origin` may connect: no `Origin` header (not a
 * browser), the page's own origin (same host as the request's `Host`), an
 * origin the allow-list names (an exact serialized origin such as
 * `https://example.com:8443`, or the predicate saying yes), or — through
 * `'*'` — any origin, but only when the handshake carries no `Cookie` and no
 * `Authorization`. As for CORS, `'*'` never goes with credentials: a browser
 * sends the user's cookies on a cross-site WebSocket handshake, so an
 * `authorize` hook reading a session cookie would otherwise be open to
 * cross-site WebSocket hijacking.
 */
export function isOriginAllowed(req: IncomingMessage, allow: OriginAllowList): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (typeof allow === 'function' ? allow(origin) : allow.includes(origin)) return true;
  if (sameHost(origin, req.headers.host)) return true;
  const credentialed = req.headers.cookie !== undefined || req.headers.authorization !== undefined;
  return typeof allow !== 'function' && allow.includes('*') && !credentialed;
}

/** True when `origin` names the host the request was sent to: the page's own origin. */
function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host === host;
  } catch {
    return false; // `null` (a sandboxed frame, file://) or garbage
  }
}

/**
 * Answers an upgrade request with a plain HTTP error (JSON body, the error
 * catalog's status) and closes the socket: the handshake never happens.
 */
export function refuseUpgrade(socket: Duplex, error: CometError): void {
  const body = JSON.stringify(error.toJSON());
  const head =
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
    'Connection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n\r\n`;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(head + body);
}

/** What {@link handleWebSocketUpgrade} needs besides the upgrade itself. */
export interface WebSocketUpgradeOptions {
  /** Origins allowed besides the page's own (see {@link isOriginAllowed}). */
  allowOrigins: OriginAllowList;
  /** Called with the open socket; start the stream session here. */
  onConnection(ws: WebSocket, req: IncomingMessage): void;
}

/**
 * Checks the Origin and completes the handshake, or answers 403
 * (`COMET_ERR_ORIGIN_FORBIDDEN`) and destroys the socket.
 */
export function handleWebSocketUpgrade(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: WebSocketUpgradeOptions,
): void {
  if (!isOriginAllowed(req, options.allowOrigins)) {
    debug('refused upgrade from origin %s', req.headers.origin);
    refuseUpgrade(socket, new CometError('COMET_ERR_ORIGIN_FORBIDDEN'));
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => options.onConnection(ws, req));
}

/**
 * Close codes by the reason a stream ended (docs/reference/wire-formats.md):
 * 1001 (going away, RFC 6455 §7.4.1) for shutdown only; the others are in
 * the private-use range 4000–4999, and each means "resume by cursor".
 */
export const webSocketCloseCodes: Readonly<Record<StreamEndReason, number>> = {
  ended: 1001, // shutdown
  lifetime: 4000,
  budget: 4001,
  slow: 4002, // not sent: a slow reader's socket is cut without a close frame
  failed: 4503, // the bus failed mid-backlog: resume after a back-off
  disconnect: 1000, // not sent: the peer is gone
};

/**
 * A WebSocket as a stream connection. The heartbeat is a ping: a peer that
 * has not answered the previous ping by the next tick is dead and is
 * terminated (its close ends the session as a disconnect).
 */
class WebSocketConnection implements StreamConnection {
  private alive = true;
  private readonly ws: WebSocket;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('pong', () => {
      this.alive = true;
    });
    // ws emits 'error' for protocol violations and oversize frames, then
    // closes (1002 / 1009); without a listener the error would crash.
    ws.on('error', (error) => debug('socket error: %s', error.message));
  }

  wire(frame: Buffer): Buffer {
    return frame; // ws frames each message per socket itself
  }
  send(frame: Buffer): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(frame, { binary: false });
  }

  heartbeat(): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (!this.alive) {
      debug('peer did not answer the last ping: terminating');
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  close(reason: StreamEndReason): void {
    this.ws.close(webSocketCloseCodes[reason], reason);
  }

  destroy(): void {
    this.ws.terminate();
  }

  get queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  onClose(target: ConnectionCloseTarget): void {
    this.ws.once('close', () => target.connectionClosed());
  }
}

/**
 * The {@link StreamConnection} of an open WebSocket, for `createStreamSession`.
 *
 * @example
 * ```ts
 * const session = createStreamSession(createWebSocketConnection(ws), { wheel, onEnd: off });
 * ```
 */
export function createWebSocketConnection(ws: WebSocket): StreamConnection {
  return new WebSocketConnection(ws);
}
