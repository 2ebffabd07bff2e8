/**
 * SSE bytes against the clients people use (issue 10, finding 6), in headless
 * Chromium: native `EventSource`, the `eventsource` package,
 * `@microsoft/fetch-event-source` and `extended-eventsource` (the last two
 * dispatch a `message` for every blank line) follow one stream route from a
 * page on another origin, across the opening `retry:` and heartbeats (40 ms
 * on this route). Each receives exactly the published messages, and no empty
 * or non-JSON event. The two fetch-based clients send `Authorization`, which
 * the browser lets through only because the CORS preflight allows it
 * (`allowHeaders`); the server sees the header.
 */
import type { RouterContext } from '@koa/router';
import { build } from 'esbuild';
import Koa from 'koa';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { comet, createMemoryBus, stream } from '../../index.js';
import { closeServer, createBrowserSession, describeBrowser, listen } from './harness.js';
import { startTestApp } from './servers.js';

const chromium = createBrowserSession();
const CLIENTS = ['native', 'pkg', 'fes', 'ext'] as const;
/** The clients whose bytes the page can count (they take a `fetch` option). */
const COUNTED = ['pkg', 'fes', 'ext'] as const;

/** The page's script: the four clients, recording every event they dispatch. */
const entry = `
import { EventSource as PkgEventSource } from 'eventsource';
import { fetchEventSource } from '@microsoft/fetch-event-source';
import { EventSource as ExtEventSource } from 'extended-eventsource';

const got = { native: [], pkg: [], fes: [], ext: [] };
const opened = { native: false, pkg: false, fes: false, ext: false };
const beats = { pkg: 0, fes: 0, ext: 0 };
const bad = [];
const onData = (name) => (data) => {
  // The usual handler: JSON.parse(e.data). An empty event is what breaks it.
  try {
    got[name].push(JSON.parse(data).id);
  } catch {
    bad.push(name + ': ' + JSON.stringify(data));
  }
};

/** fetch, with the response body teed to count heartbeat lines (a lone ':'). */
const counting = (name) => async (input, init) => {
  const res = await fetch(input, init);
  if (!res.body) return res;
  const [mine, theirs] = res.body.tee();
  (async () => {
    const reader = theirs.getReader();
    const decoder = new TextDecoder();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const lines = (rest + decoder.decode(value, { stream: true })).split('\\n');
      rest = lines.pop();
      beats[name] += lines.filter((line) => line === ':').length;
    }
  })().catch(() => {});
  return new Response(mine, { status: res.status, statusText: res.statusText, headers: res.headers });
};

window.sse = { got, opened, beats, bad };
window.startClients = (url) => {
  const native = new EventSource(url);
  native.onopen = () => { opened.native = true; };
  native.onmessage = (e) => onData('native')(e.data);

  const pkg = new PkgEventSource(url, { fetch: counting('pkg') });
  pkg.onopen = () => { opened.pkg = true; };
  pkg.onmessage = (e) => onData('pkg')(e.data);

  const auth = { Authorization: 'Bearer page-token' };
  fetchEventSource(url, {
    headers: auth,
    fetch: counting('fes'),
    openWhenHidden: true,
    onopen: async () => { opened.fes = true; },
    onmessage: (m) => onData('fes')(m.data),
    onerror: (error) => { bad.push('fes error: ' + error); throw error; },
  });

  const ext = new ExtEventSource(url, { headers: auth, fetch: counting('ext'), disableLogger: true });
  ext.onopen = () => { opened.ext = true; };
  ext.onmessage = (e) => onData('ext')(e.data);
  window.ext = ext;
};
window.ready = true;
`;

async function bundle(): Promise<string> {
  const out = await build({
    stdin: { contents: entry, resolveDir: new URL('../../', import.meta.url).pathname },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

class Feed {
  static readonly authorizations: string[] = [];

  @stream('/feed/:room', { heartbeat: 40, transports: ['sse'] })
  feed(ctx: RouterContext) {
    Feed.authorizations.push(ctx.get('Authorization'));
    return `room:${ctx.params.room}`;
  }
}

/** The stream server on its own port, allowing the page's origin and `Authorization`. */
async function startFeed(pageOrigin: string) {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({
    bus,
    controllers: [Feed],
    cors: { origins: [pageOrigin], allowHeaders: ['Authorization'] },
  });
  app.use(push);
  const { server, base } = await listen(app);
  push.attach(server, app);
  return {
    base,
    bus,
    async stop() {
      const done = push.close();
      await closeServer(server);
      await done;
      await bus.close();
    },
  };
}

type Sse = {
  got: Record<(typeof CLIENTS)[number], string[]>;
  opened: Record<(typeof CLIENTS)[number], boolean>;
  beats: Record<(typeof COUNTED)[number], number>;
  bad: string[];
};
const state = (page: Page) => page.evaluate<Sse>('window.sse');

describeBrowser('SSE bytes in Chromium, four clients', chromium, () => {
  it('each client gets exactly the published messages and no empty event', async () => {
    const script = await bundle();
    const pages = chromium.stopAfterTest(
      await startTestApp(async (ctx, next) => {
        if (ctx.path === '/sse-clients.js') {
          ctx.type = 'js';
          ctx.body = script;
        } else if (ctx.path === '/sse-page') {
          ctx.type = 'html';
          ctx.body = '<!doctype html><meta charset="utf-8"><script src="/sse-clients.js"></script>';
        } else {
          await next();
        }
      }),
    );
    const feed = chromium.stopAfterTest(await startFeed(pages.base));
    Feed.authorizations.length = 0;
    const page = await chromium.browser.newPage();
    await page.goto(`${pages.base}/sse-page`);
    await page.waitForFunction('window.ready === true');
    await page.evaluate(`window.startClients(${JSON.stringify(`${feed.base}/feed/lobby`)})`);
    await page.waitForFunction('Object.values(window.sse.opened).every(Boolean)');
    // Every stream is open and subscribed before the first publish.
    await expect.poll(() => feed.bus.subscriberCount('room:lobby') > 0).toBe(true);

    const ids = [(await feed.bus.publish('room:lobby', { n: 1 })).id];
    await page.waitForFunction('Object.values(window.sse.got).every((g) => g.length === 1)');
    // At least one heartbeat on every counted stream after the first message.
    const before = (await state(page)).beats;
    await page.waitForFunction(
      `${JSON.stringify(COUNTED)}.every((n) => window.sse.beats[n] > ${JSON.stringify(before)}[n])`,
    );
    for (const n of [2, 3]) ids.push((await feed.bus.publish('room:lobby', { n })).id);
    await page.waitForFunction('Object.values(window.sse.got).every((g) => g.length >= 3)');

    const seen = await state(page);
    expect(seen.bad).toEqual([]);
    for (const name of CLIENTS) expect([name, seen.got[name]]).toEqual([name, ids]);
    // The opening `retry:` line was applied (extended-eventsource's default is 5 s).
    expect(await page.evaluate('window.ext.retryDelay')).toBe(1000);
    // The preflight let `Authorization` through to the route, from both fetch clients.
    expect(Feed.authorizations.filter((a) => a === 'Bearer page-token')).toHaveLength(2);
    await page.close();
  });
});
