/**
 * Tutorial step 8: the browser client. The app serves the client bundles
 * at `/comet/…` and a page that follows a room with `subscribe()`.
 */
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { comet, createMemoryBus, stream } from '../../index.js';
import { Chat } from './01-first-longpoll.js';
import { listenExample } from './support/listen.js';

/** The stream route the page follows, beside step 1's long-poll route. */
export class LiveChat {
  @stream('/rooms/:room/live')
  live(ctx: RouterContext) {
    return `room:${ctx.params.room}`;
  }
}

// #region page
const page = `<!doctype html>
<p>Status: <span id="status">connecting</span></p>
<ul id="log"></ul>
<script type="module">
  import { subscribe } from '/comet/koa-comet.js';

  const log = document.getElementById('log');
  const status = document.getElementById('status');
  const room = subscribe('/rooms/lobby/live', {
    longpollUrl: '/rooms/lobby/messages',   // for the long-poll and JSONP fallbacks
    onMessage(m) {                          // every message once, in order
      const li = document.createElement('li');
      li.textContent = m.data.text;
      log.append(li);
    },
    onReset() {                             // history was lost: reload what the page shows
      log.replaceChildren();
    },
    onStatus(s) {
      status.textContent = s.kind + (s.transport ? ' (' + s.transport + ')' : '');
    },
  });
  addEventListener('pagehide', () => room.close());
</script>`;
// #endregion page

/** Starts the app: the page at `/`, the bundles at `/comet/`, the rooms routes. */
export async function start(port = 0) {
  const bus = createMemoryBus();
  const app = new Koa();
  // #region serve
  app.use(async (ctx, next) => {
    if (ctx.path !== '/') return next();
    ctx.type = 'html';
    ctx.body = page;
  });
  // comet() also serves the client: /comet/koa-comet.js (ES module) and
  // /comet/koa-comet.iife.js (global KoaComet); comet({ client: false }) turns that off.
  const push = comet({ bus, controllers: [Chat, LiveChat] });
  app.use(push);
  // #endregion serve
  return listenExample(app, push, bus, port);
}
