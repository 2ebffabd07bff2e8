/**
 * The Chromium harness for `test/browser/`: launches Debian's `/usr/bin/chromium`
 * through playwright-core (a test tool's own browser download cannot work here;
 * .ci/run installs it) and serves a test page that loads the built client.
 *
 * Missing Chromium: outside CI the suite is skipped with a loud warning; under
 * `CI=true` it fails, so CI can never pass without running the browser tests.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest';
import { buildClient } from '../../client/build.js';
import { whenMet } from '../helpers/requirement.js';

/** Where Debian's `apt-get install chromium` puts the browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags Debian's Chromium needs headless on this machine and in CI. */
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Something a test started and must stop after it (a server, an app and its bus). */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * What a file's browser suites share: one Chromium per suite, and the servers each
 * test started. Create one per file; {@link describeBrowser} drives it.
 */
export interface BrowserSession {
  /** The suite's Chromium; throws outside a {@link describeBrowser} suite's tests. */
  readonly browser: Browser;
  /** Has `server` stopped after the current test, after those started later; returns it. */
  stopAfterTest<T extends Stoppable>(server: T): T;
}

/** A {@link BrowserSession} plus the hooks {@link describeBrowser} registers. */
interface SessionHooks extends BrowserSession {
  launch(): Promise<void>;
  stopAll(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh {@link BrowserSession} for a test file's browser suites. */
export function createBrowserSession(): BrowserSession {
  let launched: Browser | undefined;
  const started: Stoppable[] = [];
  const session: SessionHooks = {
    get browser() {
      if (launched === undefined) throw new Error('Chromium runs only inside describeBrowser');
      return launched;
    },
    stopAfterTest(server) {
      started.push(server);
      return server;
    },
    async launch() {
      launched = await launchChromium();
    },
    async stopAll() {
      for (const server of started.splice(0).reverse()) await server.stop();
    },
    async close() {
      await launched?.close();
      launched = undefined;
    },
  };
  return session;
}

/**
 * `describe` for a browser suite: runs it when Chromium is installed; otherwise fails
 * under CI and skips with a loud warning elsewhere. Inside, `session` launches Chromium
 * before the suite's tests and closes it after them, and stops what each test handed
 * to {@link BrowserSession.stopAfterTest}.
 */
export function describeBrowser(name: string, session: BrowserSession, suite: () => void): void {
  const hooks = session as SessionHooks;
  const withHooks = () => {
    beforeAll(() => hooks.launch());
    afterAll(() => hooks.close());
    afterEach(() => hooks.stopAll());
    suite();
  };
  whenMet(
    {
      met: existsSync(chromiumPath),
      tests: name,
      needs: `Chromium at ${chromiumPath}`,
      hint: 'Install it with `apt-get install -y chromium`',
    },
    () => describe(name, withHooks),
  );
}

/** Launches headless Chromium and makes sure the client bundles are fresh. */
export async function launchChromium(): Promise<Browser> {
  await buildClient();
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
}

/**
 * The test page: loads the ES module build and exposes `start(url, options)`, which
 * subscribes and records what arrives in `window.received` / `statuses` / `resets` /
 * `errors`.
 */
export const clientTestPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>koa-comet browser test</title></head>
<body><script type="module">
import { subscribe } from '/comet/koa-comet.js';
window.received = [];
window.statuses = [];
window.resets = [];
window.errors = [];
window.start = (url, options) => {
  window.subscription = subscribe(url, {
    ...options,
    onMessage: (m) => window.received.push(m),
    onStatus: (s) => window.statuses.push(s),
    onReset: (r) => window.resets.push(r),
    onError: (e) => window.errors.push(e),
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
  resets: { cursor: string | null; previousCursor?: string | null }[];
  errors: { status: number; code: string | null; message: string | null; transport: string }[];
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
    '({ received: window.received, statuses: window.statuses, resets: window.resets, errors: window.errors })',
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

/**
 * Waits for `ids.length` messages, then expects exactly `ids`, in order;
 * resolves with what the page recorded.
 *
 * A late duplicate must have its chance to show up first. With `sentinel`
 * (publishes one more message, resolves with its id) that is an event: a
 * duplicate would come before the sentinel, so the page must hold exactly
 * `ids` then the sentinel (which is left out of the record returned).
 * Without it (a test that goes on publishing to the same page) the page
 * is given 300 ms.
 */
export async function expectExactly(
  page: Page,
  ids: readonly string[],
  timeoutMs?: number,
  sentinel?: () => Promise<string>,
): Promise<PageRecord> {
  await waitForMessages(page, ids.length, timeoutMs);
  if (sentinel === undefined) {
    await new Promise((r) => setTimeout(r, 300));
    const seen = await record(page);
    expect(seen.received.map((m) => m.id)).toEqual(ids);
    return seen;
  }
  const last = await sentinel();
  await waitForMessages(page, ids.length + 1, timeoutMs);
  const seen = await record(page);
  expect(seen.received.map((m) => m.id)).toEqual([...ids, last]);
  return { ...seen, received: seen.received.slice(0, ids.length) };
}

/** Expects `seen` to have opened SSE, found it buffered and stepped down to long-poll. */
export function expectBufferingStepDown(seen: PageRecord): void {
  expect(seen.statuses).toContainEqual({ kind: 'open', transport: 'sse' });
  expect(seen.statuses).toContainEqual({
    kind: 'fallback',
    from: 'sse',
    to: 'long-poll',
    reason: 'buffering',
  });
  expect(seen.statuses.at(-1)).toMatchObject({ transport: 'long-poll' });
}

/** Expects `seen` to have fallen from a failed WebSocket to SSE, its only open transport. */
export function expectUpgradeRefusedToSse(seen: PageRecord): void {
  expect(seen.statuses).toContainEqual({
    kind: 'fallback',
    from: 'websocket',
    to: 'sse',
    reason: 'failed',
  });
  expect(seen.statuses.filter((s) => s.kind === 'open')).toEqual([
    { kind: 'open', transport: 'sse' },
  ]);
}
