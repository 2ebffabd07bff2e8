/**
 * Plumbing the tutorial does not show: start an example app on 127.0.0.1
 * (port 0: any free port) and hand the tests its URL and a `close()`.
 * Step 1 (`01-first-longpoll.ts`) spells the same lines out for readers.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Bus, CometMiddleware } from '../../../index.js';

/** A running example: its URL, bus and server, and how to stop it. */
export interface RunningExample<B extends Bus> {
  readonly url: string;
  readonly bus: B;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Listens, ties `push` to the server (WebSocket upgrades, graceful close),
 * and resolves once the port is open. `close()` answers held requests,
 * closes the server, then the bus.
 */
export async function listenExample<B extends Bus>(
  app: Koa,
  push: CometMiddleware,
  bus: B,
  port: number,
): Promise<RunningExample<B>> {
  const server = app.listen(port, '127.0.0.1');
  push.attach(server, app);
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bus,
    server,
    async close() {
      await push.close();
      await bus.close();
    },
  };
}
