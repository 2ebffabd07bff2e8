import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus, longpoll, suspendable } from '../../index.js';
import {
  type BatchBody,
  closeAll,
  expectError,
  getJson,
  held,
  listen,
  publish,
  startChat,
} from './helpers/server.js';

const children = new Set<ChildProcess>();

afterEach(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  children.clear();
  await closeAll();
});

class Lobby {
  @longpoll('/lobby')
  lobby() {
    return 'lobby';
  }
}

describe('graceful shutdown', () => {
  it('answers every held long-poll at once with its cursor, then closes the server', async () => {
    const chat = await startChat();
    const cursors: string[] = [];
    for (let i = 0; i < 5; i++) cursors.push((await publish(chat.bus, 'lobby', i)).id);
    const head = cursors[cursors.length - 1] as string;
    // Held with the head cursor (JSON and JSONP), and with no cursor at all.
    const polls = [
      ...Array.from({ length: 8 }, () =>
        getJson(chat.base, `/rooms/lobby/messages?timeout=55&cursor=${head}`),
      ),
      ...Array.from({ length: 4 }, () => getJson(chat.base, '/rooms/other/messages?timeout=55')),
    ];
    const script = fetch(`${chat.base}/rooms/lobby/messages?timeout=55&callback=cb`);
    await held(chat, 13);

    await chat.push.close();
    expect(chat.server.listening).toBe(false);
    for (const [i, pending] of polls.entries()) {
      const { res, body } = await pending;
      expect(res.status).toBe(200);
      expect(body.messages).toEqual([]);
      expect(body.gap).toBe(false);
      if (i < 8) expect(body.cursor).toBe(head);
      else expect(body.cursor).toBe((await chat.bus.read('room:other')).cursor);
    }
    expect(await (await script).text()).toBe(
      `/**/cb({"messages":[],"cursor":"${head}","gap":false});`,
    );
    expect(chat.push.stats()).toMatchObject({ held: 0, channels: 0, contexts: 0 });
    expect(chat.bus.subscriberCount()).toBe(0);
    // The listener is gone: new connections are refused.
    await expect(fetch(`${chat.base}/health`)).rejects.toThrow();
  });

  it('answers a fresh no-cursor long-poll caught on its first read with the head, not ""', async () => {
    const memory = createMemoryBus();
    // A remote-like bus whose reads wait at a gate the test opens: shutdown lands mid-read.
    let openGate: () => void = () => {};
    const gate = new Promise<void>((r) => {
      openGate = r;
    });
    const bus = {
      ...memory,
      readSync: undefined, // a remote bus has no synchronous read
      read: async (...args: Parameters<typeof memory.read>) => {
        await gate;
        return memory.read(...args);
      },
    };
    const head = await memory.publish('lobby', 1);
    const app = new Koa();
    const push = comet({ bus, controllers: [Lobby] });
    app.use(push);
    const running = await listen(app, push, bus);
    const pending = getJson<BatchBody>(running.base, '/lobby?timeout=55');
    await held(running, 1); // joined, first read still in flight (at the gate)
    const closing = push.close();
    openGate();
    await closing;
    const { res, body } = await pending;
    expect(res.status).toBe(200);
    expect(body).toEqual({ messages: [], cursor: head.id, gap: false });
    // Answered after the server stopped: the connection must not stay open.
    expect(res.headers.get('connection')).toBe('close');
  });

  it('refuses new long-polls and startAsync with 503 once closing', async () => {
    const bus = createMemoryBus();
    const app = new Koa();
    const push = comet({ bus, controllers: [Lobby] });
    app.use(push);
    app.use(
      suspendable((ctx) => {
        ctx.startAsync({ timeout: 1000 });
      }),
    );
    // Not attached: the server stays up after push.close(), as in an app
    // that keeps serving other routes.
    const running = await listen(app, push, bus, false);
    const pending = getJson<BatchBody>(running.base, '/lobby?timeout=55');
    const custom = fetch(`${running.base}/custom`);
    await held(running, 1);
    await new Promise<void>((r) => {
      const check = () => (push.stats().contexts === 1 ? r() : setTimeout(check, 5));
      check();
    });
    await push.close();
    expect((await pending).body.messages).toEqual([]);
    expect((await custom).status).toBe(204);

    const late = await fetch(`${running.base}/lobby?timeout=55`);
    expect(late.headers.get('connection')).toBe('close');
    await expectError(late, 503, 'COMET_ERR_SHUTTING_DOWN');
    await expectError(await fetch(`${running.base}/custom`), 503, 'COMET_ERR_SHUTTING_DOWN');
    expect(push.stats()).toMatchObject({ held: 0, channels: 0, contexts: 0 });
  });

  it('the demo process answers a held long-poll on SIGTERM and exits by itself with 0', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    // `node --import tsx` rather than `npx tsx`: the pid we signal is the server itself.
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/chat/server.ts'], {
      cwd: root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const match = /listening on (http:\/\/[^/\s]+)\//.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
    });
    const posted = await fetch(`${base}/rooms/lobby/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '"x"',
    });
    const { id } = (await posted.json()) as { id: string };
    const pending = getJson(base, `/rooms/lobby/messages?timeout=55&cursor=${id}`);
    // Held once /health counts it.
    for (;;) {
      const { body } = await getJson<{ held: number }>(base, '/health');
      if (body.held === 1) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    child.kill('SIGTERM');
    const { res, body } = await pending;
    expect(res.status).toBe(200);
    expect(body).toEqual({ messages: [], cursor: id, gap: false });
    const deadline = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`still running 5 s after SIGTERM: ${stderr}`)),
        5000,
      ).unref(),
    );
    const [code, signal] = await Promise.race([exited, deadline]);
    expect(signal).toBeNull();
    expect(code).toBe(0);
  });
});
