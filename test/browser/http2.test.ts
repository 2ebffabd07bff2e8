/**
 * HTTP/2 in Chromium: the demo app on `http2.createSecureServer({ allowHTTP1:
 * true })` with a self-signed certificate (accepted with
 * `--ignore-certificate-errors`, in this test only). Ten SSE streams from one
 * page share one connection and all receive a publish, where over HTTP/1.1
 * the seventh waits for one of the first six to close. The client's `send()`
 * gives the same `{ id }` over the WebSocket (the HTTP/1.1 side) and over a
 * forced long-poll fallback (POST over HTTP/2).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildClient } from '../../client/build.js';
import { createChatApp } from '../../examples/chat/app.js';
import { createHttpsServer, selfSignedCertificate } from '../../examples/chat/https.js';
import { createMemoryBus, type MemoryBus } from '../../index.js';
import type { CometMiddleware } from '../../middleware/comet.js';
import {
  chromiumPath,
  createBrowserSession,
  describeBrowser,
  startClient,
  testPageRoute,
} from './harness.js';
import { startDemoApp } from './servers.js';

const session = createBrowserSession();
let browser: Browser | undefined;

async function startHttpsDemo(): Promise<{ base: string; bus: MemoryBus; push: CometMiddleware }> {
  const bus = createMemoryBus();
  const { app, push } = createChatApp({ bus });
  app.use(testPageRoute());
  const server = createHttpsServer(app, await selfSignedCertificate());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  push.attach(server, app);
  const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  session.stopAfterTest({
    async stop() {
      await push.close();
      await bus.close();
    },
  });
  return { base, bus, push };
}

/** Opens `n` EventSources on `path` in the page; they count opens and messages. */
async function openEventSources(page: Page, path: string, n: number): Promise<void> {
  await page.evaluate(
    ([p, count]) => {
      const w = globalThis as unknown as {
        sources: EventSource[];
        opened: number[];
        got: string[][];
      };
      w.sources = [];
      w.opened = [];
      w.got = [];
      for (let i = 0; i < count; i += 1) {
        const es = new EventSource(p);
        w.got.push([]);
        es.onopen = () => w.opened.push(i);
        es.onmessage = (e) => w.got[i]?.push(JSON.parse(e.data).data);
        w.sources.push(es);
      }
    },
    [path, n] as const,
  );
}

const held = (push: CometMiddleware, n: number) =>
  expect.poll(() => push.stats().held, { timeout: 10_000 }).toBe(n);

describeBrowser('HTTP/2 in Chromium', session, () => {
  beforeAll(async () => {
    await buildClient();
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--ignore-certificate-errors',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('opens ten SSE streams from one page over one HTTP/2 connection, all receive a publish', async () => {
    const demo = await startHttpsDemo();
    const page = await (browser as Browser).newPage();
    await page.goto(`${demo.base}/test-page`);
    const protocol = await page.evaluate(
      "performance.getEntriesByType('navigation')[0].nextHopProtocol",
    );
    expect(protocol).toBe('h2');
    await openEventSources(page, '/rooms/h2/live', 10);
    await page.waitForFunction('window.opened.length === 10');
    await held(demo.push, 10);
    await demo.bus.publish('room:h2', 'to all ten');
    await page.waitForFunction('window.got.every((g) => g.length === 1)');
    expect(await page.evaluate('window.got')).toEqual(Array(10).fill(['to all ten']));
  });

  it('over HTTP/1.1 the same page cannot open a seventh stream until one of six closes', async () => {
    const demo = session.stopAfterTest(await startDemoApp());
    const page = await (browser as Browser).newPage();
    await page.goto(`${demo.base}/test-page`);
    await openEventSources(page, '/rooms/h1/live', 7);
    await page.waitForFunction('window.opened.length === 6');
    await held(demo.push, 6);
    // Six connections per origin: the seventh is still connecting.
    expect(await page.evaluate('window.sources.filter((s) => s.readyState === 0).length')).toBe(1);
    const waiting = (await page.evaluate(
      'window.sources.findIndex((s) => s.readyState === 0)',
    )) as number;
    const first = (await page.evaluate('window.opened[0]')) as number;
    await page.evaluate(`window.sources[${first}].close()`);
    await page.waitForFunction(`window.opened.includes(${waiting})`);
    await held(demo.push, 6);
  });

  it('send() gives the same { id } over the WebSocket and over a forced long-poll fallback', async () => {
    const demo = await startHttpsDemo();
    const results: { id: string }[] = [];
    for (const transports of [['websocket'], ['long-poll']]) {
      const page = await (browser as Browser).newPage();
      await startClient(page, demo.base, '/rooms/send/live', {
        transports,
        longpollUrl: '/rooms/send/messages',
        shareAcrossTabs: false,
        cursor: 'earliest',
      });
      await page.waitForFunction(
        `window.statuses.some((s) => s.kind === 'open' && s.transport === '${transports[0]}')`,
      );
      const sent = (await page.evaluate(
        `window.subscription.send({ via: '${transports[0]}' })`,
      )) as { id: string };
      expect(Object.keys(sent)).toEqual(['id']);
      // The id sent is the id the subscription then receives.
      await page.waitForFunction(
        `window.received.some((m) => m.id === ${JSON.stringify(sent.id)})`,
      );
      results.push(sent);
      await page.close();
    }
    const stored = (await demo.bus.read('room:send', 'earliest')).messages;
    expect(stored.map((m) => ({ id: m.id, data: m.data }))).toEqual([
      { id: results[0]?.id, data: { via: 'websocket' } },
      { id: results[1]?.id, data: { via: 'long-poll' } },
    ]);
  });
});
