import { once } from 'node:events';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { watchQueuedResponse } from '../../../lib/suspend/queued-response.js';

/** A response not yet given its socket, as Node leaves one queued behind another. */
function queuedOn(socket: Socket): ServerResponse {
  return new ServerResponse(new IncomingMessage(socket));
}

describe('watchQueuedResponse', () => {
  it('makes every queued response emit close once when the socket closes, with one listener', async () => {
    const socket = new Socket();
    const before = socket.listenerCount('close');
    const queued = Array.from({ length: 50 }, () => queuedOn(socket));
    const closes = queued.map(() => 0);
    queued.forEach((res, i) => {
      res.on('close', () => closes[i]!++);
      watchQueuedResponse(res);
    });
    expect(socket.listenerCount('close')).toBe(before + 1);
    socket.destroy();
    await once(socket, 'close');
    expect(closes).toEqual(queued.map(() => 1));
    expect(socket.listenerCount('close')).toBe(before);
  });

  it('tells a response whose socket is already gone on the next tick', async () => {
    const socket = new Socket();
    socket.destroy();
    const res = queuedOn(socket);
    watchQueuedResponse(res);
    await once(res, 'close');
  });

  it('leaves alone a response that is first on its socket (Node tells it itself)', () => {
    const socket = new Socket();
    const res = queuedOn(socket);
    res.assignSocket(socket);
    const before = socket.listenerCount('close');
    watchQueuedResponse(res);
    expect(socket.listenerCount('close')).toBe(before);
    res.detachSocket(socket);
    socket.destroy();
  });
});
