/**
 * The client's long-poll and JSONP transports in real Chromium, against a
 * hand-written long-poll route that replays the message at the cursor (an
 * at-least-once server) and fails one request with a 503: the page must still see
 * every message exactly once, in order.
 */
import { expect, it } from 'vitest';
import { createRoom } from './fake-room.js';
import {
  createBrowserSession,
  describeBrowser,
  expectExactly,
  startClient,
  waitForMessages,
} from './harness.js';
import { startTestApp } from './servers.js';

const chromium = createBrowserSession();

describeBrowser('browser client over a hand-written long-poll route', chromium, () => {
  for (const transport of ['long-poll', 'jsonp'] as const) {
    it(`${transport}: 20 messages exactly once, in order, across a replay and a 503`, async () => {
      const room = createRoom(4);
      const { base } = chromium.stopAfterTest(await startTestApp(room.route));
      for (let n = 1; n <= 5; n += 1) room.publish({ n });
      const page = await chromium.browser.newPage();
      await startClient(page, base, '/rooms/lobby/messages', {
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
      // A slow browser may take all twenty in three requests, and the fourth (the
      // one that fails) would then race the record below. Its 2 s long-poll
      // timeout brings that request anyway; the sentinel goes after it.
      await room.failed;
      const seen = await expectExactly(
        page,
        Array.from({ length: 20 }, (_, i) => String(i + 1)),
        undefined,
        async () => {
          room.publish({ n: 21 });
          return '21';
        },
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
