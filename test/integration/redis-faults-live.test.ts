/**
 * The Redis bus under the faults production Redis has: a busy script (BUSY),
 * a stalled server (DEBUG SLEEP), `maxmemory` with `noeviction`, idle keys.
 * Each test starts its OWN `redis-server` with the flags it needs and stops
 * it by pid; the shared Redis is never touched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCometError } from '../../lib/base/errors.js';
import type { Message } from '../../lib/bus/bus.js';
import { createRedisBus, type RedisBus, type RedisBusOptions } from '../../lib/bus/redis.js';
import {
  adminClient,
  faultBus,
  hasRedisServer,
  type RedisServer,
  startRedisServer,
  waitFor,
} from '../helpers/redis-server.js';
import { whenMet } from '../helpers/requirement.js';

const servers: RedisServer[] = [];
const buses: RedisBus[] = [];

afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function server(
  flags: readonly string[] = [],
  options: { loading?: boolean } = {},
): Promise<RedisServer> {
  const started = await startRedisServer(flags, options);
  servers.push(started);
  return started;
}

function bus(on: RedisServer, options: RedisBusOptions = {}): Promise<RedisBus> {
  return faultBus(on.url, buses, options);
}

/** Runs an endless Lua script until `end()` (SCRIPT KILL): every other command gets BUSY. */
async function busyScript(on: RedisServer) {
  const blocker = await adminClient(on);
  const probe = await adminClient(on);
  const running = blocker.sendCommand(['EVAL', 'while true do end', '0']).catch(() => undefined);
  await waitFor(() =>
    probe.ping().then(
      () => false,
      (error: unknown) => String(error).includes('BUSY'),
    ),
  );
  return {
    async end() {
      await probe.sendCommand(['SCRIPT', 'KILL']);
      await running;
      await Promise.all([blocker.close(), probe.close()]);
    },
  };
}

async function rejection(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (error: unknown) => error,
  );
}

function codeOf(error: unknown): string | undefined {
  return isCometError(error) ? error.code : undefined;
}

