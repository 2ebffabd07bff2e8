import { parseBatch } from './transports/batch.js';
import type { Batch } from './types.js';
import { withQuery } from './url.js';

/** What a refusal probe learned, a union on `kind`. */
export type ProbeResult =
  | { readonly kind: 'refused'; readonly status: number }
  | { readonly kind: 'reachable' }
  | { readonly kind: 'unreachable' };

/**
 * Asks the server with a plain `fetch` whether it refuses this client (401/403).
 *
 * Browsers hide why a WebSocket handshake, an EventSource or a script tag failed:
 * a 403 and a missing feature look the same. The probe reads the status and aborts
 * at once, so a stream route costs one short request. A CORS-blocked answer (a
 * `TypeError` in cors mode, but an opaque answer in `no-cors` mode) is "reachable":
 * the server is there, only this way of asking is closed, so falling back is right.
 */
export async function probeRefusal(
  url: string,
  withCredentials: boolean,
  timeoutMs = 5_000,
): Promise<ProbeResult> {
  const credentials: RequestCredentials = withCredentials ? 'include' : 'same-origin';
  try {
    const response = await fetchHead(url, { credentials, cache: 'no-store' }, timeoutMs);
    if (response.status === 401 || response.status === 403) {
      return { kind: 'refused', status: response.status };
    }
    return { kind: 'reachable' };
  } catch {
    try {
      await fetchHead(url, { credentials, cache: 'no-store', mode: 'no-cors' }, timeoutMs);
      return { kind: 'reachable' };
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

/** Resolves with the response as soon as its headers arrive, then drops the body. */
async function fetchHead(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const response = await fetch(url, { ...init, signal: abort.signal });
    abort.abort();
    return response;
  } finally {
    clearTimeout(timer);
  }
}
