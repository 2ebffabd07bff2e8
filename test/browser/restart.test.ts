/**
 * The demo server (`examples/chat/server.ts`, a child process) is SIGKILLed by pid
 * and restarted on the same port while a page in Chromium follows a room from
 * another origin (the page server; the demo allows any origin).
 *
 * - Redis bus: messages published while the server is dead (straight into Redis)
 *   and after the restart all arrive, each once, in order; no reset.
 * - Memory bus: the restarted process has a new epoch, so the page's cursor is
 *   foreign: it gets `onReset`, then what follows — never a silent skip.
 *
 * Redis unreachable (REDIS_URL, default redis://127.0.0.1:6379): the Redis case is
 * skipped with a loud warning outside CI and fails under CI=true.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterEach, expect, it } from 'vitest';
import { createRedisBus } from '../../index.js';
import { deleteRedisKeys, redisAnswers, redisUrl, withRedis } from '../helpers/redis.js';
import {
  createBrowserSession,
  describeBrowser,
  record,
  startClient,
  waitForMessages,
} from './harness.js';
import {
  freePort,
  head,
  killChild,
  publish,
  type Running,
  startDemoChild,
  startPageServer,
} from './servers.js';

const reachable = await redisAnswers();

const chromium = createBrowserSession();
let pages: Running | undefined;
let child: ChildProcess | undefined;

/** Starts the page server and the demo child; opens the page following `room` (auto). */
async function setUp(room: string, env: Record<string, string>) {
  pages = await startPageServer();
  const port = await freePort();
  child = await startDemoChild(port, env);
  const demo = `http://127.0.0.1:${port}`;
  const page = await chromium.browser.newPage();
  await startClient(page, pages.base, `${demo}/rooms/${room}/live`, {
    longpollUrl: `${demo}/rooms/${room}/messages`,
    cursor: await head(demo, room),
    shareAcrossTabs: false,
    backoff: { initialDelayMs: 100, maxDelayMs: 500 },
  });
  await page.waitForFunction('window.statuses.some((s) => s.kind === "open")');
  return { page, demo, port };
}

async function ids(page: Page): Promise<string[]> {
  return (await record(page)).received.map((m) => m.id);
}

describeBrowser('restart of the demo server process', chromium, () => {
  afterEach(async () => {
    await killChild(child);
    child = undefined;
    await pages?.stop();
    pages = undefined;
  });

  it('memory bus: the restart gives the page onReset, then what follows', async () => {
    const room = `restart-mem-${randomBytes(4).toString('hex')}`;
    const { page, demo, port } = await setUp(room, { REDIS_URL: '' });
    const before = await publish(demo, room, 10);
    await waitForMessages(page, 10);
    await killChild(child);
    child = await startDemoChild(port, { REDIS_URL: '' });
    await page.waitForFunction('window.resets.length >= 1', undefined, { timeout: 20_000 });
    const after = await publish(demo, room, 5, 11);
    // One more after them: a late duplicate would come before it, in order.
    const last = await publish(demo, room, 1, 16);
    await waitForMessages(page, 16);
    const seen = await record(page);
    expect(seen.received.map((m) => m.id)).toEqual([...before, ...after, ...last]);
    expect(seen.resets).toHaveLength(1);
    expect(seen.resets[0]).toMatchObject({ previousCursor: before.at(-1) });
    // The new epoch's ids are not the old ones continued.
    expect(after[0]!.split('-')[0]).not.toBe(before[0]!.split('-')[0]);
    await page.close();
  });

  withRedis(reachable, 'the Redis restart browser test', () => {
    it('Redis bus: killed and restarted mid-sequence, the page misses nothing', async () => {
      const room = `restart-redis-${randomBytes(4).toString('hex')}`;
      const direct = createRedisBus({ url: redisUrl });
      try {
        const { page, demo, port } = await setUp(room, { REDIS_URL: redisUrl });
        const first = await publish(demo, room, 10);
        await waitForMessages(page, 10);
        await killChild(child);
        // Published while no server runs: only the cursor can bring these to the page.
        const during: string[] = [];
        for (let n = 11; n <= 20; n += 1) {
          during.push((await direct.publish(`room:${room}`, { n })).id);
        }
        child = await startDemoChild(port, { REDIS_URL: redisUrl });
        const after = await publish(demo, room, 10, 21);
        // One more after them: a late duplicate would come before it, in order.
        const last = await publish(demo, room, 1, 31);
        await waitForMessages(page, 31, 20_000);
        const seen = await record(page);
        expect(await ids(page)).toEqual([...first, ...during, ...after, ...last]);
        expect(seen.received.map((m) => (m.data as { n: number }).n)).toEqual(
          Array.from({ length: 31 }, (_, i) => i + 1),
        );
        expect(seen.resets).toEqual([]);
        expect(seen.statuses.filter((s) => s.kind === 'open').length).toBeGreaterThanOrEqual(2);
        await page.close();
      } finally {
        await direct.close();
        // This room's keys only: the Redis is shared.
        await deleteRedisKeys(`*${room}*`);
      }
    });
  });
});
