/**
 * Every HTTP stream transport, read by a third-party client (not our own
 * parser), carries the hostile payloads byte-exact: one event / line / part
 * / script per message, in order.
 */
import { get, type IncomingMessage } from 'node:http';
import { EventSource } from 'eventsource';
import { meros } from 'meros/node';
import { parse } from 'parse5';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../lib/bus/memory.js';
import { HOSTILE_PAYLOADS } from '../fixtures/hostile-payloads.js';
import { readUntil } from './helpers/read-stream.js';
import { type Harness, startHarness, until } from './stream-harness.js';

let harness: Harness | undefined;
async function start(options?: Parameters<typeof startHarness>[0]): Promise<Harness> {
  harness = await startHarness(options);
  return harness;
}
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function publishAll(h: Harness, payloads: readonly unknown[]): Promise<string[]> {
  const ids: string[] = [];
  for (const data of payloads) ids.push((await h.publish(data)).id);
  return ids;
}

describe('SSE through the eventsource package', () => {
  it('delivers every hostile payload as exactly one event, with its id', async () => {
    const h = await start();
    const es = new EventSource(h.url);
    const got: { id: string; data: string }[] = [];
    es.onmessage = (e) => got.push({ id: e.lastEventId, data: e.data });
    await new Promise((resolve) => {
      es.onopen = resolve;
    });
    const ids = await publishAll(h, HOSTILE_PAYLOADS);
    await until(() => got.length >= HOSTILE_PAYLOADS.length);
    es.close();
    expect(got.map((e) => e.id)).toEqual(ids);
    expect(got.map((e) => JSON.parse(e.data))).toEqual(
      HOSTILE_PAYLOADS.map((data, i) => ({ id: ids[i], channel: 'room:test', data })),
    );
    // Encoded once per message for this transport.
    expect([...h.encodes.values()].every((n) => n === 1)).toBe(true);
  });

  it('sends a reset event before anything when the cursor is older than history', async () => {
    const h = await start({ bus: createMemoryBus({ epoch: 'aaaa' }) });
    await h.publish('old');
    // A cursor from another epoch (a restarted bus): the bus answers gap.
    const es2 = new EventSource(`${h.url}?cursor=bbbb-1`);
    const resets: { id: string; data: string }[] = [];
    es2.addEventListener('reset', (e) => resets.push({ id: e.lastEventId, data: e.data }));
    await until(() => resets.length === 1);
    es2.close();
    expect(JSON.parse(resets[0]!.data)).toEqual({ gap: true, cursor: resets[0]!.id });
    expect(resets[0]!.id).toMatch(/^aaaa-/);
  });
});

describe('NDJSON through fetch', () => {
  it('delivers every hostile payload as exactly one line', async () => {
    const h = await start();
    const res = await fetch(`${h.url}?transport=ndjson`);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const ids = await publishAll(h, HOSTILE_PAYLOADS);
    const lastLine = `"id":"${ids.at(-1)}"`;
    const text = await readUntil(res.body!, (t) => t.includes(lastLine) && t.endsWith('\n'));
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines.map((l) => JSON.parse(l))).toEqual(
      HOSTILE_PAYLOADS.map((data, i) => ({ id: ids[i], channel: 'room:test', data })),
    );
  });
});

