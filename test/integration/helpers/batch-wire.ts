/** The demo app on a memory bus with the fixed epoch `k1`, as the wire-format page assumes. */
import type { AddressInfo } from 'node:net';
import { createMemoryBus } from '../../../lib/bus/memory.js';
import { createTestApp } from './app.js';

export async function examplesServer() {
  const bus = createMemoryBus({ epoch: 'k1' });
  const { app, push } = createTestApp({ bus });
  const server = app.listen(0, '127.0.0.1');
  push.attach(server, app);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    push,
    publish: (data: unknown) => bus.publish('room:test', data),
    async until(check: () => boolean, ms = 2000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!check()) {
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async close(): Promise<void> {
      await push.close();
      await bus.close();
    },
  };
}
