/**
 * Tiny stand-ins for Node's `IncomingMessage` and `ServerResponse`, enough
 * for the core's held requests (the long-poll waiter, `AsyncContext`) in
 * unit tests without sockets: the response records its status, headers and
 * body, and `close` is emitted when the test says the client left.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** What a {@link FakeResponse} recorded. */
export class FakeResponse extends EventEmitter {
  statusCode = 200;
  readonly headers: Record<string, string> = {};
  body: string | undefined;
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  /** Non-null: the response is first on its (pretend) socket. */
  socket: object | null = {};
  req: FakeRequest | undefined;

  setHeader(name: string, value: string | number): this {
    this.headers[name.toLowerCase()] = String(value);
    return this;
  }

  getHeader(name: string): string | undefined {
    return this.headers[name.toLowerCase()];
  }

  writeHead(status: number, headers?: OutgoingHttpHeaders | readonly string[]): this {
    this.statusCode = status;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2)
        this.setHeader(String(headers[i]), String(headers[i + 1]));
    } else if (headers !== undefined) {
      for (const [k, v] of Object.entries(headers)) this.setHeader(k, String(v));
    }
    this.headersSent = true;
    return this;
  }

  end(body?: string | Buffer): this {
    if (this.writableEnded) return this;
    this.headersSent = true;
    this.writableEnded = true;
    if (body !== undefined) this.body = (this.body ?? '') + body.toString();
    return this;
  }

  /** The client goes away. */
  disconnect(): void {
    this.destroyed = true;
    this.emit('close');
  }

  /** The body parsed as JSON. */
  json(): unknown {
    if (this.body === undefined) throw new Error('no body written');
    return JSON.parse(this.body);
  }
}

/** A request: only an emitter here (the core does not read it). */
export class FakeRequest extends EventEmitter {
  url = '/';
  method = 'GET';
  headers: Record<string, string> = {};
}

/** A request/response pair, typed as Node's for the code under test. */
export function fakeExchange(): {
  req: IncomingMessage;
  res: ServerResponse;
  fake: FakeResponse;
} {
  const request = new FakeRequest();
  const fake = new FakeResponse();
  fake.req = request;
  return {
    req: request as unknown as IncomingMessage,
    res: fake as unknown as ServerResponse,
    fake,
  };
}
