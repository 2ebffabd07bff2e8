import { withQuery } from '../url.js';
import { type ClientTransport, dispatchValue } from './transport.js';

type Callbacks = Record<string, ((value: unknown) => void) | undefined>;

/** An iframe that loads this soon without a single call did not stream at all. */
const failFastMs = 2_000;

/**
 * The hidden "forever" iframe (`?transport=iframe&callback=NAME`): the server streams
 * `<script>parent.NAME(envelope)</script>` per message into a hidden frame. The frame's
 * `load` event is the end of the stream.
 *
 * The frame calls `parent.NAME`, which a browser only allows when the frame is
 * same-origin with the page (a cross-origin frame may not touch its parent's
 * globals): across origins, JSONP is the working fallback.
 */
export const iframeTransport: ClientTransport = {
  name: 'iframe',
  kind: 'stream',
  isSupported: () => typeof document !== 'undefined',
  open(request) {
    const { sink } = request;
    const callbacks = globalThis as unknown as Callbacks;
    const name = `__kometFrame${Math.random().toString(36).slice(2)}`;
    const frame = document.createElement('iframe');
    const started = Date.now();
    let calls = 0;
    let closed = false;
    callbacks[name] = (value) => {
      if (closed) return;
      calls += 1;
      if (calls === 1) sink.open();
      dispatchValue(value, sink);
    };
    const stop = () => {
      closed = true;
      frame.onload = null;
      frame.remove();
      delete callbacks[name];
    };
    frame.onload = () => {
      if (closed) return;
      stop();
      if (calls > 0) sink.end({ kind: 'clean' });
      else if (Date.now() - started < failFastMs)
        sink.end({ kind: 'failed', detail: 'iframe ended at once' });
      else sink.end({ kind: 'clean' });
    };
    frame.style.display = 'none';
    frame.setAttribute('aria-hidden', 'true');
    frame.src = withQuery(request.streamUrl, {
      transport: 'iframe',
      callback: name,
      cursor: request.cursor(),
    });
    document.body.append(frame);
    return { close: stop };
  },
};
