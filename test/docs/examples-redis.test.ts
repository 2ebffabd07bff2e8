/**
 * The Redis tutorial example (10): two nodes on one Redis. A message
 * published on one node reaches a long-poll held on the other, and a cursor
 * issued by one node resumes on the other. Each run uses its own key prefix
 * and deletes its keys. Outside CI an unreachable Redis skips with a loud
 * warning; under `CI=true` it fails.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as redisExample from '../../docs/examples/10-redis.js';
import { deleteRedisKeys, redisAnswers, redisUrl as url, withRedis } from '../helpers/redis.js';

const keyPrefix = `comet-docs-test:${randomBytes(6).toString('hex')}:`;

const running: { close(): Promise<unknown> }[] = [];

withRedis(await redisAnswers(), 'docs/examples/10-redis.ts', () => {
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.close()));
  });
  afterAll(() => deleteRedisKeys(`${keyPrefix}*`));

  describe('10 redis', () => {
    it('a publish on node A answers a long-poll held on node B; cursors resume across nodes', async () => {
      const a = await redisExample.start(0, { url, keyPrefix });
      running.push(a);
      const b = await redisExample.start(0, { url, keyPrefix });
      running.push(b);
      const { cursor } = await a.bus.read('room:lobby');
      const held = fetch(`${b.url}/rooms/lobby/messages?cursor=${cursor}`).then((r) => r.json());
      const first = await a.bus.publish('room:lobby', { text: 'from A' });
      expect(await held).toEqual({
        messages: [{ id: first.id, channel: 'room:lobby', data: { text: 'from A' } }],
        cursor: first.id,
        gap: false,
      });
      const second = await b.bus.publish('room:lobby', { text: 'from B' });
      const resumed = await fetch(`${a.url}/rooms/lobby/messages?cursor=${first.id}`);
      expect(((await resumed.json()) as { messages: { id: string }[] }).messages).toEqual([
        { id: second.id, channel: 'room:lobby', data: { text: 'from B' } },
      ]);
    });
  });
});
