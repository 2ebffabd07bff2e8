/**
 * What a stream session writes to: the one interface behind which an HTTP
 * response (lib/stream/http.ts) and a WebSocket (lib/stream/websocket.ts)
 * look the same to lib/stream/session.ts.
 */

/** What a session drives: an HTTP response's writer, or a WebSocket. */
export interface StreamConnection {
  /** The wire bytes of a frame, the same for every connection of its kind (build once, send to many). */
  wire(frame: Buffer): Buffer;
  /** Sends bytes made by {@link StreamConnection.wire}. */
  send(frame: Buffer): void;
  heartbeat(): void;
  /** Ends cleanly (closing bytes, end of response / close frame). */
  close(reason: StreamEndReason): void;
  /** Ends at once, dropping whatever is still queued. */
  destroy(): void;
  /** Bytes written but not yet taken by the peer (Node's and the socket's buffers). */
  readonly queuedBytes: number;
  /**
   * Registers the one target told when the underlying connection closes,
   * however it closes (a target, not a closure: nothing allocated per stream).
   */
  onClose(target: ConnectionCloseTarget): void;
}

/** Told once when a connection closes. */
export interface ConnectionCloseTarget {
  connectionClosed(): void;
}

/** Why a stream ended. */
export type StreamEndReason =
  | 'ended' // the server called end() (shutdown, the application)
  | 'lifetime' // maxLifetimeMs reached
  | 'budget' // maxBytes written
  | 'slow' // more than maxQueuedBytes queued: connection destroyed
  | 'disconnect' // the peer went away (or stopped answering pings)
  | 'failed'; // the bus failed while the backlog was being read: the client resumes by cursor
