import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../index.js';
import { createTestApp } from './helpers/app.js';
import { closeAll, expectError, held, publish, startChat } from './helpers/server.js';

afterEach(closeAll);

const ALLOWED = 'http://a.example';
const FOREIGN = 'http://evil.example';

function accessControl(res: Response): string[] {
  return [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));
}

function preflight(url: string, origin: string): Promise<Response> {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type',
    },
  });
}

describe('CORS', () => {
  it('sends no Access-Control-* header by default (same origin only)', async () => {
    const chat = await startChat();
    const headers = { Origin: FOREIGN };
    const poll = await fetch(`${chat.base}/rooms/lobby/unread`, { headers });
    expect(poll.status).toBe(200);
    expect(accessControl(poll)).toEqual([]);
    const longPoll = await fetch(`${chat.base}/rooms/lobby/messages?timeout=0`, { headers });
    expect(accessControl(longPoll)).toEqual([]);
    const pre = await preflight(`${chat.base}/rooms/lobby/messages`, FOREIGN);
    expect(accessControl(pre)).toEqual([]);
    expect(pre.status).toBe(403);
  });

  it('echoes an allowed Origin with Vary: Origin on poll, long-poll, JSONP and publish', async () => {
    const chat = await startChat({ cors: { origins: [ALLOWED] } });
    const headers = { Origin: ALLOWED };
    const held1 = fetch(`${chat.base}/rooms/lobby/messages?timeout=30`, { headers });
    await held(chat, 1);
    const posted = await fetch(`${chat.base}/rooms/lobby/messages`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: '{"t":1}',
    });
    expect(posted.status).toBe(201);
    const answers = [
      posted,
      await held1,
      await fetch(`${chat.base}/rooms/lobby/unread`, { headers }),
      await fetch(`${chat.base}/rooms/lobby/messages?timeout=0&callback=cb`, { headers }),
    ];
    for (const res of answers) {
      expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
    const longPoll = (await answers[1]!.json()) as { messages: unknown[] };
    expect(longPoll.messages).toHaveLength(1);
  });

  it('lets an allowed origin read error responses', async () => {
    const chat = await startChat({ cors: { origins: [ALLOWED] } });
    const res = await fetch(`${chat.base}/rooms/lobby/messages?cursor=bad`, {
      headers: { Origin: ALLOWED },
    });
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    await expectError(res, 400, 'COMET_ERR_CURSOR_MALFORMED');
  });

  it('does not echo a foreign Origin', async () => {
    const chat = await startChat({ cors: { origins: [ALLOWED] } });
    await publish(chat.bus, 'lobby', 1);
    for (const path of ['/rooms/lobby/unread', '/rooms/lobby/messages?cursor=earliest']) {
      const res = await fetch(chat.base + path, { headers: { Origin: FOREIGN } });
      expect(res.status).toBe(200);
      expect(accessControl(res)).toEqual([]);
    }
  });

  it('answers a preflight from an allowed origin with 204 and the allowed methods and headers', async () => {
    const chat = await startChat({ cors: { origins: [ALLOWED], maxAge: 60 } });
    const res = await preflight(`${chat.base}/rooms/lobby/messages`, ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/\bGET\b/);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain(
      'content-type',
    );
    expect(res.headers.get('access-control-max-age')).toBe('60');
    expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    expect(await res.text()).toBe('');
  });

  it('refuses a preflight from a foreign origin with 403 JSON', async () => {
    const chat = await startChat({ cors: { origins: [ALLOWED] } });
    const res = await preflight(`${chat.base}/rooms/lobby/messages`, FOREIGN);
    expect(accessControl(res)).toEqual([]);
    await expectError(res, 403, 'COMET_ERR_ORIGIN_FORBIDDEN');
  });

  it("answers '*' without credentials with a literal *", async () => {
    const chat = await startChat({ cors: { origins: ['*'] } });
    const res = await fetch(`${chat.base}/rooms/lobby/unread`, { headers: { Origin: FOREIGN } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('sends credentials only for a listed origin', async () => {
    const chat = await startChat({ cors: { origins: [ALLOWED], credentials: true } });
    const ok = await fetch(`${chat.base}/rooms/lobby/unread`, { headers: { Origin: ALLOWED } });
    expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    const other = await fetch(`${chat.base}/rooms/lobby/unread`, { headers: { Origin: FOREIGN } });
    expect(accessControl(other)).toEqual([]);
  });

  it("refuses '*' with credentials when the middleware is created", () => {
    expect(() =>
      createTestApp({ bus: createMemoryBus(), cors: { origins: ['*'], credentials: true } }),
    ).toThrow(expect.objectContaining({ code: 'COMET_ERR_OPTIONS_INVALID' }));
  });
});
