/**
 * WebSocket both ways: a client's `{"op":"publish"}` frame on a `@stream`
 * socket publishes under the route's `publish.allow` hook and the POST
 * route's body rules, acked (or refused with a coded error frame) on the
 * same socket; a flooding client is closed with 4029.
 */
import { readFileSync } from 'node:fs';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { comet, createMemoryBus, stream } from '../../index.js';
import { closeAll, getJson, listen, type Running, startChat } from './helpers/server.js';

afterEach(closeAll);

const DOC = readFileSync(new URL('../../docs/reference/wire-formats.md', import.meta.url), 'utf8');

/** The one line of the `<!-- wire:name -->` block. */
function wire(name: string): string {
  const match = new RegExp(`<!-- wire:${name} -->\\n\`\`\`\\n(.*)\\n\`\`\``).exec(DOC);
  if (!match) throw new Error(`no wire:${name} block`);
  return match[1] as string;
}

const sockets = new Set<WebSocket>();
afterEach(() => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
});

class Board {
  @stream('/board/:name', {
    publish: {
      // Writers only, and never a "secret" key.
      allow: (ctx: RouterContext, data) =>
        ctx.query['role'] === 'writer' && !(typeof data === 'object' && data && 'secret' in data),
      burst: 3,
      perSecond: 0.001,
    },
  })
  board(ctx: RouterContext) {
    return `board:${ctx.params.name}`;
  }

  @stream('/readonly')
  readonly() {
    return 'readonly';
  }
}

async function startBoard(): Promise<Running> {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({ bus, controllers: [Board] });
  app.use(push);
  return listen(app, push, bus);
}

interface Reply {
  op: 'ack' | 'error';
  ref?: string;
  id?: string;
  error?: { code: string; message: string };
}

