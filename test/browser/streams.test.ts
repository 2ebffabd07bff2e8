/**
 * The client's stream transports and fallbacks in Chromium, against the fake room
 * (`fake-room.ts`): SSE and NDJSON resume after the server ends each stream, a
 * buffering proxy makes "auto" step down to long-poll, and a refused WebSocket
 * upgrade makes it land on SSE.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { attachWebSocket, createRoom, type StreamBehaviour } from './fake-room.js';
import {
  createBrowserSession,
  describeBrowser,
  expectBufferingStepDown,
  expectExactly,
  expectUpgradeRefusedToSse,
  startClient,
  waitForMessages,
} from './harness.js';
import { startTestApp } from './servers.js';

const chromium = createBrowserSession();

async function startRoom(stream: StreamBehaviour, websocket = false) {
  const room = createRoom(0, stream);
  const { base, server } = chromium.stopAfterTest(await startTestApp(room.route, room.live));
  if (websocket) attachWebSocket(server, room, stream);
  return { ...room, base };
}

async function publishAll(publish: (data: unknown) => void, from: number, to: number) {
  for (let n = from; n <= to; n += 1) {
    publish({ n });
    if (n % 3 === 0) await new Promise((r) => setTimeout(r, 20));
  }
}

/** Exactly messages 1 to 20; message 21, published after them, shows no duplicate came late. */
function expectTwenty(page: Page, publish: (data: unknown) => void) {
  return expectExactly(
    page,
    Array.from({ length: 20 }, (_, i) => `${i + 1}`),
    undefined,
    async () => {
      publish({ n: 21 });
      return '21';
    },
  );
}

const common = {
  cursor: 'earliest',
  longpollUrl: '/rooms/lobby/messages',
  longpollTimeoutS: 2,
  shareAcrossTabs: false,
  backoff: { initialDelayMs: 50, maxDelayMs: 300 },
};

describeBrowser('browser client streams and fallbacks (fake room)', chromium, () => {
  for (const transport of ['websocket', 'sse', 'ndjson', 'iframe'] as const) {
    it(`${transport}: resumes after each stream ends and drops the replayed message`, async () => {
      const room = await startRoom({ endAfter: 7 }, transport === 'websocket');
      for (let n = 1; n <= 5; n += 1) room.publish({ n });
      const page = await chromium.browser.newPage();
      await startClient(page, room.base, '/rooms/lobby/live', {
        ...common,
        transports: [transport],
      });
      await waitForMessages(page, 5);
      await publishAll(room.publish, 6, 20);
      const seen = await expectTwenty(page, room.publish);
      expect(seen.statuses.filter((s) => s.kind === 'open').length).toBeGreaterThanOrEqual(3);
      expect(seen.statuses.every((s) => !('transport' in s) || s.transport === transport)).toBe(
        true,
      );
      await page.close();
    });
  }

  it('auto steps down to long-poll behind a buffering proxy', async () => {
    const room = await startRoom({ buffered: true });
    for (let n = 1; n <= 5; n += 1) room.publish({ n });
    const page = await chromium.browser.newPage();
    await startClient(page, room.base, '/rooms/lobby/live', {
      ...common,
      transports: ['sse', 'ndjson', 'long-poll', 'jsonp'],
      bufferingDeadlineMs: 500,
    });
    await waitForMessages(page, 5);
    await publishAll(room.publish, 6, 20);
    expectBufferingStepDown(await expectTwenty(page, room.publish));
    await page.close();
  });

  it('auto lands on SSE when the WebSocket upgrade is refused', async () => {
    // No upgrade listener on the server: Node destroys the socket, the page sees 1006.
    const room = await startRoom({});
    for (let n = 1; n <= 5; n += 1) room.publish({ n });
    const page = await chromium.browser.newPage();
    await startClient(page, room.base, '/rooms/lobby/live', common);
    await waitForMessages(page, 5);
    await publishAll(room.publish, 6, 20);
    expectUpgradeRefusedToSse(await expectTwenty(page, room.publish));
    await page.close();
  });
});
