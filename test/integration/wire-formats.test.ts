/**
 * docs/reference/wire-formats.md is the contract: the marked blocks there are
 * compared with the bytes a real server sends, over a raw socket.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../lib/bus/memory.js';
import { createMultipartTransport } from '../../lib/wire/multipart.js';
import { type RawResponse, rawGet } from './raw-http.js';
import { type Harness, startHarness } from './stream-harness.js';

const DOC = readFileSync(new URL('../../docs/reference/wire-formats.md', import.meta.url), 'utf8');

/** The fenced block after `<!-- wire:name -->`, verbatim. */
function block(name: string): string {
  const match = new RegExp(`<!-- wire:${name} -->\\n\`\`\`\\n([\\s\\S]*?)\`\`\``).exec(DOC);
  if (!match) throw new Error(`no wire:${name} block in wire-formats.md`);
  return match[1]!;
}

/** A byte block: each line ends with the escape of its terminator (see the doc). */
function bytes(name: string): string {
  return block(name)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      if (line.endsWith('\\r\\n')) return `${line.slice(0, -4)}\r\n`;
      if (line.endsWith('\\n')) return `${line.slice(0, -2)}\n`;
      return line;
    })
    .join('')
    .replace('<!--…-->', `<!--${' '.repeat(1024)}-->`);
}

/** A header block: `Name: value` lines. */
function headers(name: string): [string, string][] {
  return block(name)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });
}

let harness: Harness | undefined;
const sockets: RawResponse[] = [];
afterEach(async () => {
  for (const r of sockets.splice(0)) r.socket.destroy();
  await harness?.close();
  harness = undefined;
});

async function start(): Promise<Harness> {
  harness = await startHarness({
    bus: createMemoryBus({ epoch: 'k1' }),
    retryMs: 1000,
    session: { heartbeatMs: 100 },
    transports: { multipart: createMultipartTransport({ boundary: () => 'comet-B' }) },
  });
  return harness;
}

async function get(h: Harness, query: string): Promise<RawResponse> {
  const r = await rawGet(h.url, `/live?${query}`);
  sockets.push(r);
  return r;
}

const QUERY: Record<string, string> = {
  sse: 'transport=sse',
  ndjson: 'transport=ndjson',
  multipart: 'transport=multipart',
  iframe: 'transport=iframe&callback=cb',
};

describe.each(Object.keys(QUERY))('%s on the wire', (name) => {
  it('sends the documented head, opening, message, heartbeat and end', async () => {
    const h = await start();
    expect((await h.publish({ text: '<hi>' })).id).toBe('k1-1');
    const r = await get(h, `${QUERY[name]}&cursor=earliest`);
    expect(r.status).toBe(200);
    for (const [header, value] of [...headers('common-headers'), ...headers(`${name}-headers`)]) {
      expect([header, r.headers.get(header)]).toEqual([header, value]);
    }
    expect(r.headers.get('transfer-encoding')).toBe('chunked');
    const opened = bytes(`${name}-open`) + bytes(`${name}-message`);
    await r.waitFor((b) => b.length >= Buffer.byteLength(opened));
    expect(r.body().toString()).toBe(opened);
    const beat = opened + bytes(`${name}-heartbeat`);
    await r.waitFor((b) => b.length >= Buffer.byteLength(beat));
    expect(r.body().toString().slice(0, beat.length)).toBe(beat);
    for (const s of h.sessions) s.end();
    await r.waitFor(() => r.complete);
    const endBytes = name === 'sse' || name === 'ndjson' ? '' : bytes(`${name}-end`);
    expect(
      r
        .body()
        .toString()
        .endsWith(bytes(`${name}-heartbeat`) + endBytes),
    ).toBe(true);
  });

  it('opens with the documented gap frame for a cursor from another epoch', async () => {
    const h = await start();
    await h.publish({ text: '<hi>' });
    const r = await get(h, `${QUERY[name]}&cursor=zz-1`);
    const expected = bytes(`${name}-open`) + bytes(`${name}-reset`);
    await r.waitFor((b) => b.length >= Buffer.byteLength(expected));
    expect(r.body().toString().slice(0, expected.length)).toBe(expected);
  });
});

describe('iframe postMessage form on the wire', () => {
  const query = `transport=iframe&callback=cb&origin=${encodeURIComponent('http://127.0.0.1:8080')}`;
  it('sends the documented opening then one postMessage script per message', async () => {
    const h = await start();
    await h.publish({ text: '<hi>' });
    const r = await get(h, `${query}&cursor=earliest`);
    const expected = bytes('iframe-open') + bytes('iframe-postmessage-message');
    await r.waitFor((b) => b.length >= Buffer.byteLength(expected));
    expect(r.body().toString().slice(0, expected.length)).toBe(expected);
  });

  it('opens with the documented gap frame for a cursor from another epoch', async () => {
    const h = await start();
    await h.publish({ text: '<hi>' });
    const r = await get(h, `${query}&cursor=zz-1`);
    const expected = bytes('iframe-open') + bytes('iframe-postmessage-reset');
    await r.waitFor((b) => b.length >= Buffer.byteLength(expected));
    expect(r.body().toString().slice(0, expected.length)).toBe(expected);
  });
});
