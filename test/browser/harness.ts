/**
 * The Chromium harness for `test/browser/`: launches Debian's `/usr/bin/chromium`
 * through playwright-core (a test tool's own browser download cannot work here, see
 * TOOLCHAIN.md) and serves a test page that loads the built client.
 *
 * Missing Chromium: outside CI the suite is skipped with a loud warning; under
 * `CI=true` it fails, so CI can never pass without running the browser tests.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { type Browser, chromium, type Page } from 'playwright-core';
import { describe, it } from 'vitest';
import { buildClient } from '../../client/build.js';

/** Where Debian's `apt-get install chromium` puts the browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags TOOLCHAIN.md lists for this machine and CI. */
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * `describe` for a browser suite: runs it when Chromium is installed; otherwise fails
 * under CI and skips with a loud warning elsewhere.
 */
export function describeBrowser(name: string, suite: () => void): void {
  if (existsSync(chromiumPath)) {
    describe(name, suite);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs Chromium', () => {
        throw new Error(`Chromium not found at ${chromiumPath}: apt-get install -y chromium`);
      });
    });
  } else {
    console.warn(
      `\n!!! ${name}: SKIPPED — Chromium not found at ${chromiumPath}.\n` +
        '!!! Install it with `apt-get install -y chromium`; under CI=true this fails.\n',
    );
    describe.skip(name, suite);
  }
}

/** Launches headless Chromium and makes sure the client bundles are fresh. */
export async function launchChromium(): Promise<Browser> {
  await buildClient();
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
}

/**
 * The test page: loads the ES module build and exposes `start(url, options)`, which
 * subscribes and records what arrives in `window.received` / `statuses` / `resets`.
 */
export const clientTestPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>koa-comet browser test</title></head>
<body><script type="module">
import { subscribe } from '/comet/koa-comet.js';
window.received = [];
window.statuses = [];
window.resets = [];
window.start = (url, options) => {
  window.subscription = subscribe(url, {
    ...options,
    onMessage: (m) => window.received.push(m),
    onStatus: (s) => window.statuses.push(s),
    onReset: (r) => window.resets.push(r),
  });
};
window.ready = true;
</script></body></html>`;

/** Koa middleware answering `GET /test-page` with {@link clientTestPage}. */
export function testPageRoute(): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path !== '/test-page') return next();
    ctx.type = 'html';
    ctx.body = clientTestPage;
  };
}

/** Listens on 127.0.0.1, port 0; resolves with the base URL. */
export async function listen(app: Koa): Promise<{ server: Server; base: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((ready) => server.once('listening', ready));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Closes a server, cutting its open connections (held polls, streams). */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (server === undefined) return;
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
}

/** What the test page recorded. */
export interface PageRecord {
  received: { id: string; channel: string; data: unknown }[];
  statuses: { kind: string; transport?: string; status?: number; reason?: string }[];
  resets: { cursor: string | null }[];
}

/** Opens the test page and subscribes with `options` (all JSON). */
export async function startClient(
  page: Page,
  base: string,
  url: string,
  options: Record<string, unknown>,
): Promise<void> {
  // `commit`: a JSONP poll or forever-frame would otherwise hold the `load` event.
  await page.goto(`${base}/test-page`, { waitUntil: 'commit' });
  await page.waitForFunction('window.ready === true');
  await page.evaluate(
    ([u, o]) => (globalThis as unknown as { start(u: unknown, o: unknown): void }).start(u, o),
    [url, options] as const,
  );
}

/** Reads what the page recorded so far. */
export function record(page: Page): Promise<PageRecord> {
  return page.evaluate(
    '({ received: window.received, statuses: window.statuses, resets: window.resets })',
  );
}

/** Waits until the page received at least `count` messages. */
export async function waitForMessages(
  page: Page,
  count: number,
  timeoutMs = 20_000,
): Promise<void> {
  await page.waitForFunction(`window.received.length >= ${count}`, undefined, {
    timeout: timeoutMs,
  });
}
