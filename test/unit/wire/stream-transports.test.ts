import { describe, expect, it } from 'vitest';
import { isCometError } from '../../../lib/base/errors.js';
import type { Message } from '../../../lib/bus/bus.js';
import {
  iframeTransport,
  iframeVariant,
  isSerializedOrigin,
  scriptSafeJson,
} from '../../../lib/wire/iframe.js';
import { createMultipartTransport, multipartTransport } from '../../../lib/wire/multipart.js';
import { ndjsonTransport } from '../../../lib/wire/ndjson.js';
import { sseTransport } from '../../../lib/wire/sse.js';
import { envelopeJson } from '../../../lib/wire/stream-transport.js';
import { encodeWebSocketFrame, encodeWebSocketReset } from '../../../lib/wire/websocket.js';
import { HOSTILE_PAYLOADS } from '../../fixtures/hostile-payloads.js';

const msg = (data: unknown, id = 'e1-7'): Message => ({ id, channel: 'room:a', data, time: 0 });

const HOSTILE = HOSTILE_PAYLOADS;

describe('envelope', () => {
  it('is exactly {"id","channel","data"} in that order', () => {
    expect(envelopeJson({ data: 1, time: 5, channel: 'c', id: 'i' } as Message)).toBe(
      '{"id":"i","channel":"c","data":1}',
    );
  });
  it('keeps the data key when data is undefined', () => {
    expect(envelopeJson(msg(undefined))).toBe('{"id":"e1-7","channel":"room:a","data":null}');
  });
});

describe('SSE bytes', () => {
  it('encodes id, data and a blank line', () => {
    expect(sseTransport.encode(msg({ a: 1 }), '').toString()).toBe(
      'id: e1-7\ndata: {"id":"e1-7","channel":"room:a","data":{"a":1}}\n\n',
    );
  });
  it('encodes the gap as event: reset carrying the head as id', () => {
    expect(sseTransport.encodeReset('e1-9', '').toString()).toBe(
      'event: reset\nid: e1-9\ndata: {"gap":true,"cursor":"e1-9"}\n\n',
    );
  });
  it.each(HOSTILE.map((d) => [d]))('one event, one data line for %j', (data) => {
    const text = sseTransport.encode(msg(data), '').toString();
    const lines = text.split(/\r\n|\r|\n/);
    expect(lines.slice(-2)).toEqual(['', '']);
    expect(lines.slice(0, -2).map((l) => l.split(':')[0])).toEqual(['id', 'data']);
    expect(JSON.parse(lines[1]!.slice('data: '.length)).data).toEqual(data ?? null);
  });
  it('splits a value with line breaks into data lines, so no field is forged', () => {
    const text = sseTransport.encode(msg(0), '', 'a\r\nevent: x\rb\nc').toString();
    expect(text).toBe('id: e1-7\ndata: a\ndata: event: x\ndata: b\ndata: c\n\n');
  });
  it('omits an id that is not line-safe', () => {
    for (const id of ['a\nb', 'a\rb', 'a\u0000b', 'é']) {
      expect(sseTransport.encode(msg(1, id), '').toString()).toMatch(/^data: /);
    }
  });
});

describe('NDJSON bytes', () => {
  it('is one envelope per line', () => {
    expect(ndjsonTransport.encode(msg('x'), '').toString()).toBe(
      '{"id":"e1-7","channel":"room:a","data":"x"}\n',
    );
    expect(ndjsonTransport.encodeReset('e1-9', '').toString()).toBe(
      '{"gap":true,"cursor":"e1-9"}\n',
    );
  });
  it.each(HOSTILE.map((d) => [d]))('exactly one line for %j', (data) => {
    const text = ndjsonTransport.encode(msg(data), '').toString();
    expect(text.indexOf('\n')).toBe(text.length - 1);
    expect(text.includes('\r')).toBe(false);
    expect(JSON.parse(text).data).toEqual(data);
  });
});

describe('multipart bytes', () => {
  it('is a part with Content-Type, Comet-Id and the envelope', () => {
    expect(multipartTransport.encode(msg(1), '').toString()).toBe(
      'Content-Type: application/json\r\nComet-Id: e1-7\r\n\r\n{"id":"e1-7","channel":"room:a","data":1}',
    );
    expect(multipartTransport.encodeReset('e1-9', '').toString()).toBe(
      'Content-Type: application/json\r\nComet-Id: e1-9\r\n\r\n{"gap":true,"cursor":"e1-9"}',
    );
  });
  it.each(HOSTILE.map((d) => [d]))('never contains CRLF-- for %j', (data) => {
    const part = multipartTransport.encode(msg(data), '');
    expect(part.includes('\r\n--')).toBe(false);
    const body = part.subarray(part.indexOf('\r\n\r\n') + 4).toString();
    expect(JSON.parse(body).data).toEqual(data);
  });
  it('checks the invariant: a body that would hold a delimiter throws', () => {
    expect(() => multipartTransport.encode(msg(1), '', '"\r\n--x"')).toThrow(/delimiter/);
  });
  it('drops an id header that is not line-safe', () => {
    expect(multipartTransport.encode(msg(1, 'a\r\n--b'), '').toString()).not.toContain('Comet-Id');
  });
  it('refuses a boundary outside RFC 2046 bchars', () => {
    const bad = createMultipartTransport({ boundary: () => 'a"b' });
    // biome-ignore lint/suspicious/noExplicitAny: open validates before touching res
    expect(() => bad.open({} as any, { variant: '' })).toThrow(/boundary/);
  });
});

