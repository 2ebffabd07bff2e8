/**
 * The Flash socket policy file (Adobe, "Setting up a socket policy file
 * server"): before a Flash client opens a raw TCP socket (FlashSocket, the
 * WebSocket emulation socket.io 0.9 shipped) it sends
 * `<policy-file-request/>\0` to port 843, or as the first bytes on the
 * service's own port, and expects a `<cross-domain-policy>` XML document
 * followed by `\0`, after which the connection is closed.
 *
 * Two responders, both opt-in:
 * - {@link attachFlashPolicy}, on the service's own `node:http` server. It
 *   costs HTTP nothing: no HTTP method starts with `<`, so Node's parser
 *   refuses such a connection (`clientError`, `HPE_INVALID_METHOD`), and
 *   only then is the connection read as a policy request. A client that
 *   sends the request a byte at a time is still recognised; one that
 *   stalls or sends anything else gets Node's own `400 Bad Request` within
 *   `timeoutMs`.
 * - {@link createFlashPolicyServer}, a standalone TCP server (port 843).
 *
 * The policy names the domains and ports it allows; nothing is allowed
 * unless configured (no `*` by default).
 */
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { debuglog } from 'node:util';
import { CometError } from '../base/errors.js';

const debug = debuglog('comet:flash');

/** The request a Flash client sends, NUL included. */
export const POLICY_REQUEST = Buffer.from('<policy-file-request/>\0', 'latin1');

/** Options of the policy responders. */
export interface FlashPolicyOptions {
  /**
   * Domains allowed to connect (`example.com`, `*.example.com`; `'*'` only
   * when you mean any site). Default none.
   */
  domains?: readonly string[];
  /**
   * Ports they may connect to (`3000`, `'8000-8100'`). Default: the port
   * the request arrived on (inline responder); required for the standalone
   * server.
   */
  ports?: readonly (number | string)[];
  /** How long a connection may take to finish the request. Default 3,000 ms. */
  timeoutMs?: number;
}

const DOMAIN = /^(\*|(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*)$/;
const PORTS = /^(\*|\d{1,5}(-\d{1,5})?)$/;

/**
 * The policy document for `domains` and `ports`, `\0`-terminated.
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for a domain or port that is not one.
 */
export function flashPolicy(
  domains: readonly string[],
  ports: readonly (number | string)[],
): Buffer {
  for (const d of domains) {
    if (!DOMAIN.test(d)) throw new CometError('COMET_ERR_OPTIONS_INVALID', `bad domain ${d}`);
  }
  const toPorts = ports.map(String);
  for (const p of toPorts) {
    if (!PORTS.test(p)) throw new CometError('COMET_ERR_OPTIONS_INVALID', `bad port ${p}`);
  }
  const allow = domains
    .map((d) => `<allow-access-from domain="${d}" to-ports="${toPorts.join(',')}"/>\n`)
    .join('');
  return Buffer.from(
    '<?xml version="1.0"?>\n' +
      '<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd">\n' +
      '<cross-domain-policy>\n' +
      '<site-control permitted-cross-domain-policies="master-only"/>\n' +
      allow +
      '</cross-domain-policy>\n\0',
    'utf8',
  );
}

/** True while `bytes` could still become the policy request. */
function isPrefix(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, POLICY_REQUEST.length);
  return bytes.subarray(0, n).equals(POLICY_REQUEST.subarray(0, n));
}

/**
 * Reads `first` plus what follows on `socket` as a policy request: answers
 * `policy(socket)` and ends, or calls `other` (mismatch, timeout) once.
 */
function readRequest(
  socket: Socket,
  first: Buffer,
  timeoutMs: number,
  policy: (socket: Socket) => Buffer,
  other: () => void,
): void {
  let bytes = first;
  let done = false;
  const finish = (matched: boolean) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    if (!matched) {
      other();
      return;
    }
    debug('policy request from %s', socket.remoteAddress);
    socket.end(policy(socket));
  };
  const check = () => {
    if (!isPrefix(bytes)) finish(false);
    else if (bytes.length >= POLICY_REQUEST.length) finish(true);
  };
  const onData = (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk]);
    check();
  };
  const timer = setTimeout(() => finish(false), timeoutMs);
  timer.unref();
  socket.on('data', onData);
  socket.once('close', () => finish(false));
  check();
}

/**
 * Answers `<policy-file-request/>\0` sent as the first bytes of a
 * connection to `server` (a `node:http` server: the request reaches it as
 * a parse error, see the module comment). Every HTTP request, and every
 * WebSocket upgrade, is untouched.
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for a bad domain or port.
 * @example
 * ```ts
 * attachFlashPolicy(server, { domains: ['example.com'] });
 * ```
 */
export function attachFlashPolicy(server: HttpServer, options: FlashPolicyOptions = {}): void {
  const domains = options.domains ?? [];
  const fixed = options.ports ? flashPolicy(domains, options.ports) : undefined;
  flashPolicy(domains, []); // validate the domains now, not at the first request
  const policy = (socket: Socket) => fixed ?? flashPolicy(domains, [socket.localPort ?? '*']);
  const timeoutMs = options.timeoutMs ?? 3000;
  const taken = new WeakSet<Socket>();
  // Alone on `clientError`, this listener stands in for Node's default answer.
  const onlyListener = () => server.listenerCount('clientError') === 1;
  server.on(
    'clientError',
    (error: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => {
      // Node's parser reports every later chunk again: the socket is ours already.
      if (taken.has(socket)) return;
      const raw = error.rawPacket;
      if (
        error.code === 'HPE_INVALID_METHOD' &&
        raw !== undefined &&
        raw[0] === POLICY_REQUEST[0]
      ) {
        taken.add(socket);
        readRequest(socket, Buffer.from(raw), timeoutMs, policy, () => badRequest(socket));
      } else if (onlyListener()) defaultClientError(error, socket);
    },
  );
}

function badRequest(socket: Socket): void {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  else socket.destroy();
}

/** What Node's http server does with a client error when nobody listens (node:_http_server). */
function defaultClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? '431 Request Header Fields Too Large'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
}

/**
 * A standalone policy server (Flash asks port 843 first): answers the
 * policy request and closes; anything else is closed at once. Listen on
 * it yourself (`server.listen(843)`; binding below 1024 needs privileges).
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` without `ports`, or for a bad domain or port.
 * @example
 * ```ts
 * createFlashPolicyServer({ domains: ['example.com'], ports: [443] }).listen(843);
 * ```
 */
export function createFlashPolicyServer(options: FlashPolicyOptions): Server {
  if (options.ports === undefined) {
    throw new CometError('COMET_ERR_OPTIONS_INVALID', 'the policy server needs ports');
  }
  const policy = flashPolicy(options.domains ?? [], options.ports);
  const timeoutMs = options.timeoutMs ?? 3000;
  return createServer((socket) => {
    socket.on('error', () => socket.destroy());
    readRequest(
      socket,
      Buffer.alloc(0),
      timeoutMs,
      () => policy,
      () => socket.destroy(),
    );
  });
}
