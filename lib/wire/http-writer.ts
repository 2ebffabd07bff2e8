/**
 * The one {@link StreamWriter} behind every HTTP streaming transport. A
 * transport only describes its bytes ({@link HttpStreamSpec}); the writing,
 * the idempotent close and the "never write after the end" guard live here.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { StreamWriter } from './stream-transport.js';

const CRLF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);
const NO_HEADERS: Record<string, string> = {};

/**
 * What a writer keeps once its head is written, when it has no trailer: the
 * same object for every response of a transport (weakly, by its heartbeat
 * and closing bytes), so a held stream keeps no spec of its own.
 */
const tails = new WeakMap<Buffer, WeakMap<Buffer, HttpStreamSpec>>();

function sharedTail(heartbeat: Buffer, closing: Buffer): HttpStreamSpec {
  let byClosing = tails.get(heartbeat);
  if (byClosing === undefined) {
    byClosing = new WeakMap();
    tails.set(heartbeat, byClosing);
  }
  let tail = byClosing.get(closing);
  if (tail === undefined) {
    tail = { headers: NO_HEADERS, opening: EMPTY, heartbeat, closing };
    byClosing.set(closing, tail);
  }
  return tail;
}

/** One HTTP/1.1 chunk holding `frame`. */
function chunk(frame: Buffer): Buffer {
  const head = Buffer.from(`${frame.length.toString(16)}\r\n`);
  return Buffer.concat([head, frame, CRLF], head.length + frame.length + 2);
}

/** The per-response bytes of one transport. */
export interface HttpStreamSpec {
  readonly headers: Record<string, string>;
  /** Written with the head, in the same chunk. */
  readonly opening: Buffer;
  readonly heartbeat: Buffer;
  /** Written by `close()` before the response ends; may be empty. */
  readonly closing: Buffer;
  /**
   * Written right after every frame (multipart: this response's delimiter
   * line). Corked with the frame so both leave in one chunk and one syscall.
   */
  readonly trailer?: Buffer;
}

/**
 * Node keeps the head it sent as `res._header` for the whole life of the
 * response, as it built it: a rope of one string piece per header name,
 * value and separator, about 25 pieces (~850 heap bytes) for an SSE head.
 * A held stream keeps one flat copy instead (~250 bytes). Node only tests
 * the field for truth once the head is out; header text is Latin-1 (Node
 * refuses any other character), so the copy is exact.
 */
function flattenHead(res: ServerResponse): void {
  const sent = res as ServerResponse & { _header?: unknown };
  if (typeof sent._header === 'string') {
    sent._header = Buffer.from(sent._header, 'latin1').toString('latin1');
  }
}

/**
 * A writer for one response. A class, not closures: a held stream should
 * cost a few fields, and every method is shared on the prototype.
 */
export class HttpStreamWriter implements StreamWriter {
  readonly variant: string;
  private readonly res: ServerResponse;
  /** Until the head is written: the whole spec. After: only what later writes need. */
  private spec: HttpStreamSpec;
  private headed = false;
  /**
   * After the head, the stream owns its socket: shared, already-chunked
   * frames go straight to it, skipping ServerResponse's per-write chunk
   * framing. Unset when the response is not first on its socket yet
   * (pipelining) or not chunked: frames then go through `res.write`.
   */
  private socket: Socket | undefined;
  private wiredTrailer: Buffer | undefined;

  constructor(res: ServerResponse, variant: string, spec: HttpStreamSpec) {
    this.res = res;
    this.variant = variant;
    this.spec = spec;
  }

  /** True once the response can take no more bytes. */
  get closed(): boolean {
    return this.res.writableEnded || this.res.destroyed;
  }

  head(): void {
    if (this.headed || this.closed) return;
    this.headed = true;
    // writeHead + one write: Node sends the head and the first chunk
    // together, so the client sees the stream open at once.
    this.res.writeHead(200, this.spec.headers);
    this.res.write(this.spec.opening);
    flattenHead(this.res);
    // The headers and opening bytes are sent: keep only the shared buffers
    // later writes need (a held stream should cost a few fields).
    const { heartbeat, closing, trailer } = this.spec;
    this.spec =
      trailer === undefined
        ? sharedTail(heartbeat, closing)
        : { headers: NO_HEADERS, opening: EMPTY, heartbeat, closing, trailer };
    const res = this.res as ServerResponse & { chunkedEncoding?: boolean };
    const socket = res.socket;
    if (socket && res.chunkedEncoding === true && res.writableLength === socket.writableLength) {
      this.socket = socket;
      if (this.spec.trailer !== undefined) this.wiredTrailer = chunk(this.spec.trailer);
    }
  }

  wire(frame: Buffer): Buffer {
    return chunk(frame);
  }

  sendWire(wired: Buffer): void {
    if (this.closed) return;
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) {
      // Not ours to write raw: unwrap the chunk and let the response frame it.
      this.send(wired.subarray(wired.indexOf(CRLF) + 2, wired.length - 2));
      return;
    }
    if (this.wiredTrailer === undefined) {
      socket.write(wired);
      return;
    }
    socket.cork();
    socket.write(wired);
    socket.write(this.wiredTrailer);
    socket.uncork();
  }

  send(frame: Buffer): void {
    if (this.closed) return;
    const trailer = this.spec.trailer;
    if (trailer === undefined) {
      this.res.write(frame);
      return;
    }
    // Corked, a chunked ServerResponse joins both writes into one chunk; the
    // shared frame is not copied.
    this.res.cork();
    this.res.write(frame);
    this.res.write(trailer);
    this.res.uncork();
  }

  heartbeat(): void {
    if (!this.closed) this.res.write(this.spec.heartbeat);
  }

  close(): void {
    if (this.closed) return;
    if (this.spec.closing.length > 0) this.res.end(this.spec.closing);
    else this.res.end();
  }
}