describe('iframe bytes', () => {
  it('is one script calling parent.NAME', () => {
    expect(iframeTransport.encode(msg('<b>&'), 'cb.on').toString()).toBe(
      '<script>parent.cb.on({"id":"e1-7","channel":"room:a","data":"\\u003cb\\u003e\\u0026"});</script>\n',
    );
    expect(iframeTransport.encodeReset('e1-9', 'cb').toString()).toBe(
      '<script>parent.cb({"gap":true,"cursor":"e1-9"});</script>\n',
    );
  });
  it.each(HOSTILE.map((d) => [d]))('cannot break out for %j', (data) => {
    const text = iframeTransport.encode(msg(data), 'cb').toString();
    const inner = text.slice('<script>'.length, -'</script>\n'.length);
    expect(inner).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(inner.slice('parent.cb('.length, -2)).data).toEqual(data);
  });
  it('escapes exactly <, >, &, U+2028 and U+2029', () => {
    expect(scriptSafeJson('"<>&\u2028\u2029é"')).toBe('"\\u003c\\u003e\\u0026\\u2028\\u2029é"');
  });
  it('refuses a callback name that is not an identifier path', () => {
    for (const name of ['', 'a(1)', 'x;alert(1)', '</script>']) {
      let error: unknown;
      try {
        iframeTransport.encode(msg(1), name);
      } catch (e) {
        error = e;
      }
      expect(isCometError(error) && error.code).toBe('COMET_ERR_CALLBACK_INVALID');
    }
  });
});

describe('iframe postMessage form (cross-origin parent)', () => {
  const variant = iframeVariant('cb', 'http://127.0.0.1:8080');
  it('posts {callback, message} to the parent, aimed at one origin', () => {
    expect(variant).toBe('cb http://127.0.0.1:8080');
    expect(iframeTransport.encode(msg('<b>&'), variant).toString()).toBe(
      '<script>parent.postMessage({"callback":"cb","message":{"id":"e1-7","channel":"room:a","data":"\\u003cb\\u003e\\u0026"}},"http://127.0.0.1:8080");</script>\n',
    );
    expect(iframeTransport.encodeReset('e1-9', variant).toString()).toBe(
      '<script>parent.postMessage({"callback":"cb","message":{"gap":true,"cursor":"e1-9"}},"http://127.0.0.1:8080");</script>\n',
    );
  });
  it.each(HOSTILE.map((d) => [d]))('cannot break out for %j', (data) => {
    const text = iframeTransport.encode(msg(data), variant).toString();
    const inner = text.slice('<script>'.length, -'</script>\n'.length);
    expect(inner).not.toMatch(/[<>&\u2028\u2029]/);
    const args = inner.slice('parent.postMessage('.length, -2);
    const [posted, target] = JSON.parse(`[${args}]`) as [{ message: { data: unknown } }, string];
    expect(posted.message.data).toEqual(data);
    expect(target).toBe('http://127.0.0.1:8080');
  });
  it('accepts serialized origins only', () => {
    for (const ok of ['http://a.com', 'https://a.b-c.example:8443', 'http://[::1]:3000']) {
      expect([ok, isSerializedOrigin(ok)]).toEqual([ok, true]);
    }
    const bad = [
      '',
      'null',
      '*',
      'http://a.com/',
      'http://a.com/x',
      'http://A.com',
      'http://a.com:80',
      'https://a.com:443',
      'http://a.com:99999',
      'ftp://a.com',
      'http://a"b.com',
      'http://a.com");alert(1)//',
      'http://a.com</script>',
      'http://a.com\u2028',
      'http://a.com cb',
      'http://user@a.com',
    ];
    for (const origin of bad) {
      expect([origin, isSerializedOrigin(origin)]).toEqual([origin, false]);
      let error: unknown;
      try {
        iframeVariant('cb', origin);
      } catch (e) {
        error = e;
      }
      expect(isCometError(error) && error.code).toBe('COMET_ERR_ORIGIN_FORBIDDEN');
    }
  });
  it('re-checks a variant built by hand before writing it', () => {
    for (const forged of [
      'cb http://a.com");alert(1)//',
      'a(1) http://a.com',
      'cb  http://a.com',
    ]) {
      expect(() => iframeTransport.encode(msg(1), forged)).toThrow();
    }
  });
});

describe('WebSocket frames', () => {
  it('is the bare envelope, and the gap control frame', () => {
    expect(encodeWebSocketFrame(msg([1])).toString()).toBe(
      '{"id":"e1-7","channel":"room:a","data":[1]}',
    );
    expect(encodeWebSocketReset('e1-9').toString()).toBe('{"gap":true,"cursor":"e1-9"}');
  });
});
