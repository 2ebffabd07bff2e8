import { parseBatch } from './transports/batch.js';
import { isRefusal, readRefusal } from './transports/transport.js';
import type { Batch } from './types.js';
import { withQuery } from './url.js';

/** What a refusal probe learned, a union on `kind`. */
export type ProbeResult =
  | {
      readonly kind: 'refused';
      readonly status: number;
      readonly code: string | null;
      readonly message: string | null;
    }
  | { readonly kind: 'reachable' }
  | { readonly kind: 'unreachable' };

/**
 * Asks the server with a plain `fetch` whether it refuses this request: a 4xx and its
 * error code (a malformed cursor, 401/403, an unknown route).
 *
 * Browsers hide why a WebSocket handshake, an EventSource or a script tag failed:
 * a 400, a 403 and a missing feature look the same. The probe asks the same URL (the
 * cursor included) and reads only a refusal's body; any other answer is dropped as
 * soon as its headers arrive, so a stream route costs one short request. A
 * CORS-blocked answer (a `TypeError` in cors mode, but an opaque answer in `no-cors`
 * mode) is "reachable": the server is there, only this way of asking is closed, so
 * falling back is right.
 */
export async function probeRefusal(
  url: string,
  withCredentials: boolean,
  timeoutMs = 5_000,
): Promise<ProbeResult> {
  const credentials: RequestCredentials = withCredentials ? 'include' : 'same-origin';
  try {
    return await fetchHead(url, { credentials, cache: 'no-store' }, timeoutMs, async (response) =>
      isRefusal(response.status) ? readRefusal(response) : { kind: 'reachable' },
    );
  } catch {
    try {
      const init: RequestInit = { credentials, cache: 'no-store', mode: 'no-cors' };
      return await fetchHead(url, init, timeoutMs, async () => ({ kind: 'reachable' }));
    } catch {
      return { kind: 'unreachable' };
    }
  }
}

/**
 * One immediate poll of the long-poll route (`timeout=0`): the messages after
 * `cursor`, or null when the route did not answer with a batch in time.
 */
export async function probeBatch(
  longpollUrl: string,
  cursor: string | null,
  withCredentials: boolean,
  timeoutMs = 5_000,
): Promise<Batch | null> {
  const url = withQuery(longpollUrl, { cursor, timeout: 0 });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const response = await fetch(url, {
      signal: abort.signal,
      cache: 'no-store',
      credentials: withCredentials ? 'include' : 'same-origin',
      headers: { Accept: 'application/json' },
    });
    // A stream route would never end: only read bodies that are batches.
    if (!response.ok || !(response.headers.get('content-type') ?? '').includes('json')) {
      abort.abort();
      return null;
    }
    return parseBatch(await response.text());
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** Fetches `url`, lets `read` look at the answer (within the time limit), then drops the rest. */
async function fetchHead<T>(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    return await read(await fetch(url, { ...init, signal: abort.signal }));
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
