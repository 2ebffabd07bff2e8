import { withQuery } from '../url.js';
import {
  type ClientTransport,
  dispatchFrame,
  isRefusal,
  readRefusal,
  type TransportSink,
} from './transport.js';

/**
 * Fetch streaming with NDJSON (`?transport=ndjson`): one envelope per line, an empty
 * line is a heartbeat, a `{"gap":true,…}` line the gap control. The end of the body is
 * the server's clean end (lifetime or byte budget).
 */
export const ndjsonTransport: ClientTransport = {
  name: 'ndjson',
  kind: 'stream',
  isSupported: () =>
    typeof fetch === 'function' &&
    typeof ReadableStream === 'function' &&
    typeof TextDecoder === 'function',
  open(request) {
    const { sink } = request;
    const abort = new AbortController();
    const url = withQuery(request.streamUrl, { transport: 'ndjson', cursor: request.cursor() });
    let done = false;
    const finish = (outcome: Parameters<TransportSink['end']>[0]) => {
      if (done) return;
      done = true;
      sink.end(outcome);
    };
    run(url, request.withCredentials, abort.signal, sink).then(finish, (error: unknown) => {
      if (!abort.signal.aborted) finish(toEnd(error));
    });
    return {
      close() {
        done = true;
        abort.abort();
      },
    };
  },
};

function toEnd(error: unknown): Parameters<TransportSink['end']>[0] {
  return { kind: 'failed', detail: String(error) };
}

async function run(
  url: string,
  withCredentials: boolean,
  signal: AbortSignal,
  sink: TransportSink,
): Promise<Parameters<TransportSink['end']>[0]> {
  const response = await fetch(url, {
    signal,
    cache: 'no-store',
    credentials: withCredentials ? 'include' : 'same-origin',
    headers: { Accept: 'application/x-ndjson' },
  });
  if (isRefusal(response.status)) return readRefusal(response);
  const type = response.headers.get('content-type') ?? '';
  if (!response.ok || response.body === null || !type.includes('ndjson')) {
    await response.body?.cancel();
    return { kind: 'failed', detail: `ndjson status ${response.status} ${type}` };
  }
  sink.open();
  try {
    await readLines(response.body, (line) => {
      if (line === '') sink.activity();
      else dispatchFrame(line, sink);
    });
  } catch (error) {
    if (signal.aborted) throw error;
    return { kind: 'dropped', detail: String(error) };
  }
  return { kind: 'clean' };
}

/** Feeds each complete line of `body` to `onLine`; a trailing partial line is dropped. */
async function readLines(
  body: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += decoder.decode(value, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      onLine(pending.slice(0, newline).replace(/\r$/, ''));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  }
}
