/**
 * Tutorial step 9: reading from another origin — CORS with an allow-list
 * for fetch, EventSource and XHR; JSONP and the iframe for the rest.
 */
import Koa from 'koa';
import { comet, createMemoryBus } from '../../index.js';
import { Chat } from './01-first-longpoll.js';
import { LiveChat } from './08-browser-client.js';
import { listenExample } from './support/listen.js';

/** Starts the rooms API readable from `https://app.example` (and the page's own origin). */
export async function start(port = 0) {
  const bus = createMemoryBus();
  const app = new Koa();
  // #region cors
  const push = comet({
    bus,
    controllers: [Chat, LiveChat],
    cors: {
      origins: ['https://app.example', 'https://admin.example'], // exact origins, no patterns
      credentials: true, // send cookies cross-origin (never allowed together with '*')
      maxAge: 600, // browsers cache the preflight for 10 minutes
      allowHeaders: ['Authorization'], // bearer tokens (fetch-event-source & co.), besides the defaults
    },
  });
  // #endregion cors
  app.use(push);
  return listenExample(app, push, bus, port);
}
