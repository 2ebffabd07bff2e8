/**
 * The Flash socket policy responders: inline on the demo's own port (the
 * request arrives as Node's HTTP parse error) and the standalone server.
 * Raw TCP clients check the exact bytes.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { attachFlashPolicy, createFlashPolicyServer, flashPolicy } from '../../index.js';
import { closeAll, rawExchange, rawSocket, startChat } from './helpers/server.js';

const servers = new Set<Server>();
afterEach(async () => {
  for (const s of servers) s.close();
  servers.clear();
  await closeAll();
});

const REQUEST = '<policy-file-request/>\0';
const policyFor = (port: number) =>
  '<?xml version="1.0"?>\n' +
  '<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd">\n' +
  '<cross-domain-policy>\n' +
  '<site-control permitted-cross-domain-policies="master-only"/>\n' +
  `<allow-access-from domain="example.com" to-ports="${port}"/>\n` +
  '</cross-domain-policy>\n\0';

async function chatWithPolicy() {
  const chat = await startChat();
  attachFlashPolicy(chat.server, { domains: ['example.com'], timeoutMs: 300 });
  return chat;
}

/** Writes `parts` one by one (each its own TCP segment), reads until the server closes. */
async function slowExchange(port: number, parts: string[]): Promise<string> {
  const socket = await rawSocket(port);
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = once(socket, 'close');
  for (const part of parts) {
    if (socket.destroyed) break;
    socket.write(part);
    // Let each byte leave on its own: an awaited write, then a turn of the loop.
    await new Promise((r) => setImmediate(r));
  }
  await closed;
  return Buffer.concat(chunks).toString('utf8');
}

describe('inline Flash policy responder', () => {
  it('answers the policy request with the exact XML and \\0, then closes', async () => {
    const chat = await chatWithPolicy();
    expect(await rawExchange(chat.port, REQUEST)).toBe(policyFor(chat.port));
  });

  it('leaves HTTP on the same port untouched', async () => {
    const chat = await chatWithPolicy();
    const res = await fetch(`${chat.base}/health`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
    const raw = await rawExchange(
      chat.port,
      'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('recognises a client that sends the request one byte at a time', async () => {
    const chat = await chatWithPolicy();
    expect(await slowExchange(chat.port, [...REQUEST])).toBe(policyFor(chat.port));
  });

  it('answers 400 to a client that stalls mid-request or sends something else', async () => {
    const chat = await chatWithPolicy();
    const socket = await rawSocket(chat.port);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write('<policy-file');
    await once(socket, 'close'); // the 300 ms bound, not the client
    expect(Buffer.concat(chunks).toString()).toBe(
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
    );
    expect(await rawExchange(chat.port, '<cross-domain-request/>\0')).toBe(
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
    );
  });

  it('allows no domain unless configured, and refuses a malformed one', async () => {
    const chat = await startChat();
    attachFlashPolicy(chat.server);
    const answer = await rawExchange(chat.port, REQUEST);
    expect(answer).toContain('<cross-domain-policy>');
    expect(answer).not.toContain('allow-access-from');
    expect(() => attachFlashPolicy(chat.server, { domains: ['"><x'] })).toThrow(/bad domain/);
  });
});

describe('standalone Flash policy server', () => {
  async function startPolicyServer(): Promise<number> {
    const server = createFlashPolicyServer({
      domains: ['example.com'],
      ports: [4321],
      timeoutMs: 300,
    });
    servers.add(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  it('answers the exact policy and closes; anything else is closed without a byte', async () => {
    const port = await startPolicyServer();
    expect(await rawExchange(port, REQUEST)).toBe(policyFor(4321));
    expect(flashPolicy(['example.com'], [4321]).toString()).toBe(policyFor(4321));
    expect(await rawExchange(port, 'GET / HTTP/1.1\r\n\r\n')).toBe('');
  });

  it('recognises a slow client, and closes a silent one within its bound', async () => {
    const port = await startPolicyServer();
    expect(await slowExchange(port, [...REQUEST])).toBe(policyFor(4321));
    const silent = await rawSocket(port);
    await once(silent, 'close');
  });

  it('sends the bytes wire-formats.md documents', () => {
    const doc = readFileSync(
      new URL('../../docs/reference/wire-formats.md', import.meta.url),
      'utf8',
    );
    const block = /<!-- wire:flash-policy -->\n```\n([\s\S]*?)\\0\n```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    expect(flashPolicy(['example.com'], [3000]).toString()).toBe(`${block}\0`);
  });

  it('needs the ports it allows', () => {
    expect(() => createFlashPolicyServer({ domains: ['example.com'] })).toThrow(/needs ports/);
  });
});
