/**
 * The HTTP stream writer over a real socket: what it keeps of the head it
 * sent (`res._header`, replaced by a flat copy to save a held stream ~600
 * heap bytes) is still exactly the head the client received, and the
 * response goes on streaming.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { sseTransport } from '../../../lib/wire/sse.js';
import type { StreamWriter } from '../../../lib/wire/stream-transport.js';
import { rawHttpPair } from '../../helpers/raw-http.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

describe('HttpStreamWriter head', () => {
  it('keeps the head it sent byte for byte, and frames still follow', async () => {
    let opened: { res: ServerResponse; writer: StreamWriter } | undefined;
    const client = await rawHttpPair((_req, res) => {
      opened = { res, writer: sseTransport.open(res, { variant: '', retryMs: 1500 }) };
    });
    closers.push(() => client.close());
    client.socket.write('GET /live HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    await expect.poll(() => client.received.includes('\r\n\r\n')).toBe(true);
    const sent = client.received.slice(0, client.received.indexOf('\r\n\r\n') + 4);
    const { res, writer } = opened ?? expect.fail('no request reached the server');
    expect((res as ServerResponse & { _header?: unknown })._header).toBe(sent);
    expect(res.headersSent).toBe(true);
    writer.send(Buffer.from('data: 1\n\n'));
    await expect.poll(() => client.received.endsWith('data: 1\n\n\r\n')).toBe(true);
    writer.close();
    await expect.poll(() => client.received.endsWith('0\r\n\r\n')).toBe(true);
  });
});
