/**
 * Tutorial step 11: graceful shutdown. On SIGTERM the server stops
 * accepting, answers every held request with its cursor, ends every stream,
 * and the process exits by itself once the sockets are gone.
 */
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { type Bus, type CometMiddleware, comet, createMemoryBus } from '../../index.js';
import { Chat } from './01-first-longpoll.js';

// #region shutdown
/** What delivers the signals: `process`, or an EventEmitter in a test. */
export interface SignalSource {
  once(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}

/** Closes the comet middleware (and its server), then the bus, on SIGTERM or SIGINT. */
export function closeOnSignals(push: CometMiddleware, bus: Bus, signals: SignalSource = process) {
  let closing: Promise<void> | undefined;
  const stop = () => {
    closing ??= (async () => {
      await push.close(); // held requests answered, streams ended, server closed (≤ 5 s)
      await bus.close(); // then the bus: nothing keeps the event loop alive
    })();
    return closing;
  };
  signals.once('SIGTERM', stop);
  signals.once('SIGINT', stop);
  return stop;
}
// #endregion shutdown

/** Starts the rooms app with {@link closeOnSignals} wired to `signals`. */
export async function start(port = 0, signals?: SignalSource) {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({ bus, controllers: [Chat], shutdownGrace: 5000 });
  app.use(push);
  const server = app.listen(port, '127.0.0.1');
  push.attach(server, app);
  const stop = closeOnSignals(push, bus, signals);
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bus,
    server,
    close: stop,
  };
}
