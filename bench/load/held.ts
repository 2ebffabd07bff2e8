/**
 * Load generator for the "held" scenario: warms the server up, then parks
 * N long-polls (one connection each) at the head of a room and keeps them
 * held while the orchestrator measures the server's memory; finally one
 * publish releases them all and every response is checked.
 */
import { collect, getRequest, type HttpConnection, openMany, publish } from '../lib/http-client.js';
import { sleep, until } from '../lib/wait.js';
import { expect, fail, tell, workerConfig } from '../lib/worker.js';

interface HeldConfig {
  readonly port: number;
  readonly n: number;
  readonly warmup: number;
  readonly room: string;
}

interface Tally {
  answered: number;
  good: number;
}

const cfg = workerConfig<HeldConfig>();

/** Parks one long-poll per connection at `cursor`; counts good answers carrying `seq`. */
function parkAll(conns: HttpConnection[], cursor: string, seq: number): Tally {
  const result: Tally = { answered: 0, good: 0 };
  // 55 s: the longest hold a route allows by default (maxTimeout).
  const path = `/rooms/${cfg.room}/messages?cursor=${encodeURIComponent(cursor)}&timeout=55`;
  for (const conn of conns) {
    conn.send(
      getRequest(path),
      collect((status, body) => {
        result.answered++;
        if (status === 200 && body.includes(`"seq":${seq}`)) result.good++;
      }),
    );
  }
  return result;
}

async function round(conns: HttpConnection[], pub: HttpConnection, seq: number): Promise<number> {
  const head = await publish(pub, cfg.room, { seq: seq - 1 });
  const r = parkAll(conns, head, seq);
  await sleep(200); // let the polls reach the server and park
  await publish(pub, cfg.room, { seq });
  await until(() => r.answered === conns.length, 30_000);
  return r.good;
}

async function main(): Promise<void> {
  const pub = (await openMany(cfg.port, 1))[0]!;
  const warm = await openMany(cfg.port, cfg.warmup);
  for (let i = 0; i < 5; i++) await round(warm, pub, 2 * i + 1);
  for (const c of warm) c.close();
  tell({ type: 'warmed' });

  await expect('hold');
  const head = await publish(pub, cfg.room, { seq: 100 });
  const conns: HttpConnection[] = [];
  const results: Tally[] = [];
  const t0 = Date.now();
  const hold = async (upTo: number) => {
    for (let i = conns.length; i < upTo; i += 500) {
      const batch = await openMany(cfg.port, Math.min(500, upTo - i));
      results.push(parkAll(batch, head, 101));
      conns.push(...batch);
    }
  };
  // Two steps, so the orchestrator can also take the slope between N/2 and N.
  await hold(Math.floor(cfg.n / 2));
  tell({ type: 'holding-half', sent: conns.length });
  await expect('hold-rest');
  await hold(cfg.n);
  tell({ type: 'holding', sent: conns.length, openMs: Date.now() - t0 });

  await expect('release');
  const early = results.reduce((s, r) => s + r.answered, 0);
  await publish(pub, cfg.room, { seq: 101 });
  const answered = () => results.reduce((s, r) => s + r.answered, 0);
  await until(() => answered() === conns.length, 30_000, 20);
  const good = results.reduce((s, r) => s + r.good, 0);
  tell({ type: 'released', held: conns.length, answeredEarly: early, received: good });
  for (const c of conns) c.close();
  pub.close();
}

main().catch(fail);
