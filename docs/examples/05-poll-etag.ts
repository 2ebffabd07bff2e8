/**
 * Tutorial step 5: a short-poll unread counter, revalidated with `ETag` so
 * an unchanged answer costs a `304` and no body.
 */
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { comet, createMemoryBus, poll } from '../../index.js';
import { listenExample } from './support/listen.js';

// #region route
export class Notifications {
  // Answers at once: the messages after ?cursor=, with an ETag (304 if unchanged).
  @poll('/users/:user/notifications', { maxBatch: 100 })
  notifications(ctx: RouterContext) {
    return `notifications:${ctx.params.user}`;
  }
}
// #endregion route

// #region counter
/** Counts the notifications after the last one the user read. */
export function unreadCounter(url: string) {
  let lastRead: string | undefined; // the cursor of the last notification read
  let etag = '';
  let unread = 0;
  let latest = '';
  return {
    /** Asks the server; returns the count (unchanged when the server says 304). */
    async check(): Promise<number> {
      const request = new URL(url);
      if (lastRead !== undefined) request.searchParams.set('cursor', lastRead);
      const response = await fetch(request, { headers: etag ? { 'If-None-Match': etag } : {} });
      if (response.status === 304) return unread;
      const batch = (await response.json()) as { messages: unknown[]; cursor: string };
      etag = response.headers.get('ETag') ?? '';
      latest = batch.cursor;
      lastRead ??= batch.cursor; // first poll without a cursor: learn where "now" is
      unread = batch.messages.length; // at most maxBatch: show "100+" past it
      return unread;
    },
    /** The user opened the list: everything so far is read. */
    markAllRead() {
      if (latest !== '') lastRead = latest;
    },
  };
}
// #endregion counter

/** Starts the notifications app. */
export async function start(port = 0) {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({ bus, controllers: [Notifications] });
  app.use(push);
  return listenExample(app, push, bus, port);
}
