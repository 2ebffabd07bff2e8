/**
 * A rate-limited publisher in its own process, so its requests never queue
 * behind the pollers' parsing in the same event loop: one keep-alive
 * connection, pipelined POSTs (publish order = seq order), catching up when
 * behind. Command: `phase {from, ms}` publishes `{seq}` from `from` for `ms`.
 */
import { type HttpConnection, openMany, publish } from '../lib/http-client.js';
import type { IpcMessage } from '../lib/proc.js';
import { sleep } from '../lib/wait.js';
import { fail, tell, workerConfig } from '../lib/worker.js';

interface PublisherConfig {
  readonly port: number;
  readonly room: string;
  readonly rate: number;
}

const cfg = workerConfig<PublisherConfig>();
const WINDOW = 16;

/**
 * Publishes seq = from, from+1, … at cfg.rate for `ms`; at most WINDOW
 * requests in flight, pipelined on one connection so the server sees them
 * in seq order while a busy machine's scheduling delays do not throttle
 * the rate. Resolves with the first seq not published and the time taken.
 */
async function phase(pub: HttpConnection, from: number, ms: number) {
  const t0 = performance.now();
  const count = Math.floor((cfg.rate * ms) / 1000);
  let failed: unknown;
  let seq = from;
  for (; seq < from + count && failed === undefined; seq++) {
    const wait = t0 + ((seq - from) * 1000) / cfg.rate - performance.now();
    if (wait >= 1) await sleep(wait);
    while (pub.inFlight >= WINDOW) await sleep(1);
    if (performance.now() - t0 >= ms) break; // a saturated server gets fewer, not a longer run
    publish(pub, cfg.room, { seq }).catch((e: unknown) => {
      failed = e;
    });
  }
  while (pub.inFlight > 0) await sleep(1);
  if (failed !== undefined) throw failed;
  return { to: seq, ms: performance.now() - t0 };
}

async function main(): Promise<void> {
  const pub = (await openMany(cfg.port, 1))[0]!;
  const seed = await publish(pub, cfg.room, { seed: true });
  tell({ type: 'seeded', cursor: seed });
  process.on('message', (m: IpcMessage) => {
    if (m.type !== 'phase') return;
    phase(pub, m['from'] as number, m['ms'] as number).then(
      (r) => tell({ type: 'published', ...r }),
      fail,
    );
  });
}

main().catch(fail);