/** An open socket and its replies (control and envelope frames are skipped). */
async function socket(base: string, path: string) {
  const ws = new WebSocket(base.replace('http', 'ws') + path);
  sockets.add(ws);
  const replies: Reply[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (raw) => {
    const frame = JSON.parse(String(raw)) as Reply;
    if (frame.op === undefined) return;
    replies.push(frame);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    closed,
    send: (frame: unknown) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    /** The reply for `ref` (waits for it). */
    async reply(ref: string): Promise<Reply> {
      for (;;) {
        const found = replies.find((r) => r.ref === ref);
        if (found) return found;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    replies,
  };
}

describe('WebSocket publish on the demo route', () => {
  it('acks a publish with the id the long-poll route then returns', async () => {
    const chat = await startChat();
    const head = (await getJson(chat.base, '/rooms/lobby/unread')).body.cursor;
    const client = await socket(chat.base, '/rooms/lobby/live');
    client.send({ op: 'publish', ref: 'r1', data: { text: 'hello' } });
    const ack = await client.reply('r1');
    expect(ack).toEqual({ op: 'ack', ref: 'r1', id: expect.any(String) });
    const { body } = await getJson(chat.base, `/rooms/lobby/messages?cursor=${head}&timeout=0`);
    expect(body.messages).toEqual([{ id: ack.id, channel: 'room:lobby', data: { text: 'hello' } }]);
  });

  it('takes 65,536 bytes of data and refuses 65,537 with COMET_ERR_BODY_TOO_LARGE', async () => {
    const chat = await startChat();
    const client = await socket(chat.base, '/rooms/lobby/live');
    client.send({ op: 'publish', ref: 'fits', data: 'x'.repeat(65_534) }); // 65,536 as JSON
    client.send({ op: 'publish', ref: 'over', data: 'x'.repeat(65_535) });
    expect((await client.reply('fits')).op).toBe('ack');
    const over = await client.reply('over');
    expect(over.op).toBe('error');
    expect(over.error?.code).toBe('COMET_ERR_BODY_TOO_LARGE');
    expect((await chat.bus.read('room:lobby', 'earliest')).messages).toHaveLength(1);
  });

  it('closes with 1009 on a frame past the limit plus 1 KiB', async () => {
    const chat = await startChat();
    const client = await socket(chat.base, '/rooms/lobby/live');
    client.send({ op: 'publish', ref: 'huge', data: 'x'.repeat(65_536 + 2048) });
    expect((await client.closed).code).toBe(1009);
  });

  it('answers malformed frames and deep nesting with coded error frames', async () => {
    const chat = await startChat();
    const client = await socket(chat.base, '/rooms/lobby/live');
    client.send('not json');
    client.send({ op: 'subscribe', ref: 'bad-op', data: 1 });
    let deep: unknown = 1;
    for (let i = 0; i < 65; i++) deep = [deep];
    client.send({ op: 'publish', ref: 'deep', data: deep });
    expect((await client.reply('bad-op')).error?.code).toBe('COMET_ERR_FRAME_MALFORMED');
    expect((await client.reply('deep')).error?.code).toBe('COMET_ERR_BODY_MALFORMED');
    expect(client.replies[0]).toEqual({
      op: 'error',
      error: { code: 'COMET_ERR_FRAME_MALFORMED', message: expect.any(String) },
    });
    expect((await chat.bus.read('room:lobby', 'earliest')).messages).toEqual([]);
  });
});

describe('WebSocket publish frames as documented in wire-formats.md', () => {
  it('answers the documented publish frame with the documented ack, byte for byte', async () => {
    const chat = await startChat({ bus: createMemoryBus({ epoch: 'k1' }) });
    const client = await socket(chat.base, '/rooms/lobby/live');
    const raw = new Promise<string>((resolve) =>
      client.ws.on('message', (data) => {
        if (String(data).includes('"op"')) resolve(String(data));
      }),
    );
    client.send(wire('ws-publish'));
    expect(await raw).toBe(wire('ws-ack'));
  });

  it('answers a refused publish with the documented error frame', async () => {
    const board = await startBoard();
    const client = await socket(board.base, '/board/a');
    const raw = new Promise<string>((resolve) =>
      client.ws.on('message', (data) => {
        if (String(data).includes('"op"')) resolve(String(data));
      }),
    );
    client.send(wire('ws-publish'));
    expect(await raw).toBe(wire('ws-error'));
  });
});

describe('WebSocket publish checks and bounds', () => {
  it('refuses an unauthorised publish with a coded error frame and publishes nothing', async () => {
    const board = await startBoard();
    const reader = await socket(board.base, '/board/a');
    reader.send({ op: 'publish', ref: 'r', data: 'hi' });
    expect(await reader.reply('r')).toEqual({
      op: 'error',
      ref: 'r',
      error: { code: 'COMET_ERR_AUTH_FORBIDDEN', message: 'Forbidden' },
    });
    const writer = await socket(board.base, '/board/a?role=writer');
    writer.send({ op: 'publish', ref: 's', data: { secret: 1 } });
    expect((await writer.reply('s')).error?.code).toBe('COMET_ERR_AUTH_FORBIDDEN');
    expect((await board.bus.read('board:a', 'earliest')).messages).toEqual([]);
    writer.send({ op: 'publish', ref: 'ok', data: 'hi' });
    const ack = await writer.reply('ok');
    expect((await board.bus.read('board:a', 'earliest')).messages.map((m) => m.id)).toEqual([
      ack.id,
    ]);
  });

  it('answers COMET_ERR_PUBLISH_DISABLED on a route without the publish option', async () => {
    const board = await startBoard();
    const client = await socket(board.base, '/readonly');
    client.send({ op: 'publish', ref: 'r', data: 1 });
    expect((await client.reply('r')).error?.code).toBe('COMET_ERR_PUBLISH_DISABLED');
    expect((await board.bus.read('readonly', 'earliest')).messages).toEqual([]);
  });

  it('closes a flooding client with 4029 after its burst', async () => {
    const board = await startBoard();
    const client = await socket(board.base, '/board/f?role=writer');
    for (let i = 0; i < 10; i++) client.send({ op: 'publish', ref: `f${i}`, data: i });
    expect(await client.closed).toEqual({ code: 4029, reason: 'flood' });
    const published = (await board.bus.read('board:f', 'earliest')).messages;
    expect(published.map((m) => m.data)).toEqual([0, 1, 2]);
  });
});
