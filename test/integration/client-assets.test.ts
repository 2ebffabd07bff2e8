import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildClient } from '../../client/build.js';
import { serveClient } from '../../middleware/client-assets.js';

let server: Server | undefined;

async function start(app: Koa): Promise<string> {
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((ready) => server?.once('listening', ready));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function appWith(prefix?: string): Koa {
  const app = new Koa();
  app.use(serveClient(prefix === undefined ? {} : { prefix }));
  app.use((ctx) => {
    ctx.body = 'next';
  });
  return app;
}

beforeAll(async () => {
  await buildClient();
});

afterEach(async () => {
  await new Promise((done) => server?.close(done));
  server = undefined;
});

describe('serveClient', () => {
  it('serves the ES module and the script-tag build as JavaScript with revalidation', async () => {
    const base = await start(appWith());
    for (const name of ['koa-comet.js', 'koa-comet.iife.js']) {
      const res = await fetch(`${base}/comet/${name}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const text = await res.text();
      expect(text).toContain(`sourceMappingURL=${name}.map`);
      const again = await fetch(`${base}/comet/${name}`, {
        // An explicit Cache-Control, as a browser's revalidation sends: undici adds
        // `no-cache` to conditional requests otherwise, which forbids a 304.
        headers: { 'If-None-Match': res.headers.get('etag') ?? '', 'Cache-Control': 'max-age=0' },
      });
      expect(again.status).toBe(304);
    }
    const esm = await (await fetch(`${base}/comet/koa-comet.js`)).text();
    expect(esm).toMatch(/export\s*\{[^}]*subscribe/);
    const iife = await (await fetch(`${base}/comet/koa-comet.iife.js`)).text();
    expect(iife).toMatch(/^("use strict";)?var KoaComet=/);
  });

  it('serves the source maps as JSON', async () => {
    const base = await start(appWith());
    const res = await fetch(`${base}/comet/koa-comet.js.map`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const map = (await res.json()) as { version: number; sources: string[] };
    expect(map.version).toBe(3);
    expect(map.sources.some((s) => s.endsWith('client/index.ts'))).toBe(true);
  });

  it('answers 404 with a JSON error for anything else under the prefix', async () => {
    const base = await start(appWith());
    for (const path of ['/comet/', '/comet/build.ts', '/comet/../package.json', '/comet/x.js']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(path === '/comet/../package.json' ? 200 : 404);
      if (res.status === 404) {
        expect(await res.json()).toEqual({
          error: { code: 'COMET_ERR_ROUTE_NOT_FOUND', message: 'No such route' },
        });
      }
    }
  });

  it('refuses other methods on a bundle and passes other paths through', async () => {
    const base = await start(appWith('/assets/'));
    const post = await fetch(`${base}/assets/koa-comet.js`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(await (await fetch(`${base}/assets/koa-comet.js`)).text()).toMatch(/export\s*\{/);
    expect(await (await fetch(`${base}/comet/koa-comet.js`)).text()).toBe('next');
    expect(await (await fetch(`${base}/other`)).text()).toBe('next');
  });
});
