/**
 * htmx 2 with its SSE extension (htmx-ext-sse) in Chromium, against `@stream` routes
 * that name (`event`) and render (`render`) their events: published markup arrives
 * as text unless the route renders it on purpose, and a rendered fragment holding
 * CR/LF and field-like lines stays one event.
 */
import { readFileSync } from 'node:fs';
import Koa from 'koa';
import { expect, it } from 'vitest';
import { comet, createMemoryBus, stream } from '../../index.js';
import { closeServer, createBrowserSession, describeBrowser, listen } from './harness.js';

const modules = new URL('../../node_modules/', import.meta.url);
const scripts: Record<string, string> = {
  '/htmx.js': readFileSync(new URL('htmx.org/dist/htmx.min.js', modules), 'utf8'),
  '/sse.js': readFileSync(new URL('htmx-ext-sse/sse.js', modules), 'utf8'),
};

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>htmx</title>
<script src="/htmx.js"></script><script src="/sse.js"></script></head>
<body>
<ul id="escaped" hx-ext="sse" sse-connect="/feed/escaped" sse-swap="chat" hx-swap="beforeend"></ul>
<div hx-ext="sse" sse-connect="/feed/rendered">
  <ul id="rendered" sse-swap="chat" hx-swap="beforeend"></ul>
  <div id="forged" sse-swap="forged"></div>
</div>
</body></html>`;

async function start() {
  const bus = createMemoryBus();
  const room = () => 'room:htmx';
  const push = comet({
    bus,
    routes: [
      stream('/feed/escaped', { event: 'chat' }, room),
      // Rendered on purpose: the data is trusted markup here.
      stream(
        '/feed/rendered',
        { event: 'chat', render: (m) => `<li>${String(m.data)}</li>` },
        room,
      ),
    ],
  });
  const app = new Koa();
  app.use(push);
  app.use(async (ctx) => {
    const script = scripts[ctx.path];
    if (script !== undefined) {
      ctx.type = 'application/javascript';
      ctx.body = script;
    } else if (ctx.path === '/') {
      ctx.type = 'html';
      ctx.body = page;
    }
  });
  const { server, base } = await listen(app);
  push.attach(server, app);
  return {
    bus,
    push,
    base,
    async stop() {
      const closed = push.close();
      await closeServer(server);
      await closed;
      await bus.close();
    },
  };
}

const session = createBrowserSession();

describeBrowser('htmx SSE extension', session, () => {
  it('shows published markup as text, renders on purpose, and keeps CR/LF inside one event', async () => {
    const server = session.stopAfterTest(await start());
    const tab = await session.browser.newPage();
    await tab.goto(`${server.base}/`);
    // Both EventSources are open on the server.
    await expect.poll(() => server.push.stats().held, { timeout: 20_000 }).toBe(2);

    await server.bus.publish('room:htmx', '<b>markup</b>');
    await tab.waitForFunction(
      "document.querySelector('#escaped').textContent !== '' && document.querySelector('#rendered li') !== null",
      undefined,
      { timeout: 20_000 },
    );
    expect(await tab.textContent('#escaped')).toBe('<b>markup</b>');
    expect(await tab.$('#escaped b')).toBeNull();
    expect(await tab.textContent('#rendered li b')).toBe('markup');

    // A fragment trying to end its event and forge another: still one `chat` event.
    await server.bus.publish('room:htmx', '<i>one</i>\r\nevent: forged\n\ndata: <u>two</u>');
    await server.bus.publish('room:htmx', '<s>end</s>');
    await tab.waitForFunction("document.querySelector('#rendered s') !== null", undefined, {
      timeout: 20_000,
    });
    const items = await tab.$$eval('#rendered li', (lis) => lis.map((li) => li.innerHTML));
    expect(items).toEqual([
      '<b>markup</b>',
      '<i>one</i>\nevent: forged\n\ndata: <u>two</u>',
      '<s>end</s>',
    ]);
    // Same connection, in order: a forged event would have arrived before `end`.
    expect(await tab.textContent('#forged')).toBe('');
    await tab.close();
  });
});
