/**
 * Preloaded (`node --import`) into the demo's own server,
 * `examples/chat/server.js` as `npm run start:prod` runs it: wires the first
 * HTTP server the demo listens on to the orchestrator's control channel
 * (port, stats, exit), so the bench measures the demo process unchanged —
 * its middleware, its server settings, its metrics and CORS — with nothing
 * of the bench in it but this IPC listener (the raw servers carry the same
 * one). The orchestrator sets PORT=0 and HOST=127.0.0.1.
 */
import { Server } from 'node:http';
import { attachControl } from '../lib/control.js';

const listen = Server.prototype.listen;
let attached = false;
Server.prototype.listen = function (this: Server, ...args: unknown[]) {
  if (!attached) {
    attached = true;
    // After the demo's synchronous code that follows listen() (push.attach
    // puts direct dispatch in front of the request listeners it finds), so
    // the control's request counter sees every request, as in the raw servers.
    process.nextTick(() => attachControl(this, { longpoll: true, stream: true }));
  }
  return (listen as (...a: unknown[]) => Server).apply(this, args);
} as typeof listen;
