import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { type Authorize, comet, createMemoryBus, longpoll, poll } from '../../index.js';
import {
  closeAll,
  expectError,
  getJson,
  LINGER_MS,
  listen,
  rawExchange,
  startChat,
  until,
} from './helpers/server.js';

afterEach(closeAll);

class Guarded {
  @longpoll('/forbidden')
  forbidden(ctx: RouterContext) {
    return ctx.throw(403, 'Members only');
  }

  @poll('/unauthorized')
  unauthorized(ctx: RouterContext) {
    return ctx.throw(401);
  }

  @longpoll('/pair')
  pair() {
    return ['a', 'b'];
  }

  @longpoll('/open')
  open() {
    return 'open';
  }

  @longpoll('/no-jsonp', { jsonp: false })
  noJsonp() {
    return 'open';
  }

  @longpoll('/private', { authorize: (ctx) => ctx.get('X-Token') === 'yes' })
  private() {
    return 'private';
  }
}

async function startGuarded(authorize?: Authorize) {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({
    bus,
    controllers: [Guarded],
    channelLinger: LINGER_MS,
    ...(authorize ? { authorize } : {}),
  });
  app.use(push);
  return listen(app, push, bus);
}

function postBody(base: string, body: string, type = 'application/json') {
  return fetch(`${base}/rooms/lobby/messages`, {
    method: 'POST',
    headers: { 'Content-Type': type },
    body,
  });
}

describe('request parameters', () => {
  it('refuses a malformed cursor with 400 COMET_ERR_CURSOR_MALFORMED', async () => {
    const chat = await startChat();
    for (const cursor of ['garbage', 'm.e30', 'x'.repeat(3000), 'abc-01']) {
      const res = await fetch(`${chat.base}/rooms/lobby/messages?timeout=0&cursor=${cursor}`);
      await expectError(res, 400, 'COMET_ERR_CURSOR_MALFORMED');
    }
    const twice = await fetch(`${chat.base}/rooms/lobby/messages?cursor=a-1&cursor=a-2`);
    await expectError(twice, 400, 'COMET_ERR_CURSOR_MALFORMED');
    expect(chat.push.stats().held).toBe(0);
  });

  it('refuses a malformed combined cursor on a two-channel route', async () => {
    const running = await startGuarded();
    for (const cursor of [
      'a-1',
      'm.!!',
      'm.bm90IGpzb24',
      `m.${Buffer.from('[1]').toString('base64url')}`,
    ]) {
      const res = await fetch(`${running.base}/pair?timeout=0&cursor=${cursor}`);
      await expectError(res, 400, 'COMET_ERR_CURSOR_MALFORMED');
    }
  });

  it('refuses timeouts that are not whole seconds from 0 to the default maxTimeout, 55', async () => {
    const chat = await startChat();
    for (const timeout of ['-1', '56', '60', '61', '1.5', 'abc', '', '1e1', '100', '%201', '055']) {
      const res = await fetch(`${chat.base}/rooms/lobby/messages?timeout=${timeout}`);
      await expectError(res, 400, 'COMET_ERR_TIMEOUT_INVALID');
    }
    const twice = await fetch(`${chat.base}/rooms/lobby/messages?timeout=1&timeout=2`);
    await expectError(twice, 400, 'COMET_ERR_TIMEOUT_INVALID');
  });

  it('answers timeout=0 at once with the cursor', async () => {
    const chat = await startChat();
    const { res, body } = await getJson(chat.base, '/rooms/lobby/messages?timeout=0');
    expect(res.status).toBe(200);
    expect(body.messages).toEqual([]);
    expect(typeof body.cursor).toBe('string');
    expect(chat.push.stats().held).toBe(0);
  });

  it('sends Cache-Control: no-store, no-transform on long-poll answers', async () => {
    const chat = await startChat();
    const res = await fetch(`${chat.base}/rooms/lobby/messages?timeout=0`);
    expect(res.headers.get('cache-control')).toBe('no-store, no-transform');
  });
});

describe('JSONP switched off', () => {
  it('refuses ?callback= with 400 COMET_ERR_JSONP_DISABLED and serves JSON without it', async () => {
    const running = await startGuarded();
    await expectError(
      await fetch(`${running.base}/no-jsonp?timeout=0&callback=cb`),
      400,
      'COMET_ERR_JSONP_DISABLED',
    );
    const res = await fetch(`${running.base}/no-jsonp?timeout=0`);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });
});

