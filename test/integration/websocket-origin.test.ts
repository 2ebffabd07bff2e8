/**
 * WebSocket Origin with `'*'` (issue 10, finding 4): `'*'` means what it
 * means for CORS — any origin, never with credentials. On the demo app's
 * `@stream` route, through the real `comet()` upgrade path and `ws` as the
 * client: a foreign origin opens without credentials and is refused 403
 * (JSON body, no handshake) with a `Cookie` or `Authorization`; an origin
 * listed by name, the page's own origin and a non-browser client (no
 * `Origin`) open with cookies.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { closeAll, type Running, startChat } from './helpers/server.js';

const LISTED = 'https://app.example';
const FOREIGN = 'https://evil.example';
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await closeAll();
});

function open(chat: Running, origin: string | undefined, headers: Record<string, string> = {}) {
  const url = `${chat.base.replace('http:', 'ws:')}/rooms/lobby/live`;
  const ws = new WebSocket(url, { headers, ...(origin === undefined ? {} : { origin }) });
  ws.on('error', () => {});
  clients.push(ws);
  return ws;
}

/** Resolves when `ws` opens and receives a message published after it opened. */
async function opensAndDelivers(chat: Running, ws: WebSocket): Promise<void> {
  await once(ws, 'open');
  const frame = once(ws, 'message');
  const sent = await chat.bus.publish('room:lobby', { text: 'hi' });
  const [data] = (await frame) as [Buffer];
  expect(JSON.parse(data.toString())).toMatchObject({ id: sent.id, data: { text: 'hi' } });
}

async function refused(ws: WebSocket): Promise<void> {
  const opened = once(ws, 'open').then(() => {
    throw new Error('the handshake completed (101)');
  });
  const answer = once(ws, 'unexpected-response');
  const [, res] = (await Promise.race([answer, opened])) as [unknown, IncomingMessage];
  expect(res.statusCode).toBe(403);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({
    error: { code: 'COMET_ERR_ORIGIN_FORBIDDEN', message: 'Origin not allowed' },
  });
}

describe("WebSocket with cors: { origins: ['*', listed] }", () => {
  const start = () => startChat({ cors: { origins: ['*', LISTED] } });

  it('opens from a foreign origin without credentials', async () => {
    const chat = await start();
    await opensAndDelivers(chat, open(chat, FOREIGN));
  });

  it.each([
    ['a Cookie', { Cookie: 'session=victim' }],
    ['an Authorization', { Authorization: 'Bearer victim' }],
  ])(
    'refuses a foreign origin carrying %s with 403, before anything subscribes',
    async (_, headers) => {
      const chat = await start();
      await refused(open(chat, FOREIGN, headers));
      expect(chat.bus.subscriberCount()).toBe(0);
    },
  );

  it('opens from an origin listed by name, with cookies', async () => {
    const chat = await start();
    await opensAndDelivers(chat, open(chat, LISTED, { Cookie: 'session=user' }));
  });

  it('opens from the page’s own origin and from a non-browser client, with cookies', async () => {
    const chat = await start();
    await opensAndDelivers(chat, open(chat, chat.base, { Cookie: 'session=user' }));
    await opensAndDelivers(chat, open(chat, undefined, { Authorization: 'Bearer token' }));
  });
});

describe("WebSocket with cors: { origins: ['*'] } only", () => {
  it('lets no foreign origin through with a Cookie', async () => {
    const chat = await startChat({ cors: { origins: ['*'] } });
    await refused(open(chat, LISTED, { Cookie: 'session=user' }));
    await opensAndDelivers(chat, open(chat, LISTED));
  });
});
