/**
 * A cursor the server cannot parse, in Chromium against the real demo app: the server
 * refuses it with `400 COMET_ERR_CURSOR_MALFORMED` before writing anything (a
 * WebSocket handshake is refused with it too), and the project's client, on every
 * transport, treats that as a gap — drops the cursor, calls `onReset`, follows from
 * the head — instead of reconnecting in a loop. Requests are counted on the server.
 */
import type { Server } from 'node:http';
import { expect, it } from 'vitest';
import { createBrowserSession, describeBrowser, record, startClient } from './harness.js';
import { publish, startDemoApp } from './servers.js';

const chromium = createBrowserSession();

/** Counts the requests (upgrades included) a server receives on `/rooms/`, publishes aside. */
function countRequests(server: Server): () => number {
  let count = 0;
  const onRequest = (req: { method?: string; url?: string }) => {
    if (req.url?.startsWith('/rooms/') && req.method !== 'POST') count += 1;
  };
  server.prependListener('request', onRequest);
  server.prependListener('upgrade', onRequest);
  return () => count;
}

const transports = ['websocket', 'sse', 'ndjson', 'long-poll', 'jsonp', 'iframe'] as const;
/** Garbage of several kinds: a word, a path trick, a space, a NUL, CR/LF, an over-long one. */
const garbage = ['hello', '../x', 'a b', '\u0000', '\r\nX-Injected: 1', 'z'.repeat(300)];

/** The request budget over 10 s: a handful (the refused one, a probe, the head, the reconnect…). */
const budget = 8;

describeBrowser('browser client and a malformed cursor', chromium, () => {
  it('every transport: a handful of requests in 10 s, onReset, then the next message', {
    timeout: 60_000,
  }, async () => {
    const started = Date.now();
    const runs = await Promise.all(
      transports.map(async (transport, i) => {
        // One server per transport: Chromium's six connections per host stay out of it.
        const demo = chromium.stopAfterTest(await startDemoApp());
        const requests = countRequests(demo.server);
        const room = `bad-${transport}`;
        const page = await chromium.browser.newPage();
        await startClient(page, demo.base, `/rooms/${room}/live`, {
          longpollUrl: `/rooms/${room}/messages`,
          transports: [transport],
          cursor: garbage[i],
          shareAcrossTabs: false,
        });
        await page.waitForFunction('window.resets.length >= 1', undefined, { timeout: 20_000 });
        const [id] = await publish(demo.base, room, 1);
        await page.waitForFunction('window.received.length >= 1', undefined, { timeout: 20_000 });
        return { transport, cursor: garbage[i], page, requests, id };
      }),
    );
    // The loop this guards against made hundreds of requests a second: give it 10 s.
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - started))));
    for (const run of runs) {
      const seen = await record(run.page);
      expect(run.requests(), `${run.transport} requests`).toBeLessThanOrEqual(budget);
      expect(seen.resets).toEqual([
        { cursor: expect.any(String), previousCursor: run.cursor, transport: run.transport },
      ]);
      expect(seen.received.map((m) => m.id)).toEqual([run.id]);
      expect(seen.errors).toEqual([]);
      expect(seen.statuses.some((s) => s.kind === 'refused' || s.kind === 'fallback')).toBe(false);
      await run.page.close();
    }
  });
});
