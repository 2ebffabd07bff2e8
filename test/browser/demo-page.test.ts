/**
 * The demo page (`examples/chat/public/index.html`, `GET /` of the demo app) in
 * Chromium: messages typed in its box arrive in the chat log and in all six
 * side-by-side columns, a screenshot is taken and checked; and the same page works
 * opened from another port and from `file://` through `?server=`.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { closeServer, createBrowserSession, describeBrowser, listen } from './harness.js';
import { startDemoApp } from './servers.js';

const TRANSPORTS = ['websocket', 'sse', 'ndjson', 'long-poll', 'jsonp', 'iframe'] as const;
const pageFile = fileURLToPath(new URL('../../examples/chat/public/index.html', import.meta.url));

const chromium = createBrowserSession();

/** The demo app as `npm start` configures it (CORS from any origin, no credentials). */
async function demo(): Promise<string> {
  const app = await startDemoApp({ cors: { origins: ['*'] } });
  return chromium.stopAfterTest(app).base;
}

/** A plain static server on another port serving only the demo page file at `/demo`. */
async function otherPort(): Promise<string> {
  const app = new Koa();
  app.use((ctx) => {
    if (ctx.path !== '/demo') return;
    ctx.type = 'html';
    ctx.body = readFileSync(pageFile);
  });
  const { server, base } = await listen(app);
  chromium.stopAfterTest({ stop: () => closeServer(server) });
  return base;
}

/** What went on the wire per transport, as Chromium saw it (so a column cannot be fed by another). */
function wireLog(page: Page): Set<string> {
  const seen = new Set<string>();
  page.on('websocket', () => seen.add('websocket'));
  page.on('request', (r) => {
    const url = new URL(r.url());
    const transport = url.searchParams.get('transport');
    if (url.pathname.endsWith('/live')) seen.add(transport ?? (r.method() === 'GET' ? 'sse' : '?'));
    if (url.pathname.endsWith('/messages') && r.method() === 'GET') {
      seen.add(url.searchParams.has('callback') ? 'jsonp' : 'long-poll');
    }
  });
  return seen;
}

async function open(url: string, wire?: (page: Page) => void): Promise<Page> {
  const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
  wire?.(page);
  await page.goto(url);
  await page.waitForFunction('window.demoReady === true');
  return page;
}

/** Types each line in the page's box and sends it. */
async function say(page: Page, lines: readonly string[]): Promise<void> {
  for (const text of lines) {
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
    await page.waitForFunction(
      `[...document.querySelectorAll('#log li')].some((li) => li.textContent.endsWith(${JSON.stringify(text)}))`,
    );
  }
}

const texts = (page: Page, selector: string) =>
  page.$$eval(selector, (items) => items.map((li) => li.textContent ?? ''));

async function waitForColumns(page: Page, names: readonly string[], count: number) {
  const check = `${JSON.stringify(names)}.every((name) => document.querySelectorAll('#col-' + name + ' li').length >= ${count})`;
  await page.waitForFunction(check, undefined, { timeout: 20_000 });
}

describeBrowser('the demo page', chromium, () => {
  it('shows published messages in the log and in every transport column; screenshot', async () => {
    const base = await demo();
    let wire = new Set<string>();
    const page = await open(`${base}/?room=shot`, (p) => {
      wire = wireLog(p);
    });
    await page.waitForFunction('document.querySelector("#status").textContent === "open"');
    const lines = ['Hello from koa-comet', 'Second message <b>not bold</b>', 'Third — ünïcødé ✓'];
    await say(page, lines);
    await waitForColumns(page, TRANSPORTS, lines.length);

    const log = await texts(page, '#log li');
    expect(log).toHaveLength(3);
    log.forEach((entry, i) => {
      expect(entry).toMatch(new RegExp(`^[a-z0-9]+-${i + 1}`));
      expect(entry.endsWith(lines[i]!)).toBe(true);
    });
    expect(await page.textContent('#transport')).toBe('websocket');
    expect(await page.textContent('#cursor')).toMatch(/-3$/);
    expect(await page.textContent('#reconnects')).toBe('0');
    expect(await page.$$('#log b')).toHaveLength(0); // data is text, never HTML
    for (const name of TRANSPORTS) {
      expect([name, await texts(page, `#col-${name} li`)]).toEqual([name, lines]);
      expect(await page.textContent(`#col-${name} .state`)).toBe('open');
    }

    // Each column had its own connection on its own transport (no tab sharing across them).
    expect([...wire].sort()).toEqual([...TRANSPORTS].sort());

    const dir = mkdtempSync(join(tmpdir(), 'koa-comet-demo-'));
    const file = join(dir, 'demo-page.png');
    await page.screenshot({ path: file, fullPage: true });
    console.log(`demo page screenshot: ${file}`);
    expect(statSync(file).size).toBeGreaterThan(20_000);
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
    await page.close();
  });

  it('a forced transport from the picker is the one in use', async () => {
    const base = await demo();
    const page = await open(`${base}/?room=picked&transport=longpoll&compare=0`);
    // A long-poll counts as open at its first answer: the first message here.
    await say(page, ['via long-poll']);
    expect(await page.textContent('#transport')).toBe('long-poll');
    expect(await page.textContent('#status')).toBe('open');
    expect(await page.inputValue('#picker')).toBe('long-poll');
    expect(await page.isHidden('#compare-section')).toBe(true);
    await page.close();
  });

  it('works from another port through ?server= (CORS, JSONP, iframe postMessage)', async () => {
    const base = await demo();
    const other = await otherPort();
    const page = await open(`${other}/demo?room=elsewhere&server=${encodeURIComponent(base)}`);
    await page.waitForFunction('document.querySelector("#status").textContent === "open"');
    await say(page, ['one', 'two']);
    await waitForColumns(page, TRANSPORTS, 2);
    for (const name of TRANSPORTS) {
      expect([name, await texts(page, `#col-${name} li`)]).toEqual([name, ['one', 'two']]);
    }
    await page.close();
  });

  it('works from file:// (every transport but the iframe: a file:// page has no origin to post to)', async () => {
    const base = await demo();
    const page = await open(`file://${pageFile}?room=file&server=${encodeURIComponent(base)}`);
    await page.waitForFunction('document.querySelector("#status").textContent === "open"');
    await say(page, ['from a file']);
    const working = TRANSPORTS.filter((t) => t !== 'iframe');
    await waitForColumns(page, working, 1);
    for (const name of working) {
      expect([name, await texts(page, `#col-${name} li`)]).toEqual([name, ['from a file']]);
    }
    expect(await texts(page, '#col-iframe li')).toEqual([]);
    expect(await page.textContent('#col-iframe .state')).not.toBe('open');
    await page.close();
  });
});
