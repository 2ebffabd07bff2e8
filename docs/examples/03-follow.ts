/**
 * Following a long-poll route from Node with `fetch`,
 * carrying the cursor from one answer to the next request.
 */

/** One message as every transport carries it. */
export interface Envelope {
  id: string;
  channel: string;
  data: unknown;
}

/** What a long-poll, poll or JSONP request answers. */
export interface Batch {
  messages: Envelope[];
  cursor: string;
  gap: boolean;
}

/** What {@link follow} yields: a message, or a gap to re-sync after. */
export type FollowEvent = { kind: 'message'; message: Envelope } | { kind: 'gap'; cursor: string };

// #region follow
/**
 * Follows a `@longpoll` route: yields every message after `cursor` (none:
 * from now; `'earliest'`: from the oldest kept), exactly once, in order.
 */
export async function* follow(
  url: string,
  cursor?: string,
  signal?: AbortSignal,
): AsyncGenerator<FollowEvent> {
  while (!signal?.aborted) {
    const request = new URL(url);
    if (cursor !== undefined) request.searchParams.set('cursor', cursor);
    const response = await fetch(request, { signal: signal ?? null });
    if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
    const batch = (await response.json()) as Batch;
    // A gap: messages after our cursor were lost (history is bounded, or the
    // server restarted). Re-sync the application's state, then go on.
    if (batch.gap) yield { kind: 'gap', cursor: batch.cursor };
    for (const message of batch.messages) yield { kind: 'message', message };
    cursor = batch.cursor; // the next request continues exactly here
  }
}
// #endregion follow
