import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, expectError, getJson, publish, startChat } from './helpers/server.js';

afterEach(closeAll);

describe('poll', () => {
  it('answers at once with the head cursor when no cursor is given', async () => {
    const chat = await startChat();
    await publish(chat.bus, 'lobby', 1);
    const head = await publish(chat.bus, 'lobby', 2);
    const { res, body } = await getJson(chat.base, '/rooms/lobby/unread');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(body).toEqual({ messages: [], cursor: head.id, gap: false });
    expect(chat.push.stats().held).toBe(0);
  });

  it('answers the messages after the cursor', async () => {
    const chat = await startChat();
    const first = await publish(chat.bus, 'lobby', 1);
    const second = await publish(chat.bus, 'lobby', 2);
    const { body } = await getJson(chat.base, `/rooms/lobby/unread?cursor=${first.id}`);
    expect(body).toEqual({
      messages: [{ id: second.id, channel: 'room:lobby', data: 2 }],
      cursor: second.id,
      gap: false,
    });
    const empty = await getJson(chat.base, `/rooms/lobby/unread?cursor=${second.id}`);
    expect(empty.body).toEqual({ messages: [], cursor: second.id, gap: false });
  });

  it('sends an ETag, 304 on If-None-Match, and a new ETag after a publish', async () => {
    const chat = await startChat();
    const cursor = (await publish(chat.bus, 'lobby', 1)).id;
    const url = `${chat.base}/rooms/lobby/unread?cursor=${cursor}`;
    const first = await fetch(url);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    await first.text();

    const again = await fetch(url, { headers: { 'If-None-Match': etag ?? '' } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe('no-cache');
    expect(await again.text()).toBe('');

    const weak = await fetch(url, { headers: { 'If-None-Match': `"other", W/${etag}` } });
    expect(weak.status).toBe(304);

    await publish(chat.bus, 'lobby', 2);
    const changed = await fetch(url, { headers: { 'If-None-Match': etag ?? '' } });
    expect(changed.status).toBe(200);
    const next = changed.headers.get('etag');
    expect(next).toMatch(/^"[\w-]+"$/);
    expect(next).not.toBe(etag);
    expect(((await changed.json()) as { messages: unknown[] }).messages).toHaveLength(1);
  });

  it('refuses a malformed cursor with 400 JSON', async () => {
    const chat = await startChat();
    const res = await fetch(`${chat.base}/rooms/lobby/unread?cursor=not-a-cursor!`);
    await expectError(res, 400, 'COMET_ERR_CURSOR_MALFORMED');
  });
});
