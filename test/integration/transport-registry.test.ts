/**
 * The transport registry as `@stream` options read it: one list of names shared
 * with the client, an unknown name refused when `comet()` is created (not with a
 * 406 on every request), and the registry in step with the wire-format doc.
 */
import { readFileSync } from 'node:fs';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus, isCometError, stream } from '../../index.js';
import {
  allTransports,
  batchTransports,
  streamRouteTransportNames,
  streamTransports,
} from '../../lib/wire/registry.js';
import { closeAll, listen } from './helpers/server.js';

afterEach(closeAll);

const room = (ctx: RouterContext) => `room:${ctx.params['room']}`;

function creationError(transports: readonly string[]): unknown {
  try {
    // What a JavaScript caller can write: TypeScript refuses these names.
    comet({
      bus: createMemoryBus(),
      routes: [stream('/live/:room', { transports: transports as never }, room)],
    });
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('@stream transports option', () => {
  it('refuses a name no transport has when comet() is created, naming the valid ones', () => {
    for (const names of [['SSE'], ['sse', 'longpoll'], ['eventsource'], []]) {
      const error = creationError(names);
      expect(isCometError(error) && error.code).toBe('COMET_ERR_OPTIONS_INVALID');
      expect(String((error as Error).message)).toContain(streamRouteTransportNames.join(', '));
    }
    expect(String((creationError(['SSE']) as Error).message)).toContain('"SSE"');
  });

  it('is a compile error for a name outside the union', () => {
    // @ts-expect-error 'SSE' is not a transport name (the union is lower case).
    stream('/live', { transports: ['SSE'] }, room);
    // @ts-expect-error 'long-poll' is a batch transport, not one a stream route offers.
    stream('/live', { transports: ['long-poll'] }, room);
    expect(creationError(['websocket'])).toBeUndefined();
  });

  it('serves only the listed transports', async () => {
    const bus = createMemoryBus();
    const app = new Koa();
    const push = comet({
      bus,
      routes: [stream('/live/:room', { transports: ['ndjson'] }, room)],
    });
    app.use(push);
    const running = await listen(app, push, bus);
    const sse = await fetch(`${running.base}/live/a?transport=sse`);
    expect(sse.status).toBe(400);
    expect(await sse.json()).toMatchObject({ error: { code: 'COMET_ERR_TRANSPORT_UNKNOWN' } });
    const ndjson = await fetch(`${running.base}/live/a`, {
      headers: { Accept: 'application/x-ndjson' },
    });
    expect(ndjson.status).toBe(200);
    await ndjson.body?.cancel();
  });
});

describe('the registry', () => {
  it('lists each transport once under its own name, with its kind', () => {
    const names = allTransports.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        'sse',
        'ndjson',
        'multipart',
        'iframe',
        'poll',
        'long-poll',
        'jsonp',
      ]),
    );
    for (const [name, t] of Object.entries(streamTransports)) {
      expect([t.name, t.kind]).toEqual([name, 'stream']);
    }
    for (const [name, t] of Object.entries(batchTransports)) {
      expect([t.name, t.kind]).toEqual([name, 'batch']);
    }
    expect(streamRouteTransportNames).toEqual([...Object.keys(streamTransports), 'websocket']);
  });

  it('has a section in docs/reference/wire-formats.md for every transport', () => {
    const doc = readFileSync(
      new URL('../../docs/reference/wire-formats.md', import.meta.url),
      'utf8',
    );
    const headings = [...doc.matchAll(/^#{2,3} (.+)$/gm)].map((m) => (m[1] ?? '').toLowerCase());
    for (const { name } of allTransports) {
      expect(headings.some((h) => h.startsWith(name))).toBe(true);
    }
  });
});
