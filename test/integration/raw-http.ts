/**
 * A raw HTTP/1.1 client over `net`, for exact bytes: the status line and
 * headers as sent, and the body de-chunked as it arrives.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly socket: Socket;
  readonly status: number;
  /** Header names lower-cased, values as sent. */
  readonly headers: Map<string, string>;
  /** The de-chunked body received so far. */
  body(): Buffer;
  /** True once the terminating zero-length chunk arrived. */
  readonly complete: boolean;
  /** Resolves when `check(body)` is true. */
  waitFor(check: (body: Buffer) => boolean, ms?: number): Promise<Buffer>;
}

/** Sends `GET path` and resolves once the response head has arrived. */
export function rawGet(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  let raw = Buffer.alloc(0);
  let waiters: (() => void)[] = [];
  return new Promise((resolve, reject) => {
    let response: RawResponse | undefined;
    socket.on('error', reject);
    socket.on('data', (data: Buffer) => {
      raw = Buffer.concat([raw, data]);
      if (response === undefined) {
        const end = raw.indexOf('\r\n\r\n');
        if (end === -1) return;
        response = makeResponse(socket, raw.subarray(0, end).toString('latin1'), () =>
          raw.subarray(end + 4),
        );
        resolve(response);
      }
      for (const wake of waiters) wake();
    });
    socket.on('close', () => {
      for (const wake of waiters) wake();
    });
    function makeResponse(s: Socket, head: string, rest: () => Buffer) {
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const map = new Map<string, string>();
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        map.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
      }
      const dechunk = (): { body: Buffer; complete: boolean } => {
        const parts: Buffer[] = [];
        let buf = rest();
        for (;;) {
          const eol = buf.indexOf('\r\n');
          if (eol === -1) return { body: Buffer.concat(parts), complete: false };
          const size = Number.parseInt(buf.subarray(0, eol).toString(), 16);
          if (size === 0) return { body: Buffer.concat(parts), complete: true };
          if (buf.length < eol + 2 + size + 2)
            return { body: Buffer.concat(parts), complete: false };
          parts.push(buf.subarray(eol + 2, eol + 2 + size));
          buf = buf.subarray(eol + 2 + size + 2);
        }
      };
      return {
        socket: s,
        status: Number(statusLine.split(' ')[1]),
        headers: map,
        body: () => dechunk().body,
        get complete() {
          return dechunk().complete;
        },
        waitFor(check: (body: Buffer) => boolean, ms = 5_000): Promise<Buffer> {
          return new Promise((res, rej) => {
            const timer = setTimeout(
              () => rej(new Error(`timed out; got ${JSON.stringify(dechunk().body.toString())}`)),
              ms,
            );
            const wake = () => {
              const body = dechunk().body;
              if (!check(body)) return;
              clearTimeout(timer);
              waiters = waiters.filter((w) => w !== wake);
              res(body);
            };
            waiters.push(wake);
            wake();
          });
        },
      };
    }
  });
}
