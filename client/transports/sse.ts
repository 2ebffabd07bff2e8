import { withQuery } from '../url.js';
import { type ClientTransport, dispatchFrame } from './transport.js';

/**
 * Server-Sent Events through `EventSource`: `data:` is the envelope, `event: reset`
 * the gap control.
 *
 * EventSource would reconnect by itself, but it hides the status of a failed
 * reconnect and comment heartbeats; the client closes it on the first `error` and
 * resumes with its own cursor, so every transport reconnects the same way.
 */
export const sseTransport: ClientTransport = {
  name: 'sse',
  kind: 'stream',
  isSupported: () => typeof EventSource === 'function',
  open(request) {
    const { sink } = request;
    const url = withQuery(request.streamUrl, { cursor: request.cursor() });
    const es = new EventSource(url, { withCredentials: request.withCredentials });
    let opened = false;
    let closed = false;
    es.onopen = () => {
      opened = true;
      sink.open();
    };
    es.onmessage = (event) => dispatchFrame(event.data, sink);
    es.addEventListener('reset', (event) => dispatchFrame((event as MessageEvent).data, sink));
    es.onerror = () => {
      if (closed) return;
      closed = true;
      es.close();
      // After an open, an error is the server ending the stream or the network
      // dropping it; EventSource does not say which.
      sink.end(
        opened ? { kind: 'dropped', detail: 'sse error' } : { kind: 'failed', detail: 'sse error' },
      );
    };
    return {
      close() {
        closed = true;
        es.close();
      },
    };
  },
};
