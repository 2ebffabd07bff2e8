/**
 * The floor for long-poll: a hand-written `node:http` server doing the same
 * job as the framework's `@longpoll` route (the logic is in
 * raw-longpoll-handler.ts).
 */
import { createServer } from 'node:http';
import { attachControl } from '../lib/control.js';
import { handleRaw, startSweep } from './raw-longpoll-handler.js';

const server = createServer(handleRaw);
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;
startSweep();
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
attachControl(server, { longpoll: true, stream: false });
