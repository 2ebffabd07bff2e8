/**
 * The poll route's 304 is its own ETag check, not Koa's `ctx.fresh`: fetch()
 * sends `Cache-Control: no-cache` with every request carrying
 * `If-None-Match`, which `ctx.fresh` treats as "stale".
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, publish, startChat } from './helpers/server.js';

afterEach(closeAll);

describe('poll revalidation', () => {
  it('answers 304 to If-None-Match even with Cache-Control: no-cache, as fetch() sends it', async () => {
    const chat = await startChat();
    const cursor = (await publish(chat.bus, 'lobby', 1)).id;
    const url = `${chat.base}/rooms/lobby/unread?cursor=${cursor}`;
    const first = await fetch(url);
    const etag = first.headers.get('etag') ?? '';
    await first.text();
    const requests: Record<string, string>[] = [
      { 'If-None-Match': etag, 'Cache-Control': 'no-cache', Pragma: 'no-cache' },
      { 'If-None-Match': '*', 'Cache-Control': 'no-cache' },
    ];
    for (const headers of requests) {
      const again = await fetch(url, { headers });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
    }
  });
});
