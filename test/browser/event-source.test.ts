/**
 * Third-party SSE clients against the real rooms in Chromium, with every
 * request counted server-side: a native EventSource given a bad cursor (in
 * the URL, or as the `Last-Event-ID` it reconnects with) stops after the
 * 400 instead of reconnecting forever; one given another epoch's id gets the
 * `reset` event, then live messages; `event-source-polyfill` (which resumes
 * with `?lastEventId=`) loses nothing across a forced reconnect.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { Rooms } from '../../examples/chat/app.js';
import { comet, createMemoryBus } from '../../index.js';
import { closeServer, createBrowserSession, describeBrowser, listen } from './harness.js';

const chromium = createBrowserSession();

const polyfill = readFileSync(
  fileURLToPath(
    new URL('../../node_modules/event-source-polyfill/src/eventsource.js', import.meta.url),
  ),
  'utf8',
);

const page = `<!doctype html><html><head><meta charset="utf-8">
<script src="/polyfill.js"></script></head><body><script>
window.got = []; window.resets = []; window.errors = 0;
window.follow = (es) => {
  window.es = es;
  es.onmessage = (e) => window.got.push(JSON.parse(e.data));
  es.addEventListener('reset', (e) => window.resets.push(JSON.parse(e.data)));
  es.onerror = () => { window.errors += 1; };
};
</script></body></html>`;

/**
 * The rooms behind a small front: the page, the polyfill, and on `?fake=ID`
 * a first stream that sends one event with that id and ends (so the browser
 * reconnects with `Last-Event-ID: ID`). Records every stream request.
 */
async function startRooms() {
  const bus = createMemoryBus({ epoch: 'k1' });
  const requests: { url: string; lastEventId: string | undefined }[] = [];
  const sockets: Socket[] = [];
  const app = new Koa();
  app.use(async (ctx, next) => {
    if (ctx.path === '/es-page') {
      ctx.type = 'html';
      ctx.body = page;
      return;
    }
    if (ctx.path === '/polyfill.js') {
      ctx.type = 'application/javascript';
      ctx.body = polyfill;
      return;
    }
    const req: IncomingMessage = ctx.req;
    if (ctx.path.endsWith('/live')) {
      const lastEventId = req.headers['last-event-id'];
      requests.push({ url: ctx.url, lastEventId: lastEventId as string | undefined });
      sockets.push(req.socket);
      const fake = ctx.query['fake'];
      if (typeof fake === 'string' && lastEventId === undefined) {
        ctx.type = 'text/event-stream';
        ctx.body = `retry: 50\nid: ${fake}\ndata: {"fake":true}\n\n`;
        return;
      }
    }
    return next();
  });
  const push = comet({ bus, controllers: [Rooms], channelLinger: 50 });
  app.use(push);
  const { server, base } = await listen(app);
  push.attach(server, app);
  chromium.stopAfterTest({
    async stop() {
      await push.close();
      await closeServer(server);
      await bus.close();
    },
  });
  return { bus, base, requests, sockets };
}

async function openPage(base: string): Promise<Page> {
  const p = await chromium.browser.newPage();
  await p.goto(`${base}/es-page`);
  return p;
}

describeBrowser('third-party SSE clients and the cursor rule', chromium, () => {
  it('native EventSource with a malformed ?cursor= gets the 400 once and stops', async () => {
    const rooms = await startRooms();
    const p = await openPage(rooms.base);
    await p.evaluate(`follow(new EventSource('/rooms/r/live?cursor=hello'))`);
    // CLOSED: a non-200 answer fails the EventSource for good (no reconnect).
    await p.waitForFunction('window.es.readyState === 2', undefined, { timeout: 10_000 });
    expect(rooms.requests).toHaveLength(1);
  });

  it('native EventSource reconnecting with a malformed Last-Event-ID stops after the 400', async () => {
    const rooms = await startRooms();
    const p = await openPage(rooms.base);
    await p.evaluate(`follow(new EventSource('/rooms/r/live?fake=hello'))`);
    await p.waitForFunction('window.es.readyState === 2', undefined, { timeout: 10_000 });
    expect(rooms.requests.map((r) => r.lastEventId)).toEqual([undefined, 'hello']);
  });

  it('native EventSource reconnecting with another epoch’s id gets reset, then live', async () => {
    const rooms = await startRooms();
    await rooms.bus.publish('room:r', 'before');
    const p = await openPage(rooms.base);
    await p.evaluate(`follow(new EventSource('/rooms/r/live?fake=zz9-7'))`);
    await p.waitForFunction('window.resets.length === 1', undefined, { timeout: 10_000 });
    expect(await p.evaluate('window.resets')).toEqual([{ gap: true, cursor: 'k1-1' }]);
    await rooms.bus.publish('room:r', 'live');
    await p.waitForFunction('window.got.some((m) => m.data === "live")', undefined, {
      timeout: 10_000,
    });
    expect(rooms.requests).toHaveLength(2);
  });

  it('event-source-polyfill 1.0.31 (defaults) resumes without loss across a forced reconnect', async () => {
    const rooms = await startRooms();
    const p = await openPage(rooms.base);
    await p.evaluate(`follow(new EventSourcePolyfill('/rooms/p/live'))`);
    await p.waitForFunction('window.es.readyState === 1', undefined, { timeout: 10_000 });
    await rooms.bus.publish('room:p', 1);
    const second = await rooms.bus.publish('room:p', 2);
    await p.waitForFunction('window.got.length === 2', undefined, { timeout: 10_000 });
    // Cut the stream under the client, and publish while it waits to reconnect.
    rooms.sockets[0]!.destroy();
    await rooms.bus.publish('room:p', 3);
    await rooms.bus.publish('room:p', 4);
    await p.waitForFunction('window.got.length >= 4', undefined, { timeout: 15_000 });
    const got = (await p.evaluate('window.got')) as { data: unknown }[];
    expect(got.map((m) => m.data)).toEqual([1, 2, 3, 4]);
    expect(rooms.requests).toHaveLength(2);
    // It resumed by the query parameter, not the header.
    expect(rooms.requests[1]!.lastEventId).toBeUndefined();
    expect(rooms.requests[1]!.url).toContain(`lastEventId=${second.id}`);
  });
});
