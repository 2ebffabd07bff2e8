/**
 * Cross-origin in Chromium: the test page is served on one port, the real demo app
 * (`createChatApp`) on another. The page follows the room through JSONP (no CORS
 * needed), the iframe's postMessage form, and CORS (SSE, NDJSON, long-poll) when the
 * page's origin is allowed — and what "refused" really means when it is not:
 * CORS reads and the WebSocket upgrade fail (the browser hides why, so the client
 * reports `fallback … failed`, never `open`), the iframe gets a 403, and JSONP —
 * which no allow-list can check — still delivers.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import type { CorsOptions } from '../../index.js';
import {
  createBrowserSession,
  describeBrowser,
  expectExactly,
  type PageRecord,
  record,
  startClient,
  waitForMessages,
} from './harness.js';
import { head, publish, startDemoApp, startPageServer } from './servers.js';

const chromium = createBrowserSession();

/** The page server and the demo app on two ports; `cors` gets the page's origin. */
async function twoOrigins(cors: (pageOrigin: string) => CorsOptions | undefined) {
  const pages = chromium.stopAfterTest(await startPageServer());
  const options = cors(pages.base);
  const demo = chromium.stopAfterTest(await startDemoApp(options ? { cors: options } : {}));
  return { pageBase: pages.base, demo: demo.base };
}

/** Opens the page and follows `room` on the demo app with `transports` (all absolute URLs). */
async function follow(
  pageBase: string,
  demo: string,
  room: string,
  transports?: readonly string[],
): Promise<Page> {
  const page = await chromium.browser.newPage();
  await startClient(page, pageBase, `${demo}/rooms/${room}/live`, {
    ...(transports ? { transports } : {}),
    longpollUrl: `${demo}/rooms/${room}/messages`,
    cursor: await head(demo, room),
    shareAcrossTabs: false,
    longpollTimeoutS: 2,
    backoff: { initialDelayMs: 50, maxDelayMs: 400 },
  });
  return page;
}

const fake = { id: 'zz-999', channel: 'x', data: 'forged' };
const opens = (seen: PageRecord) => seen.statuses.filter((s) => s.kind === 'open');

describeBrowser('cross-origin: a page on one port follows the demo on another', chromium, () => {
  it('JSONP: no CORS at all (same-origin-only server), 30 messages once, in order', async () => {
    const { pageBase, demo } = await twoOrigins(() => undefined);
    const page = await follow(pageBase, demo, 'xo-jsonp', ['jsonp']);
    const seen = await expectExactly(
      page,
      await publish(demo, 'xo-jsonp', 30),
      undefined,
      async () => (await publish(demo, 'xo-jsonp', 1, 31))[0] ?? '',
    );
    expect(opens(seen)).toEqual([{ kind: 'open', transport: 'jsonp' }]);
    await page.close();
  });

  it('iframe: the postMessage form, addressed to the page origin', async () => {
    const { pageBase, demo } = await twoOrigins((origin) => ({ origins: [origin] }));
    const followed = await follow(pageBase, demo, 'xo-iframe', ['iframe']);
    const seen = await expectExactly(
      followed,
      await publish(demo, 'xo-iframe', 30),
      undefined,
      async () => (await publish(demo, 'xo-iframe', 1, 31))[0] ?? '',
    );
    expect(opens(seen)).toEqual([{ kind: 'open', transport: 'iframe' }]);
    // The one frame asked for the postMessage form, naming the page's origin.
    const src = await followed.evaluate<string>('document.querySelector("iframe")?.src ?? ""');
    expect(new URL(src).searchParams.get('origin')).toBe(pageBase);
    // A post of the same shape from another window (here the page itself: wrong
    // origin, wrong source) is ignored.
    const forged = { callback: new URL(src).searchParams.get('callback'), message: fake };
    await followed.evaluate(`postMessage(${JSON.stringify(forged)}, '*')`);
    // A real message posted after it by the frame is handled after it: once
    // that one is in, the forged one has been seen and dropped.
    const [after] = await publish(demo, 'xo-iframe', 1, 32);
    await waitForMessages(followed, 32); // 30, the sentinel, and this one
    const ids = (await record(followed)).received.map((m) => m.id);
    expect(ids).not.toContain('zz-999');
    expect(ids.at(-1)).toBe(after);
    await followed.close();
  });

  for (const transport of ['sse', 'ndjson', 'long-poll'] as const) {
    it(`CORS ${transport}: allowed origin, 30 messages once, in order`, async () => {
      const { pageBase, demo } = await twoOrigins((origin) => ({ origins: [origin] }));
      const page = await follow(pageBase, demo, `xo-${transport}`, [transport]);
      const seen = await expectExactly(
        page,
        await publish(demo, `xo-${transport}`, 30),
        undefined,
        async () => (await publish(demo, `xo-${transport}`, 1, 31))[0] ?? '',
      );
      expect(opens(seen)).toEqual([{ kind: 'open', transport }]);
      await page.close();
    });
  }

  it('auto with an allowed origin lands on WebSocket', async () => {
    const { pageBase, demo } = await twoOrigins((origin) => ({ origins: [origin] }));
    const page = await follow(pageBase, demo, 'xo-auto');
    const seen = await expectExactly(
      page,
      await publish(demo, 'xo-auto', 20),
      undefined,
      async () => (await publish(demo, 'xo-auto', 1, 21))[0] ?? '',
    );
    expect(opens(seen)).toEqual([{ kind: 'open', transport: 'websocket' }]);
    await page.close();
  });
});

