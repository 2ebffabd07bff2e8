/**
 * Tutorial step 4: JSONP long-poll for a page on another origin, here a
 * private inbox followed with a per-user token.
 */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { comet, createMemoryBus, longpoll } from '../../index.js';

// #region inbox
/** Tokens a real app would check against its sessions; here a fixed map. */
export const tokens = new Map([['ada', 's3cret-ada']]);

export class Inbox {
  // Answers JSON, or JSONP when the request carries ?callback=NAME.
  @longpoll('/users/:user/inbox', { timeout: 25, jsonp: true })
  inbox(ctx: RouterContext) {
    const user = ctx.params.user ?? '';
    // A <script> tag cannot send headers: the token travels in the query.
    if (tokens.get(user) !== ctx.query.token) ctx.throw(403, 'Not your inbox');
    return `inbox:${user}`;
  }
}
// #endregion inbox

// #region page
/** The page on the other origin: it follows the inbox of `api` with script tags. */
export function page(api: string): string {
  return `<!doctype html>
<ul id="log"></ul>
<script>
  const api = ${JSON.stringify(api)};
  let cursor = '';
  let failures = 0;
  function onInbox(batch) {            // called by each JSONP answer
    failures = 0;
    for (const m of batch.messages) {
      const li = document.createElement('li');
      li.textContent = m.data.text;
      document.getElementById('log').append(li);
    }
    cursor = batch.cursor;
  }
  function next() {
    const script = document.createElement('script');
    script.src = api + '/users/ada/inbox?token=s3cret-ada&callback=onInbox' +
      (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    script.onload = () => { script.remove(); next(); };
    script.onerror = () => {            // network error or a 4xx: back off, retry
      script.remove();
      setTimeout(next, Math.min(30000, 1000 * 2 ** failures++));
    };
    document.head.append(script);
  }
  next();
</script>`;
}
// #endregion page

async function listen(app: Koa, port: number): Promise<{ server: Server; url: string }> {
  const server = app.listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Starts the API (with the inbox route) and a second origin serving {@link page}. */
export async function start(port = 0) {
  const bus = createMemoryBus();
  const api = new Koa();
  const push = comet({ bus, controllers: [Inbox] });
  api.use(push);
  const apiServer = await listen(api, port);
  push.attach(apiServer.server, api);

  const site = new Koa();
  site.use((ctx) => {
    ctx.type = 'html';
    ctx.body = page(apiServer.url);
  });
  const siteServer = await listen(site, 0);
  return {
    url: apiServer.url,
    pageUrl: siteServer.url,
    bus,
    /** Requests held right now (tests wait for the page's first one). */
    held: () => push.stats().held,
    async close() {
      await push.close();
      await new Promise((resolve) => siteServer.server.close(resolve));
      await bus.close();
    },
  };
}
