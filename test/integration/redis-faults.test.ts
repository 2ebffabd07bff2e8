/**
 * The Redis bus under faults. Every test starts its OWN throwaway
 * `redis-server` on a spare port and stops it by pid — the shared Redis on
 * 6379 is never touched. Outside CI a missing `redis-server` binary skips
 * with a loud warning; under `CI=true` it fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCometError } from '../../lib/base/errors.js';
import type { Message } from '../../lib/bus/bus.js';
import type { RedisBus, RedisBusOptions } from '../../lib/bus/redis.js';
import { redisAnswers } from '../helpers/redis.js';
import {
  adminClient,
  faultBus,
  hasRedisServer,
  sparePort,
  waitFor,
} from '../helpers/redis-server.js';
import { whenMet } from '../helpers/requirement.js';

/** A throwaway Redis: a child process on a port of its own, with an optional AOF dir. */
interface Server {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  child: ChildProcess | undefined;
}

const servers: Server[] = [];
const buses: RedisBus[] = [];

/** Starts (or restarts) `server`'s process; `durable` turns on AOF with fsync always. */
async function start(server: Server, durable: boolean): Promise<void> {
  const persistence = durable
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', server.dir]
    : ['--appendonly', 'no', '--dir', server.dir];
  const args = ['--port', String(server.port), '--bind', '127.0.0.1', '--save', ''];
  const child = spawn('redis-server', [...args, ...persistence], { stdio: 'ignore' });
  server.child = child;
  await waitFor(() => redisAnswers(server.url, 500), 5000);
}

async function newServer(durable = false): Promise<Server> {
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), 'comet-redis-'));
  const server: Server = { port, url: `redis://127.0.0.1:${port}`, dir, child: undefined };
  servers.push(server);
  await start(server, durable);
  return server;
}

