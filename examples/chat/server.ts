/**
 * `npm start`: the demo chat on the embedded in-memory bus (or Redis when
 * REDIS_URL is set), on PORT (default 3000) and HOST (default 127.0.0.1).
 * With `HTTPS=1` it serves TLS with HTTP/2 (and HTTP/1.1 for WebSocket) on
 * the same PORT, with a self-signed certificate made at start. Prometheus
 * metrics at /metrics when prom-client is installed. SIGTERM / SIGINT close
 * it gracefully: held requests are answered, streams end, the process exits.
 * A port in use is one line on stderr and exit code 1.
 */
import { createServer, Server } from 'node:http';
import { attachFlashPolicy, createMemoryBus, createRedisBus } from '../../index.js';
import { createChatApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL;
// HISTORY_LIMIT: messages the in-memory bus keeps per room (default 1,000).
const historyLimit = process.env.HISTORY_LIMIT ? Number(process.env.HISTORY_LIMIT) : undefined;
const bus = redisUrl
  ? createRedisBus({ url: redisUrl })
  : createMemoryBus(historyLimit === undefined ? {} : { historyLimit });
// Prometheus metrics at /metrics when prom-client is installed (an optional peer).
const metrics = await import('prom-client').then(
  (client) => new client.Registry(),
  () => undefined,
);
// Any origin may read (and post to) the demo rooms, without credentials: the demo
// page works opened from file:// or another port (see public/index.html).
const { app, push } = createChatApp({
  bus,
  cors: { origins: ['*'] },
  ...(metrics ? { metrics } : {}),
});
const https = process.env.HTTPS === '1';
// Only HTTPS=1 loads the certificate maker (selfsigned and its ASN.1 stack):
// a plain start does not carry it in memory.
const server = https ? await startTls() : createServer(app.callback());
server.listen(port, host, () => {
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  const shown = host === '127.0.0.1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const kind = redisUrl ? `Redis bus at ${redisUrl}` : 'in-memory bus';
  const scheme = https ? 'https' : 'http';
  const how = https ? ', HTTP/2 with a self-signed certificate' : '';
  console.log(`koa-comet demo listening on ${scheme}://${shown}:${actual}/ (${kind}${how})`);
});
server.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE' && error.code !== 'EACCES') throw error;
  const why = error.code === 'EADDRINUSE' ? 'is in use' : 'needs privileges';
  console.error(`koa-comet demo: ${host}:${port} ${why}; set PORT (and HOST) to another one`);
  process.exit(1);
});
push.attach(server, app);
// Flash clients (FlashSocket) ask for a socket policy as the first bytes on
// this port: allow the page's own host (FLASH_DOMAINS, comma-separated).
// A TLS port cannot see that plaintext request; see docs/guides/scaling.md.
if (server instanceof Server) {
  const domains = (process.env.FLASH_DOMAINS ?? 'localhost').split(',').filter(Boolean);
  attachFlashPolicy(server, { domains });
}

async function startTls() {
  const { createHttpsServer, selfSignedCertificate } = await import('./https.js');
  return createHttpsServer(app, await selfSignedCertificate());
}

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
