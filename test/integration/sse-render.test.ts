/**
 * `@stream` routes with `event` / `render`: the bytes documented in
 * docs/reference/wire-formats.md ("Named and rendered events"), over a raw socket,
 * and the framing guarantees (no field forged, names checked at build time).
 */
import { readFileSync } from 'node:fs';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import {
  comet,
  createMemoryBus,
  escapeHtml,
  html,
  isCometError,
  type Message,
  type StreamOptions,
  stream,
} from '../../index.js';
import { closeAll, listen } from './helpers/server.js';
import { type RawResponse, rawGet } from './raw-http.js';

const DOC = readFileSync(new URL('../../docs/reference/wire-formats.md', import.meta.url), 'utf8');

/** The byte block after `<!-- wire:name -->`; `\n` at a line's end is its LF. */
function bytes(name: string): string {
  const match = new RegExp(`<!-- wire:${name} -->\\n\`\`\`\\n([\\s\\S]*?)\`\`\``).exec(DOC);
  if (!match) throw new Error(`no wire:${name} block in wire-formats.md`);
  return match[1]!
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (line.endsWith('\\n') ? `${line.slice(0, -2)}\n` : line))
    .join('');
}

const sockets: RawResponse[] = [];
afterEach(async () => {
  for (const r of sockets.splice(0)) r.socket.destroy();
  await closeAll();
});

async function serve(options: StreamOptions) {
  const bus = createMemoryBus({ epoch: 'k1' });
  const app = new Koa();
  const push = comet({ bus, routes: [stream('/feed', options, () => 'room:test')] });
  app.use(push);
  return listen(app, push, bus);
}

/** Opens `/feed` from the start, publishes `data`, and resolves with the message event's bytes. */
async function frameOf(options: StreamOptions, data: unknown): Promise<string> {
  const running = await serve(options);
  await running.bus.publish('room:test', data);
  const r = await rawGet(running.base, '/feed?cursor=earliest');
  sockets.push(r);
  expect(r.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const opening = 'retry: 1000\n\n';
  await r.waitFor((b) => b.toString().slice(opening.length).includes('\n\n'));
  const text = r.body().toString();
  expect(text.startsWith(opening)).toBe(true);
  return text.slice(opening.length, text.indexOf('\n\n', opening.length) + 2);
}

describe('SSE named and rendered events', () => {
  it('escapes the data as HTML text when the route names events without rendering', async () => {
    expect(await frameOf({ event: 'chat' }, '<b>markup</b>')).toBe(bytes('sse-html-escaped'));
  });

  it('sends what render returns, one data: line per line, so nothing can forge a field', async () => {
    const render = (m: Message) => String(m.data);
    const hostile = '<b>one</b>\r\nevent: forged\n\ndata: two';
    expect(await frameOf({ event: 'chat', render }, hostile)).toBe(bytes('sse-html-rendered'));
  });

  it('escapes values interpolated with html`` and JSON of non-string data', async () => {
    const render = (m: Message) => html`<li title="${(m.data as { t: string }).t}">x</li>`;
    expect(await frameOf({ event: 'chat', render }, { t: '"><script>' })).toBe(
      'event: chat\nid: k1-1\ndata: <li title="&quot;&gt;&lt;script&gt;">x</li>\n\n',
    );
    expect(await frameOf({ event: 'n' }, { a: '<&>' })).toBe(
      'event: n\nid: k1-1\ndata: {&quot;a&quot;:&quot;&lt;&amp;&gt;&quot;}\n\n',
    );
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('a render that throws moves the resume point past the message and dispatches nothing', async () => {
    const render = () => {
      throw new Error('boom');
    };
    expect(await frameOf({ event: 'chat', render }, 'x')).toBe(': render failed\nid: k1-1\n\n');
  });

  it('streams SSE only: other transports are not offered', async () => {
    const running = await serve({ render: (m) => String(m.data) });
    const ndjson = await fetch(`${running.base}/feed?transport=ndjson`);
    expect(ndjson.status).toBe(400);
    await ndjson.text();
    const accept = await fetch(`${running.base}/feed`, {
      headers: { Accept: 'application/x-ndjson' },
    });
    expect(accept.status).toBe(406);
    await accept.text();
  });

  it.each([
    ['an empty name', { event: '' }],
    ['a name with LF', { event: 'a\nid: 9' }],
    ['a name with CR', { event: 'a\rb' }],
    ['the reserved reset', { event: 'reset' }],
    ['render with another transport', { render: String, transports: ['sse', 'ndjson'] }],
  ])('refuses %s when the route is built', (_label, options) => {
    const bus = createMemoryBus();
    let error: unknown;
    try {
      comet({ bus, routes: [stream('/feed', options as StreamOptions, () => 'c')] });
    } catch (e) {
      error = e;
    }
    expect(isCometError(error) && error.code).toBe('COMET_ERR_OPTIONS_INVALID');
  });
});
