/**
 * The browser client against the real demo app (`examples/chat/app.ts`) in Chromium:
 * each batch transport forced in turn and "auto" (which falls past transports the
 * server does not offer yet), gaps, refusals and seven tabs sharing one connection.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { Rooms } from '../../examples/chat/app.js';
import { comet, createMemoryBus, type MemoryBusOptions } from '../../index.js';
import { serveClient } from '../../middleware/client-assets.js';
import {
  createBrowserSession,
  describeBrowser,
  expectExactly as expectIds,
  listen,
  record,
  startClient,
  testPageRoute,
} from './harness.js';
import { head, publish, startDemoApp } from './servers.js';

const chromium = createBrowserSession();

/** Runs the demo app (its comet middleware serves the client bundles) with the test page. */
async function startDemo(busOptions: MemoryBusOptions = {}) {
  return chromium.stopAfterTest(await startDemoApp({ bus: createMemoryBus(busOptions) }));
}

const settle = () => new Promise((r) => setTimeout(r, 300));
const fastRetry = { initialDelayMs: 50, maxDelayMs: 500 };

/**
 * Exactly `ids`, in order, carrying n = 1, 2, … as {@link publish} sent them.
 * With `room` (`[base, name]`), one more message is published there after
 * them and must come last (a late duplicate would come before it).
 */
async function expectExactly(page: Page, ids: string[], room?: [string, string]): Promise<void> {
  const sentinel =
    room && (async () => (await publish(room[0], room[1], 1, ids.length + 1))[0] ?? '');
  const seen = await expectIds(page, ids, undefined, sentinel);
  expect(seen.received.map((m) => (m.data as { n: number }).n)).toEqual(ids.map((_, i) => i + 1));
}

describeBrowser('browser client against the demo app', chromium, () => {
  const forced = [
    ...(['long-poll', 'jsonp'] as const).map((transport) => ({ transport, route: 'messages' })),
    ...(['websocket', 'sse', 'ndjson', 'iframe'] as const).map((transport) => ({
      transport,
      route: 'live',
    })),
  ];
  for (const { transport, route } of forced) {
    const where = route === 'live' ? ' on the @stream route' : '';
    it(`${transport} forced${where}: 200 messages exactly once, in order`, async () => {
      const { base } = await startDemo();
      const page = await chromium.browser.newPage();
      await startClient(page, base, `/rooms/${transport}/${route}`, {
        transports: [transport],
        cursor: await head(base, transport),
        shareAcrossTabs: false,
      });
      await expectExactly(page, await publish(base, transport, 200), [base, transport]);
      const seen = await record(page);
      expect(seen.statuses).toContainEqual({ kind: 'open', transport });
      expect(seen.statuses.some((s) => s.kind === 'fallback')).toBe(false);
      await page.close();
    });
  }

  it('auto: lands on WebSocket and delivers 200 messages once', async () => {
    const { base } = await startDemo();
    const page = await chromium.browser.newPage();
    await startClient(page, base, '/rooms/auto/live', {
      longpollUrl: '/rooms/auto/messages',
      cursor: await head(base, 'auto'),
      shareAcrossTabs: false,
      backoff: fastRetry,
    });
    await expectExactly(page, await publish(base, 'auto', 200), [base, 'auto']);
    const seen = await record(page);
    expect(seen.statuses.filter((s) => s.kind === 'open')).toEqual([
      { kind: 'open', transport: 'websocket' },
    ]);
    expect(seen.statuses.some((s) => s.kind === 'fallback' || s.kind === 'refused')).toBe(false);
  });

  it('seven tabs share one connection, and a new leader resumes when the first leaves', async () => {
    const { base, push } = await startDemo();
    const cursor = await head(base, 'tabs');
    const context = await chromium.browser.newContext();
    const pages: Page[] = [];
    for (let i = 0; i < 7; i += 1) {
      const page = await context.newPage();
      await startClient(page, base, '/rooms/tabs/messages', {
        transports: ['long-poll'],
        cursor,
        backoff: fastRetry,
      });
      pages.push(page);
    }
    const leaders = async (list: Page[]) =>
      (await Promise.all(list.map((p) => p.evaluate('window.subscription.role')))).filter(
        (role) => role === 'leader',
      ).length;
    await expect.poll(() => leaders(pages)).toBe(1);
    await expect.poll(() => push.stats().held).toBe(1);
    const first = await publish(base, 'tabs', 10);
    for (const page of pages) await expectExactly(page, first);
    expect(push.stats().held).toBeLessThanOrEqual(1);

    const roles = await Promise.all(pages.map((p) => p.evaluate('window.subscription.role')));
    const leader = pages[roles.indexOf('leader')]!;
    await leader.close();
    const rest = pages.filter((p) => p !== leader);
    await expect.poll(() => leaders(rest)).toBe(1);
    const second = await publish(base, 'tabs', 10, 11);
    for (const page of rest) await expectExactly(page, [...first, ...second]);
    await context.close();
  });

  it('a cursor from another epoch calls onReset, then delivers what follows', async () => {
    const { base } = await startDemo({ epoch: 'new' });
    const page = await chromium.browser.newPage();
    await startClient(page, base, '/rooms/gap/messages', {
      transports: ['long-poll'],
      cursor: 'old-1',
      shareAcrossTabs: false,
    });
    await page.waitForFunction('window.resets.length === 1');
    await expectExactly(page, await publish(base, 'gap', 5), [base, 'gap']);
    const seen = await record(page);
    expect(seen.resets).toHaveLength(1);
    expect(seen.resets[0]).toMatchObject({ previousCursor: 'old-1', transport: 'long-poll' });
  });
});

describeBrowser('browser client and refusals', chromium, () => {
  it('a 403 stops the client and is never bypassed by a fallback', async () => {
    const bus = createMemoryBus();
    const app = new (await import('koa')).default();
    const push = comet({ bus, controllers: [Rooms], authorize: () => false });
    app.use(serveClient());
    app.use(testPageRoute());
    app.use(push);
    const { server, base } = await listen(app);
    push.attach(server, app);
    chromium.stopAfterTest({
      async stop() {
        await push.close();
        await bus.close();
      },
    });
    const page = await chromium.browser.newPage();
    // JSONP cannot read a status: the client's probe must find the 403 itself.
    await startClient(page, base, '/rooms/x/messages', {
      transports: ['jsonp', 'long-poll'],
      shareAcrossTabs: false,
      backoff: fastRetry,
    });
    await page.waitForFunction('window.statuses.some((s) => s.kind === "refused")');
    await settle();
    const seen = await record(page);
    expect(seen.statuses.at(-1)).toMatchObject({
      kind: 'refused',
      transport: 'jsonp',
      status: 403,
    });
    // The app hears it through onError too, with the server's code.
    expect(seen.errors).toEqual([
      {
        transport: 'jsonp',
        status: 403,
        code: expect.stringMatching(/^COMET_ERR_/),
        message: expect.any(String),
      },
    ]);
    expect(seen.statuses.some((s) => s.kind === 'fallback' || s.kind === 'open')).toBe(false);
  });
});
