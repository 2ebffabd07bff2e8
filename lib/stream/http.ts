/**
 * An HTTP stream (SSE, NDJSON, multipart, iframe) as a {@link StreamConnection}:
 * the response plus the writer its transport opened.
 */
import type { ServerResponse } from 'node:http';
import { watchQueuedResponse } from '../suspend/queued-response.js';
import type { StreamWriter } from '../wire/stream-transport.js';
import type { ConnectionCloseTarget, StreamConnection } from './connection.js';

/** Adapts an HTTP response and its {@link StreamWriter} to a {@link StreamConnection}. */
class HttpConnection implements StreamConnection {
  constructor(
    private readonly res: ServerResponse,
    private readonly writer: StreamWriter,
  ) {}
  wire(frame: Buffer): Buffer {
    return this.writer.wire(frame);
  }
  send(wired: Buffer): void {
    this.writer.sendWire(wired);
  }
  heartbeat(): void {
    this.writer.heartbeat();
  }
  close(): void {
    this.writer.close();
  }
  destroy(): void {
    // Destroying the socket frees what it had queued; the response follows.
    // On HTTP/2 the socket is the whole session's: reset only this stream.
    const stream = (this.res as { stream?: { destroy(): void } }).stream;
    if (stream !== undefined) stream.destroy();
    else this.res.socket?.destroy();
    this.res.destroy();
  }
  get queuedBytes(): number {
    // OutgoingMessage.writableLength already includes its socket's buffer.
    return this.res.writableLength;
  }
  onClose(target: ConnectionCloseTarget): void {
    (this.res as Closable)[kCloseTarget] = target;
    this.res.on('close', onResponseClose);
    // A pipelined response queued behind another gets no `close` of its own.
    watchQueuedResponse(this.res);
  }
}

const kCloseTarget = Symbol('comet.closeTarget');
type Closable = ServerResponse & { [kCloseTarget]?: ConnectionCloseTarget };

/** One shared `close` handler for every stream response: no closure per stream. */
function onResponseClose(this: Closable): void {
  const target = this[kCloseTarget];
  this[kCloseTarget] = undefined;
  target?.connectionClosed();
}

/** The {@link StreamConnection} of an HTTP stream: `res` plus the writer its transport opened. */
export function createHttpConnection(res: ServerResponse, writer: StreamWriter): StreamConnection {
  return new HttpConnection(res, writer);
}
