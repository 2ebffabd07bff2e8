/**
 * The client's long-poll and JSONP transports in real Chromium, against a
 * hand-written long-poll route that replays the message at the cursor (an
 * at-least-once server) and fails one request with a 503: the page must still see
 * every message exactly once, in order.
 */
import type { Server } from 'node:http';
import Koa from 'koa';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { serveClient } from '../../middleware/client-assets.js';
import { createRoom } from './fake-room.js';
import {
  closeServer,
  describeBrowser,
  launchChromium,
  listen,
  record,
  startClient,
  testPageRoute,
  waitForMessages,
} from './harness.js';

let browser: Browser | undefined;
let server: Server | undefined;

describeBrowser('browser client over a hand-written long-poll route', () => {
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await closeServer(server);
    server = undefined;
  });

  for (const transport of ['longpoll', 'jsonp'] as const) {
    it(`${transport}: 20 messages exactly once, in order, across a replay and a 503`, async () => {
      const room = createRoom(4);
      const app = new Koa();
      app.use(serveClient());
      app.use(testPageRoute());
      app.use(room.route);
      const listening = await listen(app);
      server = listening.server;
      for (let n = 1; n <= 5; n += 1) room.publish({ n });
      const page = await browser!.newPage();
      await startClient(page, listening.base, '/rooms/lobby/messages', {
        transports: [transport],
        cursor: 'earliest',
        longpollTimeoutS: 2,
        backoff: { initialDelayMs: 50, maxDelayMs: 200 },
        shareAcrossTabs: false,
      });
      await waitForMessages(page, 5);
      for (let n = 6; n <= 20; n += 1) {
        room.publish({ n });
        if (n % 4 === 0) await new Promise((r) => setTimeout(r, 30));
      }
      await waitForMessages(page, 20);
      // Room for a late duplicate to show up if the client let one through.
      await new Promise((r) => setTimeout(r, 300));
      const seen = await record(page);
      expect(seen.received.map((m) => m.id)).toEqual(
        Array.from({ length: 20 }, (_, i) => String(i + 1)),
      );
      expect(seen.received.map((m) => m.data)).toEqual(
        Array.from({ length: 20 }, (_, i) => ({ n: i + 1 })),
      );
      expect(seen.statuses).toContainEqual({ kind: 'open', transport });
      expect(seen.statuses.some((s) => s.kind === 'reconnecting')).toBe(true);
      expect(seen.statuses.some((s) => s.kind === 'fallback' || s.kind === 'refused')).toBe(false);
      expect(seen.resets).toEqual([]);
      await page.close();
    });
  }
});
