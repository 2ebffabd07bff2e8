import { absoluteUrl, isCrossOrigin, withQuery } from '../url.js';
import { type ClientTransport, dispatchValue } from './transport.js';

type Callbacks = Record<string, ((value: unknown) => void) | undefined>;

/** An iframe that loads this soon without a single call did not stream at all. */
const failFastMs = 2_000;

/** How often to look whether the frame's document has started to arrive, ms. */
const commitPollMs = 200;

/**
 * The hidden "forever" iframe (`?transport=iframe&callback=NAME`): the server streams
 * one script per message into a hidden frame. The frame's `load` event is the end of
 * the stream. It counts as open once the server's page has been arriving for a
 * moment without ending (the frame left `about:blank` and is still loading) or at
 * the first call, whichever is first: a quiet room sends no call for a long time, and the opening deadline must
 * not take that for a stream that never opened.
 *
 * Same origin, each script calls `parent.NAME(envelope)`. A cross-origin frame may not
 * touch its parent's globals, so for a stream URL on another origin the client adds
 * `&origin=<location.origin>` and the server posts `{callback, message}` with
 * `parent.postMessage(…, origin)` instead; the page accepts a post only when
 * `event.origin` is the server's origin and `event.source` is its own frame (any other
 * window could post the same shape). The server answers 403 for an origin not on its
 * CORS allow-list; a page with an opaque origin (`file://`) cannot be addressed at all.
 */
export const iframeTransport: ClientTransport = {
  name: 'iframe',
  kind: 'stream',
  isSupported: () => typeof document !== 'undefined',
  open(request) {
    const { sink } = request;
    const name = `__kometFrame${Math.random().toString(36).slice(2)}`;
    const frame = document.createElement('iframe');
    const crossOrigin = isCrossOrigin(request.streamUrl);
    const started = Date.now();
    let calls = 0;
    let closed = false;
    let opened = false;
    const markOpen = () => {
      if (opened) return;
      opened = true;
      clearInterval(commitPoll);
      sink.open();
    };
    const deliver = (value: unknown) => {
      if (closed) return;
      calls += 1;
      markOpen();
      dispatchValue(value, sink);
    };
    // Seen streaming on two polls in a row: an error page (a 403) has fired `load`
    // by then, which is all a cross-origin parent can tell it by.
    let streamingPolls = 0;
    const commitPoll = setInterval(() => {
      streamingPolls = isStreaming(frame) ? streamingPolls + 1 : 0;
      if (!closed && streamingPolls >= 2) markOpen();
    }, commitPollMs);
    const unlisten = crossOrigin
      ? listenForPosts(frame, name, absoluteUrl(request.streamUrl).origin, deliver)
      : listenForCalls(name, deliver);
    const stop = () => {
      closed = true;
      clearInterval(commitPoll);
      frame.onload = null;
      frame.remove();
      unlisten();
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
      origin: crossOrigin ? location.origin : null,
      cursor: request.cursor(),
    });
    document.body.append(frame);
    return { close: stop };
  },
};

/**
 * Has the server's page started to arrive and is it still streaming? Same origin: the
 * frame left `about:blank` and its document is still loading (an error page loads
 * completely at once). Cross-origin the frame's location cannot be read at all, which
 * itself says the navigation committed.
 */
function isStreaming(frame: HTMLIFrameElement): boolean {
  try {
    const view = frame.contentWindow;
    if (view === null || view.location.href === 'about:blank') return false;
    return view.document.readyState === 'loading';
  } catch {
    return true;
  }
}

/** Same origin: the frame calls `parent.NAME(value)`. */
function listenForCalls(name: string, deliver: (value: unknown) => void): () => void {
  const callbacks = globalThis as unknown as Callbacks;
  callbacks[name] = deliver;
  return () => {
    delete callbacks[name];
  };
}

/** Cross-origin: the frame posts `{callback: NAME, message}`; only its own posts count. */
function listenForPosts(
  frame: HTMLIFrameElement,
  name: string,
  serverOrigin: string,
  deliver: (value: unknown) => void,
): () => void {
  const onPost = (event: MessageEvent) => {
    if (event.origin !== serverOrigin || event.source !== frame.contentWindow) return;
    const data = event.data as { callback?: unknown; message?: unknown } | null;
    if (typeof data === 'object' && data !== null && data.callback === name) deliver(data.message);
  };
  addEventListener('message', onPost);
  return () => removeEventListener('message', onPost);
}
