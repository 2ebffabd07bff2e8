/**
 * The one {@link StreamWriter} behind every HTTP streaming transport. A
 * transport only describes its bytes ({@link HttpStreamSpec}); the writing,
 * the idempotent close and the "never write after the end" guard live here.
 */
import type { ServerResponse } from 'node:http';
import type { StreamWriter } from './stream-transport.js';

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
 * A writer for one response. A class, not closures: a held stream should
 * cost a few fields, and every method is shared on the prototype.
 */
export class HttpStreamWriter implements StreamWriter {
  readonly variant: string;
  private readonly res: ServerResponse;
  private readonly spec: HttpStreamSpec;
  private headed = false;

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
