/**
 * A `node:http` server on loopback and one raw client socket to it, for
 * tests that look at the exact bytes a response puts on the wire.
 */
import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';

/** The client side: its socket, every byte received so far (as text), and the teardown. */
export interface RawHttpPair {
  readonly socket: Socket;
  /** What the client has received; a test may reset it to '' between requests. */
  received: string;
  /** Destroys the socket and closes the server. */
  close(): void;
}

/** Starts a server answering with `listener` and connects a raw socket to it. */
export async function rawHttpPair(
  listener: RequestListener,
  encoding: BufferEncoding = 'latin1',
): Promise<RawHttpPair> {
  const server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const pair: RawHttpPair = {
    socket,
    received: '',
    close() {
      socket.destroy();
      server.close();
    },
  };
  socket.on('data', (chunk: Buffer) => {
    pair.received += chunk.toString(encoding);
  });
  return pair;
}
