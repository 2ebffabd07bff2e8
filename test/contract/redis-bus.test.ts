/**
 * The bus contract against a real Redis (`REDIS_URL`, default the local one).
 *
 * Each run uses its own random key prefix and deletes its keys afterwards, so
 * it can share a Redis with other runs. Outside CI an unreachable Redis skips
 * the suite with a loud warning; under `CI=true` it fails.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, expect } from 'vitest';
import type { Bus } from '../../lib/bus/bus.js';
import { type BusContractSetup, busContract } from '../../lib/bus/bus-contract.js';
import { createRedisBus, type RedisBus, type RedisBusClient } from '../../lib/bus/redis.js';
import { deleteRedisKeys, redisAnswers, redisUrl as url, withRedis } from '../helpers/redis.js';

const prefix = `comet-test:${randomBytes(6).toString('hex')}:`;

withRedis(await redisAnswers(), 'the Redis bus contract', () => {
  const open = async (historyLimit: number): Promise<RedisBus> => {
    // Exact trimming so a small historyLimit bounds history exactly, as the
    // contract's gap tests expect; production keeps the cheaper `~`.
    const bus = createRedisBus({ url, keyPrefix: prefix, maxLen: historyLimit, exactTrim: true });
    await bus.ready();
    return bus;
  };
  const limits = new WeakMap<Bus, number>();
  /** The contract's setup over `open`; a peer or a reopened bus keeps the creator's limit. */
  const setup = (open: (historyLimit: number) => Promise<RedisBus>): BusContractSetup => ({
    async create({ historyLimit }) {
      const bus = await open(historyLimit);
      limits.set(bus, historyLimit);
      return bus;
    },
    async loseHistory(bus) {
      await bus.close();
      await deleteRedisKeys(`${prefix}*`);
      return open(limits.get(bus) ?? 1000);
    },
    async peer(bus) {
      return open(limits.get(bus) ?? 1000);
    },
  });

  busContract('redis', setup(open));

  // The same contract over injected node-redis clients, used before they are
  // ready: exercises the connect-on-demand path and subscribe-before-ready.
  const injected: RedisBusClient[] = [];
  const openInjected = async (historyLimit: number): Promise<RedisBus> => {
    const client = createClient({ url });
    client.on('error', () => {});
    injected.push(client);
    return createRedisBus({ client, keyPrefix: prefix, maxLen: historyLimit, exactTrim: true });
  };
  busContract('redis (injected client)', {
    ...setup(openInjected),
    async cleanup() {
      // The bus leaves an injected client open: it belongs to the caller.
      for (const client of injected.splice(0)) {
        expect(client.isOpen).toBe(true);
        await client.close();
      }
    },
  });

  afterAll(async () => {
    await deleteRedisKeys(`${prefix}*`);
  });
});
