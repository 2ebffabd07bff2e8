/**
 * Tutorial step 7: a monitoring feed on a `@stream` route (SSE, NDJSON,
 * multipart/mixed, the forever iframe and WebSocket on one path), and a
 * Node reader of its NDJSON form.
 */
import type { AddressInfo } from 'node:net';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { type Bus, comet, createMemoryBus, stream } from '../../index.js';

// #region route
export class Monitoring {
  @stream('/hosts/:host/metrics', {
    heartbeat: 15_000, // a comment / empty line / ping every 15 s keeps proxies from idling out
    maxLifetime: 10 * 60_000, // end cleanly every 10 min; the client resumes by cursor
    maxQueuedBytes: 1 << 20, // a reader 1 MiB behind is cut off (it resumes, nothing is lost)
  })
  metrics(ctx: RouterContext) {
    return `metrics:${ctx.params.host}`;
  }
}
// #endregion route

// #region sampler
/** Publishes this process's memory use every `everyMs`; returns the stop function. */
export function sampleMemory(bus: Bus, host: string, everyMs = 1000): () => void {
  const timer = setInterval(() => {
    const { rss, heapUsed } = process.memoryUsage();
    void bus.publish(`metrics:${host}`, { rss, heapUsed, at: Date.now() });
  }, everyMs);
  return () => clearInterval(timer);
}
// #endregion sampler

// #region ndjson
/** Reads an NDJSON stream: one envelope per line; empty lines are heartbeats. */
export async function followNdjson(
  url: string,
  onLine: (frame: { id?: string; data?: unknown; gap?: boolean; cursor?: string }) => void,
  signal?: AbortSignal,
): Promise<void> {
  const response = await fetch(url, {
    headers: { Accept: 'application/x-ndjson' },
    signal: signal ?? null,
  });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? ''; // the last piece may be half a line
    for (const line of lines) if (line !== '') onLine(JSON.parse(line));
  }
}
// #endregion ndjson

/** Starts the monitoring app; `sampleEveryMs` 0 starts no sampler. */
export async function start(port = 0, sampleEveryMs = 1000) {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({ bus, controllers: [Monitoring] });
  app.use(push);
  const server = app.listen(port, '127.0.0.1');
  push.attach(server, app); // the WebSocket upgrade on /hosts/:host/metrics needs it
  const stop = sampleEveryMs > 0 ? sampleMemory(bus, 'web-1', sampleEveryMs) : () => {};
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bus,
    async close() {
      stop();
      await push.close();
      await bus.close();
    },
  };
}
