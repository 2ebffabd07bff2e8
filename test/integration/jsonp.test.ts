import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, expectError, held, publish, rawExchange, startChat } from './helpers/server.js';

afterEach(closeAll);

describe('JSONP long-poll', () => {
  it('wraps the batch as /**/NAME({...}); with script headers', async () => {
    const chat = await startChat();
    const pending = fetch(`${chat.base}/rooms/lobby/messages?timeout=30&callback=app.comet.onMsg`);
    await held(chat, 1);
    const m = await publish(chat.bus, 'lobby', { text: 'hi' });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store, no-transform');
    const batch = JSON.stringify({
      messages: [{ id: m.id, channel: 'room:lobby', data: { text: 'hi' } }],
      cursor: m.id,
      gap: false,
    });
    expect(await res.text()).toBe(`/**/app.comet.onMsg(${batch});`);
  });

  it('escapes U+2028 and U+2029 in the script body (exact bytes)', async () => {
    const chat = await startChat();
    const m = await publish(chat.bus, 'lobby', 'a\u2028b\u2029c');
    const raw = await rawExchange(
      chat.port,
      'GET /rooms/lobby/messages?cursor=earliest&callback=cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const [head, body] = raw.split('\r\n\r\n') as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toContain('\r\nContent-Type: application/javascript; charset=utf-8\r\n');
    expect(head).toContain(`\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`);
    expect(body).not.toMatch(/[\u2028\u2029]/);
    expect(body).toBe(
      `/**/cb({"messages":[{"id":"${m.id}","channel":"room:lobby","data":"a\\u2028b\\u2029c"}],"cursor":"${m.id}","gap":false});`,
    );
    // Still the same data once evaluated as a script would.
    const seen: unknown[] = [];
    new Function('cb', body)((batch: { messages: { data: unknown }[] }) =>
      seen.push(batch.messages[0]?.data),
    );
    expect(seen).toEqual(['a\u2028b\u2029c']);
  });

  it('answers a timeout as a callback with no messages', async () => {
    const chat = await startChat();
    const head = await publish(chat.bus, 'lobby', 1);
    const res = await fetch(`${chat.base}/rooms/lobby/messages?timeout=0&callback=_$cb9`);
    expect(await res.text()).toBe(`/**/_$cb9({"messages":[],"cursor":"${head.id}","gap":false});`);
  });

  it('accepts names at the limits: 64-character parts, four parts', async () => {
    const chat = await startChat();
    for (const name of [`a${'b'.repeat(63)}`, 'a.b.c.d', '$', '_']) {
      const res = await fetch(`${chat.base}/rooms/lobby/messages?timeout=0&callback=${name}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(new RegExp(`^/\\*\\*/${name.replace(/\$/g, '\\$')}\\(`));
    }
  });

  const hostile: [string, string][] = [
    ['a call', 'callback=alert(1)'],
    ['a space', 'callback=a%20b'],
    ['markup', 'callback=%3Cscript%3E'],
    ['an empty part', 'callback=a..b'],
    ['a 65-character part', `callback=a${'b'.repeat(64)}`],
    ['five parts', 'callback=a.b.c.d.e'],
    ['brackets', 'callback=a%5B0%5D'],
    ['an empty name', 'callback='],
    ['a repeated parameter', 'callback=a&callback=b'],
    ['a leading digit', 'callback=1a'],
    ['a non-ASCII letter', 'callback=%C3%A9'],
    ['a trailing dot', 'callback=a.'],
  ];
  for (const [what, query] of hostile) {
    it(`refuses ${what} with 400 COMET_ERR_CALLBACK_INVALID`, async () => {
      const chat = await startChat();
      const res = await fetch(`${chat.base}/rooms/lobby/messages?timeout=0&${query}`);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      await expectError(res, 400, 'COMET_ERR_CALLBACK_INVALID');
      expect(chat.push.stats().held).toBe(0);
    });
  }
});
