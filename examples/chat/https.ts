/**
 * `HTTPS=1 npm start`: the demo over TLS with HTTP/2, and HTTP/1.1 on the
 * same port for WebSocket upgrades and old clients (`allowHTTP1`).
 *
 * The certificate is self-signed and made at start, in memory: nothing is
 * written to disk, so no private key can end up in the repository. A
 * browser warns once; for a real deployment terminate TLS at a proxy
 * instead (docs/guides/scaling.md, "HTTP/2").
 */
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type Koa from 'koa';
import { generate } from 'selfsigned';

/** A certificate and its key, PEM. */
export interface Pems {
  readonly cert: string;
  readonly key: string;
}

/** A fresh self-signed certificate for `localhost`, 127.0.0.1 and ::1 (EC P-256, one day). */
export async function selfSignedCertificate(): Promise<Pems> {
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** An HTTP/2 + HTTP/1.1 TLS server running `app` (not listening yet). */
export function createHttpsServer(app: Koa, pems: Pems): Http2SecureServer {
  return createSecureServer({ ...pems, allowHTTP1: true }, app.callback());
}
