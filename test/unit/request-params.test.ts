/**
 * The query string of a comet request: the fast path for plain poll URLs
 * must read exactly what `node:querystring` reads, escapes, repeats, empty
 * segments and its 1,000-key limit included.
 */
import { parse } from 'node:querystring';
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { isCometError } from '../../lib/errors.js';
import { single } from '../../middleware/request-params.js';

/** What `single` answers for `name` on a request for `/r?query`: a value, or the refusal's code. */
function read(query: string, name: string): string | undefined {
  const ctx = { req: { url: `/r?${query}` } } as unknown as Context;
  try {
    return single(ctx, name, 'COMET_ERR_CURSOR_MALFORMED') ?? '(absent)';
  } catch (error) {
    return isCometError(error) ? error.code : String(error);
  }
}

/** The same from `node:querystring`'s own parse. */
function expected(query: string, name: string): string {
  const value = parse(query)[name];
  if (Array.isArray(value)) return 'COMET_ERR_CURSOR_MALFORMED';
  return value ?? '(absent)';
}

const queries = [
  '',
  'cursor=abc-12&timeout=30',
  'cursor=abc-12&cursor=abc-13',
  'cursor',
  'cursor=',
  '=x&cursor=a',
  '&&cursor=a&&',
  'cursor==a',
  'cursor=a;timeout=3',
  'cur%73or=a',
  'cursor=a%2Db',
  'cursor=a+b',
  'cursor=%zz',
  'cursor=a&cur%73or=b',
  '__proto__=x&constructor=y&toString=z',
  `${'&'.repeat(999)}cursor=a`,
  `${'&'.repeat(1000)}cursor=a`,
  `${Array.from({ length: 1000 }, (_, i) => `k${i}=1`).join('&')}&cursor=a`,
];
const names = ['cursor', 'timeout', 'callback', '', '__proto__', 'constructor', 'toString'];

describe('request query parameters', () => {
  it('read what node:querystring reads, for plain and escaped query strings alike', () => {
    for (const query of queries) {
      for (const name of names) {
        expect([query.slice(0, 40), name, read(query, name)]).toEqual([
          query.slice(0, 40),
          name,
          expected(query, name),
        ]);
      }
    }
  });
});
