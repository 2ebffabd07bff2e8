/**
 * Tutorial step 14: direct dispatch. Decorated `@longpoll` / `@poll` /
 * `@stream` GETs are answered before the app's middleware runs, so a route reads what it
 * needs from the request itself.
 */

import type { AddressInfo } from 'node:net';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { comet, createMemoryBus, longpoll } from '../../index.js';

/** The demo's token check: `Bearer <name>` signs in as `<name>`. */
function userOf(authorization: string): string | undefined {
  const m = /^Bearer ([\w-]{1,64})$/.exec(authorization);
  return m?.[1];
}

// #region controller
export class Inbox {
  @longpoll('/inbox/messages')
  messages(ctx: RouterContext) {
    // Not ctx.state.user: middleware in front of comet() does not run here.
    const user = userOf(ctx.get('Authorization'));
    if (user === undefined) ctx.throw(401, 'Sign in first');
    return `inbox:${user}`;
  }
}
// #endregion controller

/** Starts the step-14 app; `seen` lists the paths the app's own middleware saw. */
export async function start(port = 0) {
  const bus = createMemoryBus();
  const seen: string[] = [];
  // #region start
  const app = new Koa();
  app.use(async (ctx, next) => {
    seen.push(ctx.path); // logging, sessions, … (not run for direct routes)
    await next();
  });
  const push = comet({ bus, controllers: [Inbox], direct: true });
  app.use(push);
  const server = app.listen(port, '127.0.0.1');
  push.attach(server, app); // direct needs the app, and a server that already has it
  // #endregion start
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bus,
    seen,
    async close() {
      await push.close();
      await bus.close();
    },
  };
}
