/**
 * Fallback against the REAL demo app (`createChatApp`) in Chromium, through a loopback
 * test proxy that the page is loaded from (so the page is same-origin with the proxy):
 * a proxy that refuses WebSocket upgrades makes "auto" land on SSE; one that also
 * buffers response bodies (streams never deliver, long-polls arrive whole) makes it
 * step down to long-poll. A 403 never falls back: see demo.test.ts.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import {
  createBrowserSession,
  describeBrowser,
  expectBufferingStepDown,
  expectExactly,
  expectUpgradeRefusedToSse,
  type PageRecord,
  startClient,
} from './harness.js';
import { head, type ProxyMode, publish, startDemoApp, startProxy } from './servers.js';

const chromium = createBrowserSession();

/** The demo app behind a proxy; returns the proxy's base (where the page lives) and the demo's. */
async function behindProxy(mode: ProxyMode) {
  const demo = chromium.stopAfterTest(await startDemoApp());
  const proxy = chromium.stopAfterTest(await startProxy(demo.base, mode));
  return { base: proxy.base, direct: demo.base };
}

async function followAuto(base: string, direct: string, room: string): Promise<Page> {
  const page = await chromium.browser.newPage();
  await startClient(page, base, `/rooms/${room}/live`, {
    longpollUrl: `/rooms/${room}/messages`,
    cursor: await head(direct, room),
    shareAcrossTabs: false,
    bufferingDeadlineMs: 800,
    longpollTimeoutS: 5,
    backoff: { initialDelayMs: 50, maxDelayMs: 400 },
  });
  return page;
}

/** Publishes `count` messages a few at a time (so a buffering watch has something to find). */
async function trickle(base: string, room: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 1; n <= count; n += 5) {
    ids.push(...(await publish(base, room, Math.min(5, count - n + 1), n)));
    await new Promise((r) => setTimeout(r, 100));
  }
  return ids;
}

/**
 * Exactly `ids`, carrying n = 1, 2, …; with `room`, one more message is
 * published there after them (see `expectExactly`'s sentinel).
 */
async function expectAll(
  page: Page,
  ids: string[],
  room?: { base: string; name: string },
): Promise<PageRecord> {
  const sentinel =
    room && (async () => (await publish(room.base, room.name, 1, ids.length + 1))[0] ?? '');
  const seen = await expectExactly(page, ids, 30_000, sentinel);
  expect(seen.received.map((m) => (m.data as { n: number }).n)).toEqual(ids.map((_, i) => i + 1));
  return seen;
}

describeBrowser('fallback against the real demo app', chromium, () => {
  it('the proxy passes upgrades: auto stays on WebSocket (the control case)', async () => {
    const { base, direct } = await behindProxy({});
    const page = await followAuto(base, direct, 'fb-control');
    await page.waitForFunction('window.statuses.some((s) => s.kind === "open")');
    const seen = await expectAll(page, await publish(direct, 'fb-control', 50), {
      base: direct,
      name: 'fb-control',
    });
    expect(seen.statuses.filter((s) => s.kind === 'open')).toEqual([
      { kind: 'open', transport: 'websocket' },
    ]);
    await page.close();
  });

  it('WebSocket refused at the upgrade: auto lands on SSE and misses nothing', async () => {
    const { base, direct } = await behindProxy({ refuseUpgrades: true });
    const page = await followAuto(base, direct, 'fb-upgrade');
    await page.waitForFunction('window.statuses.some((s) => s.kind === "open")');
    const ids = await publish(direct, 'fb-upgrade', 50);
    expectUpgradeRefusedToSse(await expectAll(page, ids, { base: direct, name: 'fb-upgrade' }));
    await page.close();
  });

  it('streams held back by a buffering proxy: auto steps down to long-poll, once, in order', async () => {
    const { base, direct } = await behindProxy({ refuseUpgrades: true, bufferBodies: true });
    const page = await followAuto(base, direct, 'fb-buffer');
    await page.waitForFunction('window.statuses.some((s) => s.kind === "open")');
    const seen = await expectAll(page, await trickle(direct, 'fb-buffer', 40));
    expectBufferingStepDown(seen);
    // Long-poll answers end, so the buffering proxy passes them whole: it stays there.
    const more = await publish(direct, 'fb-buffer', 10, 41);
    await expectAll(page, [...seen.received.map((m) => m.id), ...more], {
      base: direct,
      name: 'fb-buffer',
    });
    await page.close();
  });
});
