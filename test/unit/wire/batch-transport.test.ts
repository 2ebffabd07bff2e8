/**
 * A batch written to one response over a real socket: the head and body
 * leave in a single socket write (not a `writev` of head+body and an empty
 * finishing chunk), no uncork of the socket is left queued for the next
 * tick, and the client receives the complete response, keep-alive intact.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { writeBatch } from '../../../lib/wire/batch-transport.js';
import { longPollTransport } from '../../../lib/wire/long-poll.js';
import { rawHttpPair } from '../../helpers/raw-http.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** Socket-level writes `res` makes while `run` runs, and the next-tick callbacks it queues. */
function observe(res: ServerResponse, run: () => void) {
  const socket = res.socket as Socket & {
    _write: (...args: unknown[]) => void;
    _writev: (...args: unknown[]) => void;
  };
  const writes: string[] = [];
  const write = socket._write;
  const writev = socket._writev;
  socket._write = function (this: unknown, ...args: unknown[]) {
    writes.push('write');
    return write.apply(this, args);
  };
  socket._writev = function (this: unknown, ...args: unknown[]) {
    writes.push('writev');
    return writev.apply(this, args);
  };
  const ticks: string[] = [];
  const nextTick = process.nextTick;
  process.nextTick = ((callback: (...a: unknown[]) => void, ...args: unknown[]) => {
    ticks.push(callback.name);
    nextTick(callback, ...args);
  }) as typeof process.nextTick;
  try {
    run();
  } finally {
    process.nextTick = nextTick;
    socket._write = write;
    socket._writev = writev;
  }
  return { writes, ticks };
}

describe('writeBatch to one response', () => {
  it('sends head and body in one socket write and queues no uncork', async () => {
    const body = '{"messages":[{"id":"e-1","data":{"text":"hi"}}],"cursor":"e-1","gap":false}';
    let seen: ReturnType<typeof observe> | undefined;
    const client = await rawHttpPair((_req, res) => {
      seen = observe(res, () => writeBatch(res, longPollTransport, body));
    }, 'utf8');
    closers.push(() => client.close());
    const ask = () => client.socket.write('GET /poll HTTP/1.1\r\nHost: x\r\n\r\n');
    ask();
    await expect.poll(() => client.received.endsWith(body)).toBe(true);
    expect(seen?.writes).toEqual(['write']);
    expect(seen?.ticks).not.toContain('connectionCorkNT');
    expect(client.received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(client.received).toContain(`\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`);
    expect(client.received).not.toMatch(/\r\nConnection: close\r\n/i);
    // The connection serves the next request the same way.
    client.received = '';
    ask();
    await expect.poll(() => client.received.endsWith(body)).toBe(true);
    expect(seen?.writes).toEqual(['write']);
  });
});
