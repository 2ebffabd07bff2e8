/**
 * Load generator for "fanout": N SSE subscribers on one room; messages of
 * ~100 bytes are published in a closed loop (the next only once every
 * subscriber has the previous one, or after a timeout). The loop, tallies
 * and verdict are in `fanout-run.ts` (shared with the HTTP/2 generator).
 * With `subscriberPorts` (the redis scenario), subscribers are split evenly
 * across those servers while the publisher stays on `port`.
 */
import type { Exchange, HttpConnection } from '../lib/http-client.js';
import { getRequest, openMany, publish } from '../lib/http-client.js';
import { until } from '../lib/wait.js';
import { fail, tell, workerConfig } from '../lib/worker.js';
import { type FanoutShape, FanoutTally, runFanout, SseCounter } from './fanout-run.js';

interface FanoutConfig extends FanoutShape {
  readonly port: number;
  readonly room: string;
  /** Servers the subscribers are split across (default: `port` alone). */
  readonly subscriberPorts?: readonly number[];
}

const cfg = workerConfig<FanoutConfig>();
const SUBSCRIBE_STEP = 500;
const tally = new FanoutTally(cfg);

/** An SSE response on an HTTP/1.1 connection, counted. */
class Subscriber extends SseCounter implements Exchange {
  onHead(status: number, head: string): void {
    this.status = status;
    this.sse = /\r\ncontent-type:\s*text\/event-stream/i.test(head);
  }

  onEnd(): void {}
}

/** Opens `count` connections split evenly across the subscriber ports. */
async function openSplit(count: number): Promise<HttpConnection[]> {
  const ports = cfg.subscriberPorts ?? [cfg.port];
  const conns: HttpConnection[] = [];
  for (const [i, port] of ports.entries()) {
    const share = Math.floor(count / ports.length) + (i < count % ports.length ? 1 : 0);
    conns.push(...(await openMany(port, share, 250)));
  }
  return conns;
}

async function subscribe(count: number) {
  const conns = await openSplit(count);
  const subs: Subscriber[] = [];
  // 500 streams at a time, each step once the previous has its answers, as
  // clients arrive over time: a burst of thousands at once is refused by a
  // bus's bound on calls waiting for it (the Redis bus's maxPending, 1,000:
  // 503 COMET_ERR_BUS_OVERLOADED), which a real EventSource would retry.
  for (let i = 0; i < conns.length; i += SUBSCRIBE_STEP) {
    const step = conns.slice(i, i + SUBSCRIBE_STEP).map((c) => {
      const s = new Subscriber(tally);
      c.send(getRequest(`/rooms/${cfg.room}/live`, 'text/event-stream'), s);
      return s;
    });
    subs.push(...step);
    if (!(await until(() => step.every((s) => s.status !== 0), 120_000, 5))) break;
  }
  const ok = subs.length === conns.length && subs.every((s) => s.status !== 0);
  if (!ok || !subs.every((s) => s.status === 200 && s.sse)) {
    const bad = subs.find((s) => s.status !== 200 || !s.sse);
    tell({ type: 'unsupported', status: bad?.status ?? 0 });
    process.exit(0);
  }
  return {
    subs,
    close: () => {
      for (const c of conns) c.close();
    },
  };
}

async function main(): Promise<void> {
  const [pub] = await openMany(cfg.port, 1);
  if (pub === undefined) throw new Error('no publisher connection');
  await runFanout(cfg, tally, {
    subscribe,
    publish: async (data) => {
      await publish(pub, cfg.room, data);
    },
    close: () => pub.close(),
  });
}

main().catch(fail);