describe('multipart/mixed through meros', () => {
  it('delivers every hostile payload, and this response’s own boundary, as one part each', async () => {
    const h = await start();
    const res = await new Promise<IncomingMessage>((resolve) =>
      get(`${h.url}?transport=multipart`, resolve),
    );
    const boundary = /boundary=(\S+)/.exec(res.headers['content-type'] ?? '')![1]!;
    const payloads = [
      ...HOSTILE_PAYLOADS,
      boundary,
      `--${boundary}`,
      `\r\n--${boundary}\r\n`,
      `\r\n--${boundary}--\r\n`,
    ];
    const parts = await meros<unknown>(res);
    if (!(Symbol.asyncIterator in Object(parts))) throw new Error('not multipart');
    const ids = await publishAll(h, payloads);
    const got: { id: string | undefined; body: unknown }[] = [];
    for await (const part of parts as AsyncGenerator<{
      headers: Record<string, string>;
      body: unknown;
      json: boolean;
    }>) {
      if (!part.json) continue; // empty parts: heartbeats and the end
      got.push({ id: part.headers['comet-id'], body: part.body });
      if (got.length === payloads.length) break;
    }
    res.destroy();
    expect(got.map((p) => p.id)).toEqual(ids);
    expect(got.map((p) => p.body)).toEqual(
      payloads.map((data, i) => ({ id: ids[i], channel: 'room:test', data })),
    );
  });
});

describe('iframe through parse5', () => {
  it('delivers every hostile payload as exactly one script, after 1 KiB of padding', async () => {
    const h = await start();
    const res = await fetch(`${h.url}?transport=iframe&callback=top.cb`);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe("frame-ancestors 'self'");
    const ids = await publishAll(h, HOSTILE_PAYLOADS);
    const last = `"id":"${ids.at(-1)}"`;
    const html = await readUntil(res.body!, (t) => t.includes(last) && t.endsWith('\n'));
    expect(Buffer.byteLength(html.slice(0, html.indexOf('<script>')))).toBeGreaterThanOrEqual(1024);
    const doc = parse(html);
    const body = findElement(doc, 'body')!;
    const elements = body.childNodes.filter((n) => 'tagName' in n);
    expect(elements.map((n) => (n as { tagName: string }).tagName)).toEqual(
      HOSTILE_PAYLOADS.map(() => 'script'),
    );
    const calls = elements.map((n) => textOf(n));
    const prefix = 'parent.top.cb(';
    expect(calls.every((c) => c.startsWith(prefix) && c.endsWith(');'))).toBe(true);
    expect(calls.map((c) => JSON.parse(c.slice(prefix.length, -2)))).toEqual(
      HOSTILE_PAYLOADS.map((data, i) => ({ id: ids[i], channel: 'room:test', data })),
    );
  });
});

describe('iframe postMessage form through parse5', () => {
  it('delivers every hostile payload as one script posting to the one origin', async () => {
    const h = await start();
    const origin = 'https://page.example:8443';
    const res = await fetch(`${h.url}?transport=iframe&callback=top.cb&origin=${origin}`);
    const ids = await publishAll(h, HOSTILE_PAYLOADS);
    const last = `"id":"${ids.at(-1)}"`;
    const html = await readUntil(res.body!, (t) => t.includes(last) && t.endsWith('\n'));
    const body = findElement(parse(html), 'body')!;
    const elements = body.childNodes.filter((n) => 'tagName' in n);
    expect(elements.map((n) => (n as { tagName: string }).tagName)).toEqual(
      HOSTILE_PAYLOADS.map(() => 'script'),
    );
    const prefix = 'parent.postMessage(';
    const calls = elements.map((n) => textOf(n));
    expect(calls.every((c) => c.startsWith(prefix) && c.endsWith(');'))).toBe(true);
    const posted = calls.map((c) => JSON.parse(`[${c.slice(prefix.length, -2)}]`));
    expect(posted).toEqual(
      HOSTILE_PAYLOADS.map((data, i) => [
        { callback: 'top.cb', message: { id: ids[i], channel: 'room:test', data } },
        origin,
      ]),
    );
  });
});

type Node = { nodeName: string; childNodes?: Node[]; value?: string; tagName?: string };

function findElement(node: unknown, tag: string): { childNodes: Node[] } | undefined {
  const n = node as Node;
  if (n.tagName === tag) return n as { childNodes: Node[] };
  for (const child of n.childNodes ?? []) {
    const found = findElement(child, tag);
    if (found) return found;
  }
  return undefined;
}

function textOf(node: unknown): string {
  return ((node as Node).childNodes ?? []).map((c) => c.value ?? '').join('');
}
