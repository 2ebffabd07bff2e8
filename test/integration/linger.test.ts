/**
 * A channel's bus subscription outlives its last held request for the
 * linger, so long-pollers coming back every message do not unsubscribe and
 * subscribe again each time (on Redis: an UNSUBSCRIBE / SUBSCRIBE pair per
 * poll); it is released when the linger ends, and at shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, createMemoryBus } from '../../index.js';
import { createTestApp } from './helpers/app.js';
import { closeAll, held, listen, publish, until } from './helpers/server.js';

afterEach(closeAll);

/** A memory bus that counts subscribe calls. */
function countingBus() {
  const bus = createMemoryBus();
  let subscribes = 0;
  const counted: Bus = Object.assign(Object.create(bus) as Bus, {
    subscribe: (channel: string, listener: Parameters<Bus['subscribe']>[1]) => {
      subscribes++;
      return bus.subscribe(channel, listener);
    },
  });
  return { bus, counted, subscribes: () => subscribes };
}

async function start(linger: number) {
  const { bus, counted, subscribes } = countingBus();
  const { app, push } = createTestApp({ bus: counted, channelLinger: linger });
  const running = await listen(app, push, bus);
  return { running, bus, subscribes };
}

async function pollOnce(
  base: string,
  cursor: string,
  running: Awaited<ReturnType<typeof start>>['running'],
) {
  const answer = fetch(`${base}/rooms/lobby/messages?timeout=30&cursor=${cursor}`);
  await held(running, 1);
  const message = await publish(running.bus, 'lobby', 'x');
  const body = (await (await answer).json()) as { cursor: string };
  expect(body.cursor).toBe(message.id);
  return body.cursor;
}

describe('channel linger', () => {
  it('keeps one bus subscription across re-polls, then releases it', async () => {
    const { running, subscribes } = await start(300);
    let cursor = (await publish(running.bus, 'lobby', 'first')).id;
    for (let i = 0; i < 5; i++) cursor = await pollOnce(running.base, cursor, running);
    expect(subscribes()).toBe(1);
    expect(running.push.stats()).toMatchObject({ held: 0, channels: 1 });
    await until(() => running.push.stats().channels === 0, 2000, 'the linger to end');
    expect(running.bus.subscriberCount()).toBe(0);
  });

  it('with no linger, every poll subscribes again', async () => {
    const { running, subscribes } = await start(0);
    let cursor = (await publish(running.bus, 'lobby', 'first')).id;
    for (let i = 0; i < 3; i++) cursor = await pollOnce(running.base, cursor, running);
    expect(subscribes()).toBe(3);
    expect(running.bus.subscriberCount()).toBe(0);
  });

  it('shutdown releases lingering subscriptions at once', async () => {
    const { running } = await start(60_000);
    const cursor = (await publish(running.bus, 'lobby', 'first')).id;
    await pollOnce(running.base, cursor, running);
    expect(running.push.stats().channels).toBe(1);
    await running.push.close();
    expect(running.push.stats().channels).toBe(0);
    expect(running.bus.subscriberCount()).toBe(0);
  });
});
