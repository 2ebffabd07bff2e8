/**
 * The client behind a REAL buffering nginx (`nginx.ts`: `proxy_buffering on`,
 * `proxy_ignore_headers X-Accel-Buffering`) in front of the real demo app, in Chromium,
 * with the client's default deadlines. Such a proxy holds a stream's headers and bytes
 * until the response ends, and sends a WebSocket handshake on as a plain GET that is
 * answered by a (held) stream: no transport but the batch ones can ever open. The
 * client must step down on its own, tell the app why, show a published message within
 * 30 s and then every later one.
 */
import { expect, it } from 'vitest';
import {
  createBrowserSession,
  describeBrowser,
  expectExactly,
  record,
  startClient,
  waitForMessages,
} from './harness.js';
import { startBufferingNginx, whenNginx } from './nginx.js';
import { publish, startDemoApp } from './servers.js';

const chromium = createBrowserSession();

async function behindNginx() {
  const demo = chromium.stopAfterTest(await startDemoApp());
  const nginx = chromium.stopAfterTest(await startBufferingNginx(demo.base));
  return { base: nginx.base, direct: demo.base };
}

whenNginx('browser client behind a buffering nginx', () => {
  describeBrowser('browser client behind a buffering nginx', chromium, () => {
    it('auto (default options) steps down to long-poll, shows a message within 30 s, then every later one', {
      timeout: 90_000,
    }, async () => {
      const { base, direct } = await behindNginx();
      const page = await chromium.browser.newPage();
      await startClient(page, base, '/rooms/nginx/live', {
        longpollUrl: '/rooms/nginx/messages',
        shareAcrossTabs: false,
      });
      // Let the client learn the head through the proxy first ("from now").
      await page.waitForFunction('window.statuses.some((s) => s.kind === "connecting")');
      const ids: string[] = [];
      let publishing = true;
      const publisher = (async () => {
        for (let n = 1; publishing && n <= 40; n += 1) {
          ids.push(...(await publish(direct, 'nginx', 1, n)));
          await new Promise((r) => setTimeout(r, 1_000));
        }
      })();
      try {
        await waitForMessages(page, 1, 30_000);
      } finally {
        publishing = false;
        await publisher;
      }
      ids.push(...(await publish(direct, 'nginx', 5, 100)));
      const seen = await expectExactly(
        page,
        ids,
        30_000,
        async () => (await publish(direct, 'nginx', 1, 105))[0] ?? '',
      );
      expect(seen.statuses).toContainEqual({
        kind: 'fallback',
        from: 'websocket',
        to: 'long-poll',
        reason: 'buffering',
      });
      expect(seen.statuses.filter((s) => s.kind === 'open')).toEqual([
        { kind: 'open', transport: 'long-poll' },
      ]);
      await page.close();
    });

    it('a stream that never opens and no batch route to step down to: the reason is timeout', async () => {
      const { base } = await behindNginx();
      const page = await chromium.browser.newPage();
      await startClient(page, base, '/rooms/nginx-t/live', {
        longpollUrl: '/rooms/nginx-t/messages',
        transports: ['sse', 'ndjson'],
        openTimeoutMs: 1_500,
        shareAcrossTabs: false,
      });
      await page.waitForFunction('window.statuses.some((s) => s.kind === "fallback")', undefined, {
        timeout: 20_000,
      });
      const seen = await record(page);
      expect(seen.statuses.find((s) => s.kind === 'fallback')).toEqual({
        kind: 'fallback',
        from: 'sse',
        to: 'ndjson',
        reason: 'timeout',
      });
      expect(seen.statuses.some((s) => s.kind === 'open')).toBe(false);
      await page.close();
    });
  });
});
