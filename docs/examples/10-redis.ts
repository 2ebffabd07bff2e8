/**
 * Tutorial step 10: several processes sharing one Redis. Run `start()` in
 * each process (or twice in one, as the test does): a message published on
 * one node reaches long-polls held on every node, and a cursor issued by one
 * node resumes on any other.
 */
import Koa from 'koa';
import { comet, createRedisBus } from '../../index.js';
import { Chat } from './01-first-longpoll.js';
import { listenExample } from './support/listen.js';

/** Options of {@link start}. */
export interface RedisNodeOptions {
  /** Redis URL; default `REDIS_URL` or `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of every key, so apps (and test runs) sharing a Redis stay apart. */
  keyPrefix?: string;
}

/** Starts one node of the rooms app on the Redis bus. */
export async function start(port = 0, options: RedisNodeOptions = {}) {
  // #region redis
  const bus = createRedisBus({
    url: options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    keyPrefix: options.keyPrefix ?? 'chat:',
    maxLen: 1000, // history per channel, by count
  });
  await bus.ready(); // optional: fail fast at start-up when Redis is not there
  const push = comet({ bus, controllers: [Chat] });
  // #endregion redis
  const app = new Koa();
  app.use(push);
  return listenExample(app, push, bus, port);
}
