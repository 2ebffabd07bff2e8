/**
 * A client that subscribes "from now" and loses its stream before the first
 * message must still get what was published while it was away: before
 * opening a stream without a cursor it learns the head from the batch route,
 * and resumes from there. The server goes down (streams end), three messages
 * are published on the bus meanwhile, a new server comes up on the same
 * port: the page receives exactly those three.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { createChatApp } from '../../examples/chat/app.js';
import { createMemoryBus, type MemoryBus } from '../../index.js';
import {
  createBrowserSession,
  describeBrowser,
  expectExactly,
  record,
  startClient,
  testPageRoute,
} from './harness.js';

const chromium = createBrowserSession();

async function serve(bus: MemoryBus, port = 0) {
  const { app, push } = createChatApp({ bus });
  app.use(testPageRoute());
  const server: Server = app.listen(port, '127.0.0.1');
  await new Promise<void>((ready) => server.once('listening', ready));
  push.attach(server, app);
  const stop = async () => {
    const closing = push.close();
    server.closeAllConnections();
    await closing;
  };
  chromium.stopAfterTest({ stop });
  return { port: (server.address() as AddressInfo).port, stop };
}

describeBrowser('resuming a stream that started "from now"', chromium, () => {
  for (const transport of ['sse', 'ndjson', 'websocket'] as const) {
    it(`${transport}: messages published while the server was down arrive once`, async () => {
      const bus = createMemoryBus();
      const first = await serve(bus);
      const base = `http://127.0.0.1:${first.port}`;
      const page = await chromium.browser.newPage();
      await startClient(page, base, '/rooms/away/live', {
        transports: [transport],
        longpollUrl: '/rooms/away/messages',
        shareAcrossTabs: false,
        backoff: { initialDelayMs: 50, maxDelayMs: 200 },
      });
      await page.waitForFunction(`window.statuses.some((s) => s.kind === 'open')`);
      // The client knows where "now" was, though nothing was delivered yet.
      const cursor = await page.evaluate('window.subscription.cursor');
      expect(cursor).toBe((await bus.read('room:away')).cursor);
      await first.stop();
      const ids = [];
      for (let n = 1; n <= 3; n++) ids.push((await bus.publish('room:away', { n })).id);
      await serve(bus, first.port);
      await expectExactly(page, ids, undefined, async () => {
        return (await bus.publish('room:away', { n: 4 })).id;
      });
      expect((await record(page)).resets).toEqual([]);
      await page.close();
    });
  }
});