describeBrowser('cross-origin: the page origin is not on the allow-list', chromium, () => {
  const elsewhere = () => ({ origins: ['http://elsewhere.example'] });

  it('CORS reads are blocked: the client never opens and reports each failure', async () => {
    const { pageBase, demo } = await twoOrigins(elsewhere);
    const page = await follow(pageBase, demo, 'no-cors', ['sse', 'long-poll']);
    await page.waitForFunction(
      'window.statuses.some((s) => s.kind === "fallback" && s.from === "long-poll")',
    );
    // Long-polls that end after the publish were answered with its messages,
    // which the browser then kept from the page: wait for one.
    let ended = 0;
    const onEnd = (r: { url(): string }) => {
      if (r.url().includes('/rooms/no-cors/messages')) ended++;
    };
    page.on('requestfinished', onEnd);
    page.on('requestfailed', onEnd);
    await publish(demo, 'no-cors', 5);
    const endedBefore = ended;
    await expect.poll(() => ended, { timeout: 10_000 }).toBeGreaterThan(endedBefore);
    const seen = await record(page);
    expect(seen.received).toEqual([]);
    expect(opens(seen)).toEqual([]);
    expect(seen.statuses).toContainEqual({
      kind: 'fallback',
      from: 'sse',
      to: 'long-poll',
      reason: 'failed',
    });
    // The browser hides a CORS failure: nothing tells the client it was "refused".
    expect(seen.statuses.some((s) => s.kind === 'refused')).toBe(false);
    await page.close();
  });

  it('the iframe gets a 403 and delivers nothing', async () => {
    const { pageBase, demo } = await twoOrigins(elsewhere);
    const page = await chromium.browser.newPage();
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('transport=iframe')) statuses.push(r.status());
    });
    await startClient(page, pageBase, `${demo}/rooms/no-frame/live`, {
      transports: ['iframe'],
      shareAcrossTabs: false,
      backoff: { initialDelayMs: 50, maxDelayMs: 400 },
    });
    await expect.poll(() => statuses.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await publish(demo, 'no-frame', 3);
    // A retry after the publish (when there was something to deliver) is refused too.
    const triesBefore = statuses.length;
    await expect.poll(() => statuses.length, { timeout: 10_000 }).toBeGreaterThan(triesBefore);
    expect(new Set(statuses)).toEqual(new Set([403]));
    const seen = await record(page);
    expect(seen.received).toEqual([]);
    expect(opens(seen)).toEqual([]);
    await page.close();
  });

  it('auto falls past WebSocket (403), SSE, NDJSON and long-poll to JSONP, which no allow-list checks', async () => {
    const { pageBase, demo } = await twoOrigins(elsewhere);
    const page = await follow(pageBase, demo, 'no-cors-auto');
    await page.waitForFunction('window.statuses.some((s) => s.kind === "open")');
    const seen = await expectExactly(
      page,
      await publish(demo, 'no-cors-auto', 20),
      undefined,
      async () => (await publish(demo, 'no-cors-auto', 1, 21))[0] ?? '',
    );
    expect(opens(seen)).toEqual([{ kind: 'open', transport: 'jsonp' }]);
    const fallbacks = seen.statuses.filter((s) => s.kind === 'fallback');
    expect(fallbacks.map((s) => (s as unknown as { from: string }).from)).toEqual([
      'websocket',
      'sse',
      'ndjson',
      'long-poll',
    ]);
    await page.close();
  });
});
