import { describe, expect, it, vi } from 'vitest';
import { AckTable, SendError, send } from '../../client/send.js';

/** A stand-in for the browser's WebSocket: records what is sent. */
function fakeSocket() {
  const sent: string[] = [];
  return { sent, ws: { send: (text: string) => sent.push(text) } as unknown as WebSocket };
}

describe('client send(): acks by ref', () => {
  it('sends publish frames with fresh refs and settles each by its own answer', async () => {
    const { sent, ws } = fakeSocket();
    const acks = new AckTable();
    const first = acks.publish(ws, { a: 1 });
    const second = acks.publish(ws, 'b');
    expect(sent.map((t) => JSON.parse(t))).toEqual([
      { op: 'publish', ref: 'c1', data: { a: 1 } },
      { op: 'publish', ref: 'c2', data: 'b' },
    ]);
    // Answers in completion order, not send order.
    expect(
      acks.answer(
        '{"op":"error","ref":"c2","error":{"code":"COMET_ERR_AUTH_FORBIDDEN","message":"Forbidden"}}',
      ),
    ).toBe(true);
    expect(acks.answer('{"op":"ack","ref":"c1","id":"e-7"}')).toBe(true);
    await expect(first).resolves.toEqual({ id: 'e-7' });
    await expect(second).rejects.toMatchObject({ code: 'COMET_ERR_AUTH_FORBIDDEN' });
  });

  it('leaves envelopes and control frames to the stream', () => {
    const acks = new AckTable();
    expect(acks.answer('{"id":"e-1","channel":"room:a","data":1}')).toBe(false);
    expect(acks.answer('{"gap":true,"cursor":"e-1"}')).toBe(false);
  });

  it('rejects what was not answered when the socket closes, without resending', async () => {
    const { sent, ws } = fakeSocket();
    const acks = new AckTable();
    const pending = acks.publish(ws, 1);
    acks.fail();
    await expect(pending).rejects.toMatchObject({ code: 'COMET_CLIENT_CONNECTION_LOST' });
    expect(sent).toHaveLength(1);
  });
});

describe('client send(): socket or POST', () => {
  it('POSTs when there is no socket, and when the route takes no publishes on it', async () => {
    const fetchMock = vi.fn(
      async () =>
        new Response('{"id":"e-9"}', {
          status: 201,
          headers: { 'content-type': 'application/json' },
        }),
    );
    vi.stubGlobal('fetch', fetchMock);
    try {
      expect(await send(() => undefined, 'http://x/rooms/a/messages', { n: 1 }, false)).toEqual({
        id: 'e-9',
      });
      const disabled = () =>
        Promise.reject(new SendError('COMET_ERR_PUBLISH_DISABLED', 'no publishes here'));
      expect(await send(disabled, 'http://x/rooms/a/messages', { n: 2 }, false)).toEqual({
        id: 'e-9',
      });
      expect(fetchMock).toHaveBeenCalledTimes(2);
      const refused = () => Promise.reject(new SendError('COMET_ERR_AUTH_FORBIDDEN', 'Forbidden'));
      await expect(send(refused, 'http://x/', 1, false)).rejects.toMatchObject({
        code: 'COMET_ERR_AUTH_FORBIDDEN',
      });
      expect(fetchMock).toHaveBeenCalledTimes(2);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('turns a POST refusal into a SendError with the server code', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(
        async () =>
          new Response('{"error":{"code":"COMET_ERR_BODY_TOO_LARGE","message":"too large"}}', {
            status: 413,
          }),
      ),
    );
    try {
      await expect(send(() => undefined, 'http://x/', 'x', false)).rejects.toMatchObject({
        name: 'SendError',
        code: 'COMET_ERR_BODY_TOO_LARGE',
        message: 'too large',
      });
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
