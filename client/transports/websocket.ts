import { AckTable } from '../send.js';
import { toWebSocketUrl, withQuery } from '../url.js';
import { type ClientTransport, dispatchFrame } from './transport.js';

/**
 * Close codes that end a stream on purpose, to be resumed at once: normal, shutdown,
 * and the server's lifetime (4000) and byte budget (4001). Any other (4503: the bus
 * failed) resumes after a backoff.
 */
const cleanEnds = new Set([1000, 1001, 4000, 4001]);

/**
 * WebSocket: one envelope (or gap control) per text frame; resume with `?cursor=`.
 *
 * A handshake refused with 403 looks exactly like an unsupported upgrade to a page
 * (close code 1006, no status): the connection's refusal probe tells them apart.
 */
export const websocketTransport: ClientTransport = {
  name: 'websocket',
  kind: 'stream',
  isSupported: () => typeof WebSocket === 'function',
  open(request) {
    const { sink } = request;
    const url = toWebSocketUrl(withQuery(request.streamUrl, { cursor: request.cursor() }));
    const ws = new WebSocket(url);
    let opened = false;
    let closed = false;
    const acks = new AckTable();
    ws.onopen = () => {
      opened = true;
      sink.open();
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string' && !acks.answer(event.data)) {
        dispatchFrame(event.data, sink);
      }
    };
    ws.onclose = (event) => {
      acks.fail();
      if (closed) return;
      closed = true;
      if (!opened) sink.end({ kind: 'failed', detail: `websocket closed ${event.code}` });
      else if (cleanEnds.has(event.code)) sink.end({ kind: 'clean' });
      else sink.end({ kind: 'dropped', detail: `websocket closed ${event.code}` });
    };
    return {
      close() {
        if (closed) return;
        closed = true;
        ws.onopen = ws.onmessage = ws.onclose = null;
        ws.close(1000);
        acks.fail();
      },
      publish(data) {
        return !closed && ws.readyState === WebSocket.OPEN ? acks.publish(ws, data) : undefined;
      },
    };
  },
};