whenMet(
  {
    met: hasRedisServer,
    tests: 'the Redis bus fault tests (live path, deadlines, memory)',
    needs: 'a redis-server binary',
    hint: 'apt-get install redis-server',
  },
  () => {
    describe('the Redis bus under production faults', () => {
      it('BUSY when a node first follows a room: it retries and then delivers live', async () => {
        const redis = await server(['--busy-reply-threshold', '50']);
        const follower = await bus(redis);
        const publisher = await bus(redis);
        const stall = await busyScript(redis);
        const got: Message[] = [];
        follower.subscribe('first', (m) => got.push(m));
        // Both the head read and the SUBSCRIBE were refused: the channel says so.
        await waitFor(() => follower.state().failing === 1);
        expect(follower.state().status).toBe('degraded');
        await stall.end();
        await waitFor(() => follower.redisSubscriptionCount() === 1 && !follower.state().failing);
        expect(follower.state().status).toBe('ready');
        const sent = await publisher.publish('first', 'live');
        await waitFor(() => got.length === 1);
        expect(got[0]!.id).toBe(sent.id);
      });

      it('LOADING when a node first follows a room (a restart loading its dataset): it retries and then delivers live', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'comet-loading-'));
        try {
          const seed = await server(['--dir', dir, '--enable-debug-command', 'local']);
          const admin = await adminClient(seed);
          await admin.sendCommand(['DEBUG', 'POPULATE', '5000']);
          await admin.sendCommand(['SAVE']);
          await admin.close();
          await seed.stop();
          // Loads the snapshot slowly, answering LOADING meanwhile.
          const slow = [
            '--key-load-delay',
            '300',
            '--loading-process-events-interval-bytes',
            '1024',
          ];
          const redis = await server(['--dir', dir, ...slow], { loading: true });
          const follower = createRedisBus({
            url: redis.url,
            keyPrefix: 'faults:',
            readyTimeout: 200,
            reconnect: { baseDelay: 20, maxDelay: 200 },
          });
          buses.push(follower);
          await follower.ready(); // CLIENT SETNAME is allowed while loading
          const got: Message[] = [];
          follower.subscribe('loading', (m) => got.push(m));
          await waitFor(() => follower.state().failing === 1);
          await waitFor(() => follower.state().status === 'ready', 20_000);
          const publisher = await bus(redis);
          const sent = await publisher.publish('loading', 'live');
          await waitFor(() => got.length === 1);
          expect(got[0]!.id).toBe(sent.id);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it('an UNSUBSCRIBE refused with BUSY is retried: no Redis subscription leaks', async () => {
        const redis = await server(['--busy-reply-threshold', '50']);
        const follower = await bus(redis);
        const control = await adminClient(redis);
        const numsub = async () => {
          const reply = (await control.sendCommand(['PUBSUB', 'NUMSUB', 'faults:{u}:notify'])) as [
            string,
            number,
          ];
          return Number(reply[1]);
        };
        try {
          const off = follower.subscribe('u', () => {});
          await waitFor(() => follower.redisSubscriptionCount() === 1);
          expect(await numsub()).toBe(1);
          const stall = await busyScript(redis);
          off();
          await waitFor(() => follower.state().leftovers === 1 && follower.state().retries > 0);
          await stall.end();
          await waitFor(async () => (await numsub()) === 0);
          await waitFor(() => follower.state().leftovers === 0);
          expect(follower.redisSubscriptionCount()).toBe(0);
        } finally {
          await control.close();
        }
      });

      it('a stalled Redis: publishes answer COMET_ERR_BUS_TIMEOUT during the stall, pending calls are bounded, an idempotent retry stores once', async () => {
        const redis = await server(['--enable-debug-command', 'local']);
        const publisher = await bus(redis, { commandTimeout: 300, maxPending: 4 });
        await publisher.publish('stall', 'warm-up'); // scripts loaded, channel exists
        const control = await adminClient(redis);
        const probe = await adminClient(redis);
        try {
          let stalled = true;
          const sleeping = control.sendCommand(['DEBUG', 'SLEEP', '3']).then(() => {
            stalled = false;
          });
          await new Promise((resolve) => setTimeout(resolve, 200)); // let the sleep start
          const first = await rejection(
            publisher.publish('stall', { n: 1 }, { idempotencyKey: 'order-1' }),
          );
          expect(codeOf(first)).toBe('COMET_ERR_BUS_TIMEOUT');
          expect((first as { status: number }).status).toBe(503);
          expect(stalled).toBe(true); // answered during the stall, not after it

          const burst = await Promise.all(
            Array.from({ length: 8 }, (_, n) => rejection(publisher.publish('burst', { n }))),
          );
          // The timed-out publish still holds its slot (node-redis holds the
          // command until Redis answers): 3 more go out and time out, 5 are
          // refused at once.
          const codes = burst.map(codeOf);
          expect(codes.filter((c) => c === 'COMET_ERR_BUS_OVERLOADED').length).toBe(5);
          expect(codes.filter((c) => c === 'COMET_ERR_BUS_TIMEOUT').length).toBe(3);
          expect(stalled).toBe(true);
          expect(publisher.state().pending).toBe(4);

          await sleeping;
          await waitFor(() => publisher.state().pending === 0);
          // The timed-out publish was stored after all; the retry finds it.
          const retry = await publisher.publish('stall', { n: 1 }, { idempotencyKey: 'order-1' });
          const entries = (await probe.sendCommand([
            'XRANGE',
            'faults:{stall}:stream',
            '-',
            '+',
          ])) as [string, string[]][];
          const stored = entries.filter(([, fields]) => fields.includes('{"n":1}'));
          expect(stored).toHaveLength(1);
          expect(retry.id.endsWith(stored[0]![0])).toBe(true);
        } finally {
          await Promise.all([control.close(), probe.close()]);
        }
      });

      it('a Redis that stops answering (SIGSTOP) is noticed by the ping and socket timeout: the bus reports down, then recovers', async () => {
        const redis = await server();
        const b = await bus(redis, {
          pingInterval: 100,
          socketTimeout: 500,
          connectTimeout: 500,
          commandTimeout: 300,
        });
        const got: Message[] = [];
        b.subscribe('paused', (m) => got.push(m));
        await waitFor(() => b.redisSubscriptionCount() === 1);
        expect(b.state().status).toBe('ready');
        redis.child.kill('SIGSTOP');
        try {
          // No command in flight: only the ping can find out.
          await waitFor(() => b.state().status === 'down', 10_000);
          expect(codeOf(await rejection(b.publish('paused', 'x')))).toMatch(
            /COMET_ERR_BUS_(TIMEOUT|UNAVAILABLE)/,
          );
        } finally {
          redis.child.kill('SIGCONT');
        }
        await waitFor(() => b.state().status === 'ready', 10_000);
        const sent = await b.publish('paused', 'back');
        await waitFor(() => got.some((m) => m.id === sent.id));
      });

      it('idempotency keys: same key, same message; another key, another message; a bad key is a 400', async () => {
        const redis = await server();
        const b = await bus(redis);
        const a1 = await b.publish('idem', 'x', { idempotencyKey: 'k1' });
        const a2 = await b.publish('idem', 'x', { idempotencyKey: 'k1' });
        const c = await b.publish('idem', 'x', { idempotencyKey: 'k2' });
        expect(a2.id).toBe(a1.id);
        expect(a2.time).toBe(a1.time);
        expect(c.id).not.toBe(a1.id);
        expect((await b.read('idem', 'earliest')).messages.map((m) => m.id)).toEqual([a1.id, c.id]);
        for (const bad of ['', 'a b', 'x'.repeat(129), 'é']) {
          const error = await rejection(b.publish('idem', 'x', { idempotencyKey: bad }));
          expect(codeOf(error)).toBe('COMET_ERR_IDEMPOTENCY_KEY_INVALID');
          expect((error as { status: number }).status).toBe(400);
        }
      });

      it('noeviction over maxmemory refuses publishes to NEW rooms too; reads still answer', async () => {
        const redis = await server(['--maxmemory-policy', 'noeviction']);
        const b = await bus(redis);
        const old = await b.publish('old', 'before');
        const control = await adminClient(redis);
        try {
          const keysBefore = await control.dbSize();
          await control.configSet('maxmemory', '1'); // every write is now over the limit
          const outcomes = await Promise.all(
            Array.from({ length: 20 }, (_, n) =>
              rejection(b.publish(`new-${n}`, 'x'.repeat(1000))),
            ),
          );
          for (const error of outcomes) expect(codeOf(error)).toBe('COMET_ERR_BUS_UNAVAILABLE');
          expect(codeOf(await rejection(b.publish('old', 'more')))).toBe(
            'COMET_ERR_BUS_UNAVAILABLE',
          );
          expect(await control.dbSize()).toBe(keysBefore);
          expect((await b.read('old', 'earliest')).messages.map((m) => m.id)).toEqual([old.id]);
          await control.configSet('maxmemory', '0');
          await b.publish('new-0', 'room for it now');
        } finally {
          await control.close();
        }
      });

      it('reads of rooms nobody published to create no keys, and still resume correctly', async () => {
        const redis = await server();
        const b = await bus(redis);
        const control = await adminClient(redis);
        try {
          const heads: string[] = [];
          for (let n = 0; n < 200; n++) {
            heads.push((await b.read(`never-${n}`)).cursor);
            await b.read(`never-${n}`, 'earliest');
          }
          await b.read('never-0', heads[0]);
          expect(await control.dbSize()).toBe(0);
          // The head read before the first publish is before every message of it.
          const first = await b.publish('never-0', 'first');
          expect(await b.read('never-0', heads[0])).toMatchObject({
            messages: [{ id: first.id }],
            gap: false,
          });
          expect(b.compareIds(heads[0]!, first.id)).toBeLessThan(0);
        } finally {
          await control.close();
        }
      });

      it('channelTtl: an idle room\u2019s keys expire, and an old cursor then reads as a gap', async () => {
        const redis = await server();
        const control = await adminClient(redis);
        try {
          const lasting = await bus(redis);
          await lasting.publish('kept', 1);
          const week = 7 * 24 * 3600 * 1000;
          const pttl = Number(await control.sendCommand(['PTTL', 'faults:{kept}:stream']));
          expect(pttl).toBeGreaterThan(week - 60_000);
          expect(pttl).toBeLessThanOrEqual(week);

          const b = await bus(redis, { channelTtl: 300 });
          const m = await b.publish('idle', 1);
          for (const key of ['faults:{idle}:stream', 'faults:{idle}:meta']) {
            const left = Number(await control.sendCommand(['PTTL', key]));
            expect(left).toBeGreaterThan(0);
            expect(left).toBeLessThanOrEqual(300);
          }
          await waitFor(
            async () =>
              (await control.exists(['faults:{idle}:stream', 'faults:{idle}:meta'])) === 0,
            5000,
          );
          expect(await b.read('idle', m.id)).toMatchObject({ messages: [], gap: true });
        } finally {
          await control.close();
        }
      });
    });
  },
);
