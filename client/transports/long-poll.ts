import { withQuery } from '../url.js';
import { deliverBatch, parseBatch } from './batch.js';
import {
  type ClientTransport,
  isRefusal,
  readRefusal,
  type TransportRequest,
} from './transport.js';

/**
 * XHR-style long-poll with `fetch`: `GET <longpollUrl>?cursor=ID&timeout=S` in a loop,
 * each answer a batch `{messages, cursor, gap}`. The first answer counts as "open";
 * an answer with `messages: []` is the server's timeout and a sign of life.
 */
export const longpollTransport: ClientTransport = {
  name: 'long-poll',
  kind: 'batch',
  isSupported: () => typeof fetch === 'function',
  open(request) {
    const abort = new AbortController();
    loop(request, abort.signal).catch(() => {
      // loop reports every outcome through the sink itself; only aborts land here.
    });
    return {
      close() {
        abort.abort();
      },
    };
  },
};

async function loop(request: TransportRequest, signal: AbortSignal): Promise<void> {
  const { sink } = request;
  let opened = false;
  while (!signal.aborted) {
    const url = withQuery(request.longpollUrl, {
      cursor: request.cursor(),
      timeout: request.longpollTimeoutS,
    });
    let response: Response;
    try {
      response = await fetch(url, {
        signal,
        cache: 'no-store',
        credentials: request.withCredentials ? 'include' : 'same-origin',
        headers: { Accept: 'application/json' },
      });
    } catch (error) {
      if (signal.aborted) return;
      return sink.end({ kind: opened ? 'dropped' : 'failed', detail: String(error) });
    }
    if (isRefusal(response.status)) return sink.end(await readRefusal(response));
    const batch = response.ok ? parseBatch(await response.text().catch(() => '')) : null;
    if (signal.aborted) return;
    if (batch === null) {
      const detail = `longpoll status ${response.status}`;
      return sink.end({ kind: opened ? 'dropped' : 'failed', detail });
    }
    if (!opened) {
      opened = true;
      sink.open();
    }
    deliverBatch(batch, sink);
  }
}
