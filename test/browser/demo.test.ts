/**
 * The browser client against the real demo app (`examples/chat/app.ts`) in Chromium:
 * each batch transport forced in turn and "auto" (which falls past transports the
 * server does not offer yet), gaps, refusals and seven tabs sharing one connection.
 */
import type { Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createChatApp, Rooms } from '../../examples/chat/app.js';
import { comet, createMemoryBus, type MemoryBusOptions } from '../../index.js';
import { serveClient } from '../../middleware/client-assets.js';
import {
  describeBrowser,
  launchChromium,
  listen,
  record,
  startClient,
  testPageRoute,
  waitForMessages,
} from './harness.js';

let browser: Browser | undefined;
let stop: (() => Promise<void>) | undefined;

/** Runs the demo app with the client bundles and the test page mounted. */
async function startDemo(busOptions: MemoryBusOptions = {}) {
  const bus = createMemoryBus(busOptions);
  const { app, push } = createChatApp({ bus });
  app.use(serveClient());
  app.use(testPageRoute());
  const { server, base } = await listen(app);
  push.attach(server, app);
  stop = async () => {
    await push.close();
    await bus.close();
  };
  return { base, bus, push, server };
}

/** The room's head cursor, from the poll route: where "from now" starts. */
async function head(base: string, room: string): Promise<string> {
  const res = await fetch(`${base}/rooms/${room}/unread`);
  return ((await res.json()) as { cursor: string }).cursor;
}

/** Publishes `count` messages through the demo's POST route; returns their ids in order. */
async function publish(base: string, room: string, count: number, from = 1): Promise<string[]> {
  const ids: string[] = [];
  for (let n = from; n < from + count; n += 1) {
    const res = await fetch(`${base}/rooms/${room}/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ n }),
    });
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

const settle = () => new Promise((r) => setTimeout(r, 300));
const fastRetry = { initialDelayMs: 50, maxDelayMs: 500 };

async function expectExactly(page: Page, ids: string[]): Promise<void> {
  await waitForMessages(page, ids.length);
  await settle();
  const seen = await record(page);
  expect(seen.received.map((m) => m.id)).toEqual(ids);
  expect(seen.received.map((m) => (m.data as { n: number }).n)).toEqual(ids.map((_, i) => i + 1));
}

describeBrowser('browser client against the demo app', () => {
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  for (const transport of ['longpoll', 'jsonp'] as const) {
    it(`${transport} forced: 200 messages exactly once, in order`, async () => {
      const { base } = await startDemo();
      const page = await browser!.newPage();
      await startClient(page, base, `/rooms/${transport}/messages`, {
        transports: [transport],
        cursor: await head(base, transport),
        shareAcrossTabs: false,
      });
      await expectExactly(page, await publish(base, transport, 200));
      const seen = await record(page);
      expect(seen.statuses).toContainEqual({ kind: 'open', transport });
      await page.close();
    });
  }

  for (const transport of ['websocket', 'sse', 'ndjson', 'iframe'] as const) {
    it(`${transport} forced on the @stream route: 200 messages exactly once, in order`, async () => {
      const { base } = await startDemo();
      const page = await browser!.newPage();
      await startClient(page, base, `/rooms/${transport}/live`, {
        transports: [transport],
        cursor: await head(base, transport),
        shareAcrossTabs: false,
      });
      await expectExactly(page, await publish(base, transport, 200));
      const seen = await record(page);
      expect(seen.statuses).toContainEqual({ kind: 'open', transport });
      expect(seen.statuses.some((s) => s.kind === 'fallback')).toBe(false);
      await page.close();
    });
  }

  it('auto: lands on WebSocket and delivers 200 messages once', async () => {
    const { base } = await startDemo();
    const page = await browser!.newPage();
    await startClient(page, base, '/rooms/auto/live', {
      longpollUrl: '/rooms/auto/messages',
      cursor: await head(base, 'auto'),
      shareAcrossTabs: false,
      backoff: fastRetry,
    });
    await expectExactly(page, await publish(base, 'auto', 200));
    const seen = await record(page);
    expect(seen.statuses.filter((s) => s.kind === 'open')).toEqual([
      { kind: 'open', transport: 'websocket' },
    ]);
    expect(seen.statuses.some((s) => s.kind === 'fallback' || s.kind === 'refused')).toBe(false);
  });

  it('seven tabs share one connection, and a new leader resumes when the first leaves', async () => {
    const { base, push } = await startDemo();
    const cursor = await head(base, 'tabs');
    const context = await browser!.newContext();
    const pages: Page[] = [];
    for (let i = 0; i < 7; i += 1) {
      const page = await context.newPage();
      await startClient(page, base, '/rooms/tabs/messages', {
        transports: ['longpoll'],
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
    const page = await browser!.newPage();
    await startClient(page, base, '/rooms/gap/messages', {
      transports: ['longpoll'],
      cursor: 'old-1',
      shareAcrossTabs: false,
    });
    await page.waitForFunction('window.resets.length === 1');
    await expectExactly(page, await publish(base, 'gap', 5));
    const seen = await record(page);
    expect(seen.resets).toHaveLength(1);
    expect(seen.resets[0]).toMatchObject({ previousCursor: 'old-1', transport: 'longpoll' });
  });
});

describeBrowser('browser client and refusals', () => {
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it('a 403 stops the client and is never bypassed by a fallback', async () => {
    const bus = createMemoryBus();
    const app = new (await import('koa')).default();
    const push = comet({ bus, controllers: [Rooms], authorize: () => false });
    app.use(serveClient());
    app.use(testPageRoute());
    app.use(push);
    const { server, base } = await listen(app);
    push.attach(server as Server, app);
    stop = async () => {
      await push.close();
      await bus.close();
    };
    const page = await browser!.newPage();
    // JSONP cannot read a status: the client's probe must find the 403 itself.
    await startClient(page, base, '/rooms/x/messages', {
      transports: ['jsonp', 'longpoll'],
      shareAcrossTabs: false,
      backoff: fastRetry,
    });
    await page.waitForFunction('window.statuses.some((s) => s.kind === "refused")');
    await settle();
    const seen = await record(page);
    expect(seen.statuses.at(-1)).toEqual({ kind: 'refused', transport: 'jsonp', status: 403 });
    expect(seen.statuses.some((s) => s.kind === 'fallback' || s.kind === 'open')).toBe(false);
  });
});
