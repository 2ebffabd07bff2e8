/**
 * CORS `allowHeaders`, `exposeHeaders` and `maxAge` (issue 10, finding 5):
 * a bearer-token client's preflight (`Access-Control-Request-Headers:
 * authorization`) is allowed only when the app lists `Authorization`; the
 * defaults stay same-origin only. (The browser's own verdict on the same
 * preflight is in `test/browser/sse-clients.test.ts`.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { comet, createMemoryBus } from '../../index.js';
import { closeAll, startChat } from './helpers/server.js';

afterEach(closeAll);

const PAGE = 'https://app.example';

function preflight(base: string, requestHeaders: string): Promise<Response> {
  return fetch(`${base}/rooms/lobby/live`, {
    method: 'OPTIONS',
    headers: {
      Origin: PAGE,
      'Access-Control-Request-Method': 'GET',
      'Access-Control-Request-Headers': requestHeaders,
    },
  });
}

/** The header names of a comma-separated list, lower-cased. */
function names(value: string | null): string[] {
  return (value ?? '').split(',').map((name) => name.trim().toLowerCase());
}

describe('CORS allowHeaders / exposeHeaders / maxAge', () => {
  it('allows Authorization in a preflight when listed, keeping the default headers', async () => {
    const chat = await startChat({
      cors: { origins: [PAGE], allowHeaders: ['Authorization', 'X-Client'], maxAge: 86_400 },
    });
    const res = await preflight(chat.base, 'authorization,last-event-id');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(names(res.headers.get('access-control-allow-headers'))).toEqual([
      'content-type',
      'last-event-id',
      'if-none-match',
      'authorization',
      'x-client',
    ]);
    expect(res.headers.get('access-control-max-age')).toBe('86400');
  });

  it('does not allow Authorization by default', async () => {
    const chat = await startChat({ cors: { origins: [PAGE] } });
    const res = await preflight(chat.base, 'authorization');
    expect(names(res.headers.get('access-control-allow-headers'))).not.toContain('authorization');
    expect(res.headers.get('access-control-max-age')).toBe('600');
  });

  it("allows Authorization under '*' too: a header a script sets is not a credential", async () => {
    const chat = await startChat({ cors: { origins: ['*'], allowHeaders: ['Authorization'] } });
    const res = await preflight(chat.base, 'authorization');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(names(res.headers.get('access-control-allow-headers'))).toContain('authorization');
  });

  it('exposes the listed response headers besides ETag', async () => {
    const chat = await startChat({ cors: { origins: [PAGE], exposeHeaders: ['X-Request-Id'] } });
    const res = await fetch(`${chat.base}/rooms/lobby/unread`, { headers: { Origin: PAGE } });
    expect(res.status).toBe(200);
    expect(names(res.headers.get('access-control-expose-headers'))).toEqual([
      'etag',
      'x-request-id',
    ]);
  });

  it('stays same-origin only by default: no Access-Control-* header at all', async () => {
    const chat = await startChat();
    const res = await preflight(chat.base, 'authorization');
    expect(res.status).toBe(403);
    expect([...res.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('refuses an invalid header name or maxAge when the middleware is created', () => {
    const bus = createMemoryBus();
    for (const cors of [
      { origins: [PAGE], allowHeaders: ['Authorization\r\nX-Evil: 1'] },
      { origins: [PAGE], exposeHeaders: ['two words'] },
      { origins: [PAGE], maxAge: -1 },
      { origins: [PAGE], maxAge: 1.5 },
    ]) {
      expect(() => comet({ bus, cors })).toThrow(
        expect.objectContaining({
          code: 'COMET_ERR_OPTIONS_INVALID',
        }),
      );
    }
  });
});