/** SIGKILLs the server's process (by its pid) and waits until it is gone. */
async function kill(server: Server): Promise<void> {
  const child = server.child;
  server.child = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

function bus(server: Server, options: RedisBusOptions = {}): Promise<RedisBus> {
  return faultBus(server.url, buses, options);
}

const admin = adminClient;

/** Publishes `{ n }` every few ms until `stop()`; keeps what resolved and what rejected. */
function steadyLoad(publisher: RedisBus, channel: string) {
  const resolved: Message[] = [];
  const rejected: unknown[] = [];
  let running = true;
  const done = (async () => {
    for (let n = 0; running; n++) {
      await publisher.publish(channel, { n }).then(
        (m) => resolved.push(m),
        (e: unknown) => rejected.push(e),
      );
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    resolved,
    rejected,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Asserts `got` holds every resolved message exactly once, in publish order. */
function expectExactlyOnceInOrder(got: readonly Message[], resolved: readonly Message[]): void {
  const ids = got.map((m) => m.id);
  expect(new Set(ids).size).toBe(ids.length);
  const ns = got.map((m) => (m.data as { n: number }).n);
  expect(ns).toEqual([...ns].sort((a, b) => a - b));
  const wanted = new Set(resolved.map((m) => m.id));
  expect(ids.filter((id) => wanted.has(id))).toEqual(resolved.map((m) => m.id));
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
  for (const server of servers.splice(0)) {
    await kill(server);
    rmSync(server.dir, { recursive: true, force: true });
  }
});

const redisServer = {
  met: hasRedisServer,
  tests: 'the Redis fault tests',
  needs: 'redis-server binary on PATH',
  hint: 'Install one (.ci/run installs it)',
};

whenMet(redisServer, () => {
  describe('redis bus under faults (throwaway redis-server per test)', () => {
    it('Redis killed and restarted under load: every resolved publish arrives once, in order', async () => {
      const server = await newServer(true);
      // The follower reconnects ~400 ms after the publisher does, so it misses
      // wake-ups for messages published meanwhile and must catch up from the stream.
      const publisher = await bus(server, { reconnect: { baseDelay: 20, random: () => 0 } });
      const late = { baseDelay: 400, maxDelay: 400, random: () => 0.99 };
      const follower = await bus(server, { reconnect: late });
      const got: Message[] = [];
      follower.subscribe('load', (m) => got.push(m));
      await waitFor(() => follower.redisSubscriptionCount() === 1);

      const load = steadyLoad(publisher, 'load');
      await waitFor(() => load.resolved.length >= 30);
      await kill(server);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await start(server, true);
      const before = load.resolved.length;
      await waitFor(() => load.resolved.length >= before + 30);
      expect(follower.redisSubscriptionCount()).toBe(1);
      await load.stop();

      const last = load.resolved.at(-1)!;
      await waitFor(() => got.some((m) => m.id === last.id));
      expectExactlyOnceInOrder(got, load.resolved);
      expect(load.rejected.length).toBeGreaterThan(0);
      for (const error of load.rejected) {
        expect(isCometError(error) && error.code).toBe('COMET_ERR_BUS_UNAVAILABLE');
      }
    });

    it('killing the Pub/Sub connection (CLIENT KILL TYPE pubsub) loses nothing', async () => {
      const server = await newServer();
      const publisher = await bus(server);
      const follower = await bus(server);
      const got: Message[] = [];
      follower.subscribe('kill', (m) => got.push(m));
      await waitFor(() => follower.redisSubscriptionCount() === 1);
      const control = await admin(server);
      try {
        const load = steadyLoad(publisher, 'kill');
        for (let round = 0; round < 3; round++) {
          await waitFor(() => load.resolved.length >= (round + 1) * 20);
          expect(await control.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])).toBeGreaterThan(
            0,
          );
        }
        await waitFor(() => load.resolved.length >= 80);
        await load.stop();
        const last = load.resolved.at(-1)!;
        await waitFor(() => got.some((m) => m.id === last.id));
        expect(load.rejected).toEqual([]);
        expectExactlyOnceInOrder(got, load.resolved);
        expect(got.map((m) => m.id)).toEqual(load.resolved.map((m) => m.id));
      } finally {
        await control.close();
      }
    });

    it("killing the follower's command connection loses nothing", async () => {
      const server = await newServer();
      const publisher = await bus(server);
      const follower = await bus(server, { name: 'follower' });
      const got: Message[] = [];
      follower.subscribe('cmd', (m) => got.push(m));
      await waitFor(() => follower.redisSubscriptionCount() === 1);
      const control = await admin(server);
      try {
        const load = steadyLoad(publisher, 'cmd');
        await waitFor(() => load.resolved.length >= 20);
        const list = String(await control.sendCommand(['CLIENT', 'LIST']));
        const ids = [...list.matchAll(/^id=(\d+) .*name=follower(?:\s|$)/gm)].map((m) => m[1]!);
        expect(ids).toHaveLength(1);
        await control.sendCommand(['CLIENT', 'KILL', 'ID', ids[0]!]);
        await waitFor(() => load.resolved.length >= 60);
        await load.stop();
        const last = load.resolved.at(-1)!;
        await waitFor(() => got.some((m) => m.id === last.id));
        expect(got.map((m) => m.id)).toEqual(load.resolved.map((m) => m.id));
      } finally {
        await control.close();
      }
    });

    it('FLUSHALL: old cursors get gap, live followers carry on in the new epoch', async () => {
      const server = await newServer();
      const publisher = await bus(server);
      const follower = await bus(server);
      const got: Message[] = [];
      follower.subscribe('flush', (m) => got.push(m));
      await waitFor(() => follower.redisSubscriptionCount() === 1);
      const old = [await publisher.publish('flush', 1), await publisher.publish('flush', 2)];
      const emptyHead = (await publisher.read('quiet')).cursor;
      await waitFor(() => got.length === 2);

      const control = await admin(server);
      await control.flushAll();
      await control.close();
      const fresh = [await publisher.publish('flush', 3), await publisher.publish('flush', 4)];
      await publisher.publish('quiet', 'q');

      for (const cursor of [old[0]!.id, old[1]!.id]) {
        expect(await follower.read('flush', cursor)).toEqual({
          messages: [],
          cursor: fresh[1]!.id,
          gap: true,
        });
      }
      // Read before anything was published there (no keys, "unborn"): every
      // message published since, nothing was before it to lose.
      expect((await follower.read('quiet', emptyHead)).messages.map((m) => m.data)).toEqual(['q']);
      await waitFor(() => got.length === 4);
      expect(got.map((m) => m.id)).toEqual([...old, ...fresh].map((m) => m.id));
    });

    it('failover to a replica that missed writes: every cursor before the loss gets gap, followers carry on', async () => {
      const server = await newServer();
      const publisher = await bus(server);
      const follower = await bus(server);
      const got: Message[] = [];
      follower.subscribe('lag', (m) => got.push(m));
      await waitFor(() => follower.redisSubscriptionCount() === 1);
      const sent = [];
      for (let n = 1; n <= 5; n++) sent.push(await publisher.publish('lag', n));
      await waitFor(() => got.length === 5);

      // What a replica that never received messages 4 and 5 holds once promoted.
      const streamId = (m: Message) => m.id.slice(m.id.indexOf('-') + 1);
      const control = await admin(server);
      await control.sendCommand([
        'XDEL',
        'faults:{lag}:stream',
        streamId(sent[3]!),
        streamId(sent[4]!),
      ]);
      await control.sendCommand(['HSET', 'faults:{lag}:meta', 'l', streamId(sent[2]!)]);
      await control.close();

      const head = sent[2]!.id;
      for (const lost of [sent[3]!, sent[4]!]) {
        // A gap; its head is the replica's (3), or the unborn head when this
        // process's floor already knows the history went back.
        expect(await follower.read('lag', lost.id)).toMatchObject({ messages: [], gap: true });
      }
      // The publisher had seen 5: its next publish finds the history went
      // back and starts a new epoch, so a reader at the replica's head (3),
      // who never got 4 and 5 either, re-syncs instead of skipping them.
      const sixth = await publisher.publish('lag', 6);
      expect(publisher.compareIds(sixth.id, head)).toBeUndefined();
      for (const before of [sent[0]!, sent[2]!, sent[3]!, sent[4]!]) {
        expect(await follower.read('lag', before.id)).toEqual({
          messages: [],
          cursor: sixth.id,
          gap: true,
        });
      }
      await waitFor(() => got.length === 6);
      expect(got.map((m) => m.id)).toEqual([...sent, sixth].map((m) => m.id));
    });

    it('Redis restored from an older snapshot: a cursor before the loss reads as a gap, not a silent skip', async () => {
      const server = await newServer(false);
      const b = await bus(server);
      const m1 = await b.publish('snap', 1);
      await b.publish('snap', 2);
      const a = await admin(server);
      await a.sendCommand(['SAVE']); // the snapshot holds 1 and 2
      await a.quit();
      const lost = await b.publish('snap', 3); // acknowledged, then lost with the process
      await kill(server);
      await start(server, false); // comes back from the snapshot
      await waitFor(() =>
        b.read('snap').then(
          () => true,
          () => false,
        ),
      );
      // A reader after 1 would get [2] and go on, never knowing 3 existed.
      const after = await b.read('snap', m1.id);
      expect(after).toMatchObject({ messages: [], gap: true });
      // The one that had 3 gets a gap too, and publishing goes on in a new epoch.
      expect((await b.read('snap', lost.id)).gap).toBe(true);
      const next = await b.publish('snap', 4);
      expect(b.compareIds(next.id, m1.id)).toBeUndefined();
      expect((await b.read('snap', after.cursor)).messages.map((m) => m.data)).toEqual([4]);
    });

    it('publishes during an outage reject with COMET_ERR_BUS_UNAVAILABLE, promptly', async () => {
      const server = await newServer();
      const publisher = await bus(server, { readyTimeout: 300 });
      await publisher.publish('outage', 'before');
      await kill(server);
      const started = Date.now();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, n) => publisher.publish('outage', n)),
      );
      // Bounded by readyTimeout (300 ms); the generous margin only guards a loaded machine.
      expect(Date.now() - started).toBeLessThan(5000);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason as unknown;
        expect(isCometError(reason) && reason.code).toBe('COMET_ERR_BUS_UNAVAILABLE');
        expect((reason as { status: number }).status).toBe(503);
      }
      await start(server, false);
      await waitFor(() =>
        publisher.publish('outage', 'after').then(
          () => true,
          () => false,
        ),
      );
      await publisher.close();
      await publisher.close();
      const closed = await publisher.publish('outage', 'closed').catch((e: unknown) => e);
      expect(isCometError(closed) && closed.code).toBe('COMET_ERR_BUS_CLOSED');
    });

    it('one Redis subscription per channel per process, whatever the local listeners', async () => {
      const server = await newServer();
      const a = await bus(server);
      const b = await bus(server);
      const control = await admin(server);
      const numsub = async (channel: string) => {
        const reply = (await control.sendCommand(['PUBSUB', 'NUMSUB', channel])) as unknown[];
        return Number(reply[1]);
      };
      try {
        const counts = new Array<number>(100).fill(0);
        const offs = counts.map((_, i) => a.subscribe('fan', () => counts[i]!++));
        await waitFor(() => a.redisSubscriptionCount() === 1);
        expect(a.subscriberCount('fan')).toBe(100);
        expect(await numsub('faults:{fan}:notify')).toBe(1);

        const offB = b.subscribe('fan', () => {});
        await waitFor(() => b.redisSubscriptionCount() === 1);
        expect(await numsub('faults:{fan}:notify')).toBe(2);

        await b.publish('fan', 'to all');
        await waitFor(() => counts.every((c) => c === 1));
        for (const off of offs.slice(1)) off();
        expect(await numsub('faults:{fan}:notify')).toBe(2);
        offs[0]!();
        offB();
        expect(a.subscriberCount()).toBe(0);
        await waitFor(async () => (await numsub('faults:{fan}:notify')) === 0);
        await waitFor(() => a.redisSubscriptionCount() === 0);
      } finally {
        await control.close();
      }
    });

    it('Redis commands per publish do not grow with the number of subscribers', async () => {
      const server = await newServer();
      const [a, b] = [await bus(server), await bus(server)];
      let delivered = 0;
      for (let i = 0; i < 50; i++) {
        a.subscribe('cost', () => delivered++);
        b.subscribe('cost', () => delivered++);
      }
      await waitFor(() => a.redisSubscriptionCount() === 1 && b.redisSubscriptionCount() === 1);
      await a.publish('cost', 'warm-up');
      await waitFor(() => delivered === 100);
      const control = await admin(server);
      try {
        await control.sendCommand(['CONFIG', 'RESETSTAT']);
        for (let n = 0; n < 40; n++) await a.publish('cost', n);
        await waitFor(() => delivered === 100 + 40 * 100);
        const stats = String(await control.sendCommand(['INFO', 'commandstats']));
        const calls = new Map(
          [...stats.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]),
        );
        // One EVALSHA per publish (HMGET, EXISTS, XADD, HSET, PEXPIRE x 2 for
        // channelTtl, PUBLISH run inside it); followers in step with the
        // wake-ups read nothing.
        expect(calls.get('evalsha')).toBe(40);
        expect(calls.get('xrange') ?? 0).toBe(0);
        calls.delete('info');
        calls.delete('config|resetstat');
        const total = [...calls.values()].reduce((sum, n) => sum + n, 0);
        expect(total / 40).toBeLessThanOrEqual(8);
      } finally {
        await control.close();
      }
    });
  });
});