describe('publish bodies', () => {
  it('accepts 65,536 bytes of JSON and refuses 65,537 with 413', async () => {
    const chat = await startChat();
    const fits = JSON.stringify('x'.repeat(65_536 - 2));
    expect(Buffer.byteLength(fits)).toBe(65_536);
    const ok = await postBody(chat.base, fits);
    expect(ok.status).toBe(201);
    const { id } = (await ok.json()) as { id: string };
    expect((await chat.bus.read('room:lobby', 'earliest')).messages[0]?.id).toBe(id);

    const over = JSON.stringify('x'.repeat(65_537 - 2));
    const res = await postBody(chat.base, over);
    await expectError(res, 413, 'COMET_ERR_BODY_TOO_LARGE');
    expect((await chat.bus.read('room:lobby', 'earliest')).messages).toHaveLength(1);
  });

  it('refuses an oversized chunked body (no Content-Length) with 413', async () => {
    const chat = await startChat();
    const chunk = JSON.stringify('x'.repeat(70_000));
    const size = Buffer.byteLength(chunk).toString(16);
    const raw = await rawExchange(
      chat.port,
      'POST /rooms/lobby/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${size}\r\n${chunk}\r\n0\r\n\r\n`,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    expect(raw).toMatch(/\r\nContent-Type: application\/json; charset=utf-8\r\n/);
    expect(raw).toContain('"code":"COMET_ERR_BODY_TOO_LARGE"');
  });

  it('refuses a non-JSON content type with 415', async () => {
    const chat = await startChat();
    await expectError(
      await postBody(chat.base, '{"a":1}', 'text/plain'),
      415,
      'COMET_ERR_BODY_UNSUPPORTED_TYPE',
    );
    await expectError(
      await postBody(chat.base, 'a=1', 'application/x-www-form-urlencoded'),
      415,
      'COMET_ERR_BODY_UNSUPPORTED_TYPE',
    );
  });

  it('accepts any JSON value and refuses malformed JSON with 400', async () => {
    const chat = await startChat();
    for (const body of ['1', '"s"', 'null', '[1,2]', '{"a":{"b":[true]}}']) {
      expect((await postBody(chat.base, body)).status).toBe(201);
    }
    for (const body of ['{', '{"a":}', "{'a':1}", '', 'undefined']) {
      await expectError(await postBody(chat.base, body), 400, 'COMET_ERR_BODY_MALFORMED');
    }
  });
});

describe('routes and refusals', () => {
  it('answers an unknown route with 404 JSON', async () => {
    const chat = await startChat();
    await expectError(await fetch(`${chat.base}/nope`), 404, 'COMET_ERR_ROUTE_NOT_FOUND');
    await expectError(
      await fetch(`${chat.base}/rooms/lobby/messages`, { method: 'DELETE' }),
      404,
      'COMET_ERR_ROUTE_NOT_FOUND',
    );
    // A handler's ctx.throw(404) (a bad room name) is the same error.
    await expectError(
      await fetch(`${chat.base}/rooms/no%20such/messages?timeout=0`),
      404,
      'COMET_ERR_ROUTE_NOT_FOUND',
    );
  });

  it('maps a handler ctx.throw(403) and ctx.throw(401) to coded JSON errors', async () => {
    const running = await startGuarded();
    const forbidden = await fetch(`${running.base}/forbidden`);
    expect(forbidden.status).toBe(403);
    const body = (await forbidden.clone().json()) as { error: { message: string } };
    expect(body.error.message).toBe('Members only');
    await expectError(forbidden, 403, 'COMET_ERR_AUTH_FORBIDDEN');
    await expectError(
      await fetch(`${running.base}/unauthorized`),
      401,
      'COMET_ERR_AUTH_UNAUTHORIZED',
    );
    expect(running.push.stats().held).toBe(0);
  });

  it('refuses with 403 when an authorize hook returns false', async () => {
    const running = await startGuarded((_ctx, channels) => !channels.includes('b'));
    await expectError(await fetch(`${running.base}/pair`), 403, 'COMET_ERR_AUTH_FORBIDDEN');
    expect((await fetch(`${running.base}/open?timeout=0`)).status).toBe(200);
    // The per-route hook.
    await expectError(await fetch(`${running.base}/private`), 403, 'COMET_ERR_AUTH_FORBIDDEN');
    const allowed = await fetch(`${running.base}/private?timeout=0`, {
      headers: { 'X-Token': 'yes' },
    });
    expect(allowed.status).toBe(200);
    await until(() => running.bus.subscriberCount() === 0, 1000, 'the linger to end');
  });
});
