/**
 * The batch section of docs/reference/wire-formats.md against a real demo
 * server: headers and bodies of poll, long-poll, JSONP and errors.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { examplesServer } from './helpers/batch-wire.js';

const DOC = readFileSync(new URL('../../docs/reference/wire-formats.md', import.meta.url), 'utf8');

function block(name: string): string {
  const match = new RegExp(`<!-- wire:${name} -->\\n\`\`\`\\n([\\s\\S]*?)\\n\`\`\``).exec(DOC);
  if (!match) throw new Error(`no wire:${name} block in wire-formats.md`);
  return match[1] as string;
}

function documentedHeaders(name: string): [string, string][] {
  return block(name)
    .split('\n')
    .map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]);
}

function expectHeaders(response: Response, name: string): void {
  for (const [header, value] of documentedHeaders(name)) {
    if (header === 'etag') expect(response.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    else expect(response.headers.get(header), header).toBe(value);
  }
}

let server: Awaited<ReturnType<typeof examplesServer>> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('batches on the wire (docs/reference/wire-formats.md)', () => {
  it('poll: documented headers and body, 304 on If-None-Match', async () => {
    server = await examplesServer();
    await server.publish({ text: '<hi>' });
    const response = await fetch(`${server.url}/rooms/test/unread?cursor=k1-0`);
    expect(response.status).toBe(200);
    expectHeaders(response, 'poll-headers');
    expect(await response.text()).toBe(block('poll-body'));
    const etag = response.headers.get('etag') as string;
    const again = await fetch(`${server.url}/rooms/test/unread?cursor=k1-0`, {
      headers: { 'If-None-Match': etag },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('long-poll: documented headers, body, and timeout answer', async () => {
    server = await examplesServer();
    const held = fetch(`${server.url}/rooms/test/messages?cursor=k1-0&timeout=25`);
    await server.until(() => server?.push.stats().held === 1);
    await server.publish({ text: '<hi>' });
    const response = await held;
    expectHeaders(response, 'long-poll-headers');
    expect(await response.text()).toBe(block('poll-body'));
    const timedOut = await fetch(`${server.url}/rooms/test/messages?cursor=k1-1&timeout=0`);
    expect(await timedOut.text()).toBe(block('long-poll-timeout'));
  });

  it('JSONP: documented headers and body', async () => {
    server = await examplesServer();
    await server.publish({ text: '<hi>' });
    const response = await fetch(`${server.url}/rooms/test/messages?cursor=k1-0&callback=cb`);
    expectHeaders(response, 'jsonp-headers');
    expect(await response.text()).toBe(block('jsonp-body'));
  });

  it('errors: documented JSON body', async () => {
    server = await examplesServer();
    const response = await fetch(`${server.url}/rooms/test/messages?cursor=nope`);
    expect(response.status).toBe(400);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.text()).toBe(block('error-body'));
  });
});
