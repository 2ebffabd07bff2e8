/**
 * The query reader of every comet route reads a parameter exactly as
 * `node:querystring` would (decoding, bare keys, repeats), without parsing
 * the whole query, one name or several in one pass; and the timeout parser
 * takes only whole seconds.
 */
import { parse } from 'node:querystring';
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { isCometError } from '../../../lib/base/errors.js';
import { readQuery, single, timeoutOf } from '../../../middleware/request-params.js';

const ctxOf = (url: string) => ({ req: { url } }) as unknown as Context;

/** What `single` must answer: `node:querystring`'s reading of the same URL. */
function expected(url: string, name: string): string | undefined | 'repeat' {
  const q = url.indexOf('?');
  const value = q === -1 ? undefined : parse(url.slice(q + 1))[name];
  return Array.isArray(value) ? 'repeat' : value;
}

function actual(url: string, name: string): string | undefined | 'repeat' {
  try {
    return single(ctxOf(url), name, 'COMET_ERR_CURSOR_MALFORMED');
  } catch (error) {
    if (isCometError(error) && error.code === 'COMET_ERR_CURSOR_MALFORMED') return 'repeat';
    throw error;
  }
}

/** Every name at once, in one pass ({@link readQuery}), answered like {@link expected}. */
function readAll(url: string, names: readonly string[]) {
  const values: (string | undefined)[] = names.map(() => 'stale');
  const repeated = readQuery(url, names, values);
  return names.map((_, i) => ((repeated >> i) & 1 ? 'repeat' : values[i]));
}

describe('single', () => {
  const urls = [
    '/r',
    '/r?',
    '/r?cursor=a1-2',
    '/r?cursor=a1-2&timeout=30',
    '/r?timeout=30&cursor=a1-2&callback=cb',
    '/r?cursor',
    '/r?cursor=',
    '/r?cursor=&cursor=x',
    '/r?cursor=a&cursor=b',
    '/r?cursors=a&xcursor=b&cursor=c',
    '/r?%63ursor=enc',
    '/r?cur+sor=space',
    '/r?cursor=a%2Db+c',
    '/r?cursor=%E0%A4%A',
    '/r?cursor=%zz',
    '/r?&&cursor=x&&',
    '/r?=x&cursor=a=b=c',
    '/r?cursor=%26&timeout=%3D',
    '/r?lastEventId=e1-5&cursor=e1-2',
    '/r?cursor=a#frag',
  ];
  it.each(urls)('reads %s as node:querystring does', (url) => {
    for (const name of ['cursor', 'timeout', 'callback', 'lastEventId', 'cur sor', '']) {
      expect(actual(url, name), `${url} ${name}`).toEqual(expected(url, name));
    }
  });

  it('agrees with node:querystring on generated queries', () => {
    const parts = [
      'cursor',
      'timeout',
      'c',
      '%63ursor',
      'cur+sor',
      '=',
      '&',
      '%',
      '+',
      'a',
      '%2B',
      '%26',
      '%3D',
      'é',
    ];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 3000; i++) {
      let query = '';
      const n = next() % 9;
      for (let j = 0; j < n; j++) query += parts[next() % parts.length];
      const url = `/r?${query}`;
      const names = ['cursor', 'timeout', 'c', 'cur sor', 'a'];
      for (const name of names) {
        expect(actual(url, name), `${url} ${name}`).toEqual(expected(url, name));
      }
      expect(readAll(url, names), url).toEqual(names.map((name) => expected(url, name)));
    }
  });
});

describe('readQuery', () => {
  const names = ['callback', 'timeout', 'lastEventId', 'cursor', '', 'cur sor'];
  it('reads several names in one pass as node:querystring does, repeats flagged per name', () => {
    const urls = [
      '/r',
      '/r?cursor=a1-2&timeout=30&callback=cb',
      '/r?cursor=a&cursor=b&timeout=1',
      '/r?timeout=1&timeout=2&lastEventId=x&%63ursor=y&cur+sor=z&=e',
      '/r?callback&lastEventId=&cursor=%26&cursor=',
    ];
    for (const url of urls) {
      expect(readAll(url, names), url).toEqual(names.map((name) => expected(url, name)));
    }
    expect(readAll('/r?timeout=1&timeout=2&cursor=c', names)).toEqual([
      undefined,
      'repeat',
      undefined,
      'c',
      undefined,
      undefined,
    ]);
  });
});

describe('timeoutOf', () => {
  const read = (value: string) => {
    try {
      return timeoutOf(ctxOf(`/r?timeout=${value}`), 25, 55);
    } catch (error) {
      return isCometError(error) ? error.code : error;
    }
  };
  it('takes 0 and whole seconds up to the maximum', () => {
    expect(read('0')).toBe(0);
    expect(read('1')).toBe(1000);
    expect(read('55')).toBe(55_000);
    expect(timeoutOf(ctxOf('/r'), 25, 55)).toBe(25_000);
  });
  it.each(['56', '', '00', '01', '-1', '1.5', '1e1', ' 5', '5 ', '0x1', '99999', 'NaN', '%35'])(
    'refuses %j',
    (value) => {
      // '%35' decodes to '5' (as querystring reads it): accepted like 5.
      if (value === '%35') expect(read(value)).toBe(5000);
      else expect(read(value)).toBe('COMET_ERR_TIMEOUT_INVALID');
    },
  );
});
