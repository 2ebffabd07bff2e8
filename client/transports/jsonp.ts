import { withQuery } from '../url.js';
import { deliverBatch, toBatch } from './batch.js';
import type { ClientTransport, TransportRequest } from './transport.js';

/** Extra time past the long-poll hold before a script that never answered is abandoned. */
const graceMs = 15_000;

type Callbacks = Record<string, ((value: unknown) => void) | undefined>;

/**
 * JSONP long-poll: a `<script>` per poll, `&callback=NAME`, the server answers
 * `/**\/NAME({…});`. It needs no CORS, so it is the cross-origin path of last resort.
 * A script tag cannot read a status: a 401/403 shows as `error`, which the
 * connection's refusal probe tells apart from an unreachable server.
 */
export const jsonpTransport: ClientTransport = {
  name: 'jsonp',
  kind: 'batch',
  isSupported: () => typeof document !== 'undefined',
  open(request) {
    let stopped = false;
    let cancel: () => void = () => {};
    let opened = false;
    const step = () => {
      if (stopped) return;
      cancel = poll(request, (outcome) => {
        if (stopped) return;
        if (outcome === null) {
          stopped = true;
          request.sink.end({ kind: opened ? 'dropped' : 'failed', detail: 'jsonp script error' });
          return;
        }
        if (!opened) {
          opened = true;
          request.sink.open();
        }
        deliverBatch(outcome, request.sink);
        step();
      });
    };
    step();
    return {
      close() {
        stopped = true;
        cancel();
      },
    };
  },
};

/** One script-tag poll; calls `done` once with the batch, or null on failure. */
function poll(
  request: TransportRequest,
  done: (batch: ReturnType<typeof toBatch>) => void,
): () => void {
  const callbacks = globalThis as unknown as Callbacks;
  const name = `__kometJsonp${Math.random().toString(36).slice(2)}`;
  const script = document.createElement('script');
  let settled = false;
  const cleanup = () => {
    settled = true;
    clearTimeout(timer);
    script.remove();
    // Leave a no-op behind: a late answer of an abandoned script must not throw.
    callbacks[name] = () => {
      delete callbacks[name];
    };
  };
  const settle = (batch: ReturnType<typeof toBatch>) => {
    if (settled) return;
    cleanup();
    done(batch);
  };
  callbacks[name] = (value) => settle(toBatch(value));
  script.async = true;
  script.src = withQuery(request.longpollUrl, {
    cursor: request.cursor(),
    timeout: request.longpollTimeoutS,
    callback: name,
  });
  // `load` fires after the script ran: if it did not call back, it was no batch.
  script.onload = () => settle(null);
  script.onerror = () => settle(null);
  const timer = setTimeout(() => settle(null), request.longpollTimeoutS * 1000 + graceMs);
  document.head.append(script);
  return cleanup;
}
