/**
 * One connection pipelines a held long-poll and 50 SSE requests, then goes
 * away. Node 20 emits no `close` on responses still queued behind the first
 * one, so every held request and stream watches its socket too: all of them
 * are released at once, not at the end of a 10-minute lifetime.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../index.js';
import { createTestApp } from './helpers/app.js';
import { closeAll, LINGER_MS, listen, type Running, rawSocket, until } from './helpers/server.js';

afterEach(closeAll);

async function start(direct: boolean): Promise<Running> {
  const bus = createMemoryBus();
  const { app, push } = createTestApp({ bus, channelLinger: LINGER_MS, direct });
  return listen(app, push, bus);
}

function get(path: string, headers: Record<string, string> = {}): string {
  const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A held long-poll then 50 SSE requests, all written at once on one connection. */
function pipeline(room: string, streams = 50): string {
  let out = get(`/rooms/${room}/messages?timeout=30`);
  for (let i = 0; i < streams; i++) {
    out += get(`/rooms/${room}/live`, { Accept: 'text/event-stream' });
  }
  return out;
}

describe.each([
  ['through Koa', false],
  ['by direct dispatch', true],
])('pipelined requests %s', (_label, direct) => {
  it('a closed connection releases its held long-poll and every queued stream', async () => {
    const running = await start(direct);
    const baseline = running.push.stats();
    const socket = await rawSocket(running.port);
    socket.write(pipeline('piped'));
    // Every request was parsed and is held: the long-poll and 50 queued streams.
    await until(() => running.push.stats().held === 51, 5000, '51 held');
    socket.destroy();
    await until(() => running.push.stats().held === baseline.held, 5000, 'held back to baseline');
    await until(() => running.bus.subscriberCount() === 0, 5000, 'bus subscriptions released');
    expect(running.push.stats()).toMatchObject({ held: 0, contexts: 0 });
  });

  it('a connection half-closed by the client releases them too', async () => {
    const running = await start(direct);
    const socket = await rawSocket(running.port);
    socket.write(pipeline('half', 10));
    await until(() => running.push.stats().held === 11, 5000, '11 held');
    socket.end();
    await until(() => running.push.stats().held === 0, 5000, 'held back to baseline');
  });
});
