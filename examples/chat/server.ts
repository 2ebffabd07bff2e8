/**
 * `npm start`: the demo chat on the embedded in-memory bus (or Redis when
 * REDIS_URL is set), on PORT (default 3000) and HOST (default 127.0.0.1).
 * SIGTERM / SIGINT close it gracefully: held requests are answered, streams
 * end, the process exits. A port in use is one line on stderr and exit code 1.
 */
import { createMemoryBus, createRedisBus } from '../../index.js';
import { createChatApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL;
const bus = redisUrl ? createRedisBus({ url: redisUrl }) : createMemoryBus();
// Any origin may read (and post to) the demo rooms, without credentials: the demo
// page works opened from file:// or another port (see public/index.html).
const { app, push } = createChatApp({ bus, cors: { origins: ['*'] } });
const server = app.listen(port, host, () => {
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  const shown = host === '127.0.0.1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const kind = redisUrl ? `Redis bus at ${redisUrl}` : 'in-memory bus';
  console.log(`koa-comet demo listening on http://${shown}:${actual}/ (${kind})`);
});
server.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE' && error.code !== 'EACCES') throw error;
  const why = error.code === 'EADDRINUSE' ? 'is in use' : 'needs privileges';
  console.error(`koa-comet demo: ${host}:${port} ${why}; set PORT (and HOST) to another one`);
  process.exit(1);
});
push.attach(server, app);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing`);
  await push.close();
  await bus.close();
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
