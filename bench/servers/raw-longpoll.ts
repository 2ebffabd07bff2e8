/**
 * The floor for long-poll: a hand-written `node:http` server doing the same
 * job as the framework's `@longpoll` route (the logic is in
 * raw-longpoll-handler.ts).
 */
import { createServer } from 'node:http';
import { serveBench } from '../lib/control.js';
import { handleRaw, startSweep } from './raw-longpoll-handler.js';

const server = createServer(handleRaw);
startSweep();
serveBench(server, { longpoll: true, stream: false });
