/**
 * Node 20 emits no `close` on a response queued behind another on its
 * connection (HTTP/1.1 pipelining): when the socket goes, only the response
 * at the head of the queue hears of it (`_http_server.js` destroys the
 * queued requests, leaves their responses alone). A held long-poll or a
 * stream waiting in that queue would stay held until its own timeout or
 * lifetime: one connection could pin thousands of them.
 *
 * {@link watchQueuedResponse} makes such a response emit `close` when its
 * socket closes, as the head response does, so everything already listening
 * for `close` (held requests, streams, an app's own listeners) is released
 * at once. One `close` listener per socket, whatever the number queued.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const kQueued = Symbol('comet.queuedResponses');
const kClosed = Symbol('comet.queuedClosed');

type Watched = Socket & { [kQueued]?: Set<ServerResponse> };
type Marked = ServerResponse & { [kClosed]?: true };

/** Past this many entries a registration first drops the responses already done. */
const PRUNE_AT = 16;

/** True while Node itself owes `res` its `close`: first on its socket, or done. */
function settled(res: ServerResponse): boolean {
  return res.socket !== null || res.writableFinished || (res as Marked)[kClosed] === true;
}

function emitClose(res: ServerResponse): void {
  if (settled(res)) return;
  (res as Marked)[kClosed] = true;
  res.emit('close');
}

/** One shared handler for every watched socket: no closure per socket. */
function onSocketClose(this: Watched): void {
  const queued = this[kQueued];
  this[kQueued] = undefined;
  if (queued) for (const res of queued) emitClose(res);
}

/**
 * Makes `res` emit `close` when its connection closes, even while it is
 * queued behind an earlier response on that connection. Does nothing for a
 * response that is already first on its socket (Node tells it), or that is
 * not an HTTP/1.1 server response.
 */
export function watchQueuedResponse(res: ServerResponse): void {
  if (res.socket !== null) return;
  const socket = res.req?.socket as Watched | undefined | null;
  if (!socket) return;
  if (socket.destroyed) {
    // The connection went before the route got here: tell it on the next tick.
    process.nextTick(emitClose, res);
    return;
  }
  let queued = socket[kQueued];
  if (queued === undefined) {
    queued = new Set();
    socket[kQueued] = queued;
    socket.once('close', onSocketClose);
  } else if (queued.size >= PRUNE_AT) {
    for (const done of queued) if (settled(done)) queued.delete(done);
  }
  queued.add(res);
}
