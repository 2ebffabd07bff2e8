/**
 * A minimal HTTP/1.1 client over raw `net` sockets for the load generators:
 * hand-written requests and an incremental response parser (Content-Length,
 * chunked, or until close), one exchange at a time per keep-alive
 * connection. Far cheaper than `http.Agent`, so the load generator keeps up
 * with the server it measures.
 */
import { connect, type Socket } from 'node:net';

/** Receives one response as it is parsed. */
export interface Exchange {
  onHead(status: number, head: string): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
}

enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailer,
  UntilClose,
}

const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/**
 * Idle longer than this, a connection is replaced before its next request:
 * under Node's default `keepAliveTimeout` (5 s), which a server started
 * with its defaults (the demo) applies, so a request is never written to a
 * socket the server is closing (a browser retries such a request; this
 * client does not need to).
 */
const IDLE_REOPEN_MS = 4000;

/** One keep-alive connection; `send` writes a request and parses its response. */
export class HttpConnection {
  #rest: Buffer | undefined;
  #state = State.Head;
  #remaining = 0;
  /** Exchanges awaiting their response, oldest first (pipelining keeps order). */
  readonly #pending: Exchange[] = [];
  #socket: Socket;
  #closed = false;
  #lastActive = performance.now();

  constructor(
    socket: Socket,
    private readonly port: number,
  ) {
    this.#socket = socket;
    this.#wire(socket);
  }

  #wire(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.#lastActive = performance.now();
      this.#onData(d);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (socket !== this.#socket) return;
      this.#closed = true;
      if (this.#state === State.UntilClose) this.#finish();
    });
  }

  /** Opens a connection to 127.0.0.1:`port`. */
  static open(port: number): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => resolve(new HttpConnection(socket, port)));
      socket.once('error', reject);
    });
  }

  /**
   * A fresh socket when this one was closed, or idle so long the server may
   * be closing it (writes before `connect` are queued by `net`).
   */
  #reopenIfIdle(): void {
    if (this.#pending.length > 0) return;
    if (!this.#closed && performance.now() - this.#lastActive < IDLE_REOPEN_MS) return;
    this.#socket.destroy();
    this.#rest = undefined;
    this.#state = State.Head;
    this.#closed = false;
    this.#socket = connect({ port: this.port, host: '127.0.0.1' });
    this.#wire(this.#socket);
  }

  /** Responses still awaited on this connection. */
  get inFlight(): number {
    return this.#pending.length;
  }

  /**
   * Writes a raw request; `exchange` gets its response. Requests may be
   * pipelined: responses arrive in request order (RFC 9112 §9.3.2).
   */
  send(request: string, exchange: Exchange): void {
    this.#reopenIfIdle();
    this.#lastActive = performance.now();
    this.#pending.push(exchange);
    this.#socket.write(request);
  }

  /** Destroys the socket. */
  close(): void {
    this.#socket.destroy();
  }

  #finish(): void {
    this.#state = State.Head;
    this.#pending.shift()?.onEnd();
  }

  #head(buf: Buffer, pos: number, end: number): void {
    const head = buf.toString('latin1', pos, end);
    const status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
    if (/\r\ntransfer-encoding:\s*chunked/.test(lower)) this.#state = State.ChunkSize;
    else if (length) {
      this.#remaining = Number(length[1]);
      this.#state = State.Length;
    } else if (status === 204 || status === 304) this.#remaining = 0;
    else this.#state = State.UntilClose;
    this.#pending[0]?.onHead(status, head);
    if (this.#state === State.Head || (this.#state === State.Length && this.#remaining === 0)) {
      this.#finish();
    }
  }

  /** Consumes body bytes for Length/ChunkData; returns the new position. */
  #data(buf: Buffer, pos: number): number {
    const n = Math.min(this.#remaining, buf.length - pos);
    if (n > 0) this.#pending[0]?.onBody(buf.subarray(pos, pos + n));
    this.#remaining -= n;
    if (this.#remaining === 0) {
      if (this.#state === State.Length) this.#finish();
      else this.#state = State.ChunkEnd;
    }
    return pos + n;
  }

  #onData(d: Buffer): void {
    const buf = this.#rest ? Buffer.concat([this.#rest, d]) : d;
    this.#rest = undefined;
    let pos = 0;
    while (pos < buf.length) {
      const s = this.#state;
      if (s === State.Length || s === State.ChunkData) {
        pos = this.#data(buf, pos);
        continue;
      }
      if (s === State.UntilClose) {
        this.#pending[0]?.onBody(buf.subarray(pos));
        return;
      }
      const sep = s === State.Head ? CRLF2 : CRLF;
      const at = buf.indexOf(sep, pos);
      if (at === -1) {
        this.#rest = buf.subarray(pos);
        return;
      }
      if (s === State.Head) this.#head(buf, pos, at);
      else if (s === State.ChunkSize) {
        const size = Number.parseInt(buf.toString('latin1', pos, at), 16);
        this.#state = size === 0 ? State.Trailer : State.ChunkData;
        this.#remaining = size;
      } else if (s === State.ChunkEnd) this.#state = State.ChunkSize;
      else if (at === pos) this.#finish(); // Trailer: an empty line ends the message
      pos = at + sep.length;
    }
  }
}

/** An exchange that collects the body and hands it over as a string. */
export function collect(done: (status: number, body: string) => void): Exchange {
  let status = 0;
  const chunks: Buffer[] = [];
  return {
    onHead: (s) => {
      status = s;
    },
    onBody: (c) => chunks.push(c),
    onEnd: () =>
      done(status, chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString()),
  };
}

/**
 * `--browser-headers` (`BENCH_BROWSER_HEADERS=1`, inherited by the load
 * generators): the headers a browser page on another origin sends with
 * every request, so the server parses them and answers its CORS (the
 * demo allows any origin). Without it requests carry only Host (and
 * Accept, Content-Type, Content-Length where they need them).
 */
const BROWSER =
  process.env['BENCH_BROWSER_HEADERS'] === '1'
    ? 'Connection: keep-alive\r\n' +
      'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n' +
      'Origin: http://localhost:8080\r\nReferer: http://localhost:8080/\r\n' +
      'Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n' +
      'Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Dest: empty\r\n' +
      'Cache-Control: no-cache\r\nPragma: no-cache\r\n'
    : '';

/** A GET request line plus headers. */
export function getRequest(path: string, accept?: string): string {
  const extra = accept ? `Accept: ${accept}\r\n` : '';
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}${BROWSER}\r\n`;
}

/** A POST of a JSON body. */
export function postRequest(path: string, json: string): string {
  const length = Buffer.byteLength(json);
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${BROWSER}Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${json}`;
}

/** Publishes `data` on `conn` and resolves with the returned id. */
export function publish(conn: HttpConnection, room: string, data: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    conn.send(
      postRequest(`/rooms/${room}/messages`, JSON.stringify(data)),
      collect((status, body) => {
        if (status < 200 || status > 299) reject(new Error(`publish: HTTP ${status} ${body}`));
        else resolve((JSON.parse(body) as { id: string }).id);
      }),
    );
  });
}

/** Opens `n` connections, `batch` at a time so the accept queue never overflows. */
export async function openMany(port: number, n: number, batch = 250): Promise<HttpConnection[]> {
  const all: HttpConnection[] = [];
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i);
    all.push(...(await Promise.all(Array.from({ length: size }, () => HttpConnection.open(port)))));
  }
  return all;
}
