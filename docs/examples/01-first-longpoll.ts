/**
 * Tutorial step 1: the first `@longpoll` route. `start()` builds the app and
 * listens; nothing happens at import time.
 */
// #region imports
import type { AddressInfo } from 'node:net';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { comet, createMemoryBus, longpoll } from '../../index.js';
// #endregion imports

// #region controller
export class Chat {
  // GET /rooms/lobby/messages?cursor=…&timeout=25 → held until a message arrives
  @longpoll('/rooms/:room/messages')
  messages(ctx: RouterContext) {
    return `room:${ctx.params.room}`; // the channel this request follows
  }
}
// #endregion controller

/** Starts the step-1 app on `port` (0: any free port) of 127.0.0.1. */
// #region start
export async function start(port = 0) {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({ bus, controllers: [Chat] });
  app.use(push);

  const server = app.listen(port, '127.0.0.1');
  push.attach(server, app); // WebSocket upgrades, and close() closes the server too
  await new Promise((resolve) => server.once('listening', resolve));
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}`,
    bus,
    async close() {
      await push.close(); // answers held requests, then closes the server
      await bus.close();
    },
  };
}
// #endregion start
