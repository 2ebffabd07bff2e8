/**
 * The client's connection state machine without a browser: fake transports driven by
 * the test, `fetch` stubbed for the probes, a fake clock. Covers what a refusal does
 * (a malformed cursor is a gap, other refusals stop and are reported) and the opening
 * deadline (a transport that never opens steps down, with the reason).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ConnectionOptions, createConnection } from '../../../client/connection.js';
import type {
  ClientTransport,
  TransportRequest,
  TransportSink,
} from '../../../client/transports/transport.js';
import type { ResetInfo, Status, TransportName } from '../../../client/types.js';

const names: readonly TransportName[] = [
  'websocket',
  'sse',
  'ndjson',
  'long-poll',
  'jsonp',
  'iframe',
];

/** One open() of a fake transport: what it was asked, and its sink to drive. */
interface Attempt {
  readonly name: TransportName;
  readonly cursor: string | null;
  readonly sink: TransportSink;
  closed: boolean;
}

function fakeRegistry(attempts: Attempt[]): Record<TransportName, ClientTransport> {
  const make = (name: TransportName): ClientTransport => ({
    name,
    kind: name === 'long-poll' || name === 'jsonp' ? 'batch' : 'stream',
    isSupported: () => true,
    open(request: TransportRequest) {
      const attempt: Attempt = {
        name,
        cursor: request.cursor(),
        sink: request.sink,
        closed: false,
      };
      attempts.push(attempt);
      return {
        close() {
          attempt.closed = true;
        },
      };
    },
  });
  return Object.fromEntries(names.map((n) => [n, make(n)])) as Record<
    TransportName,
    ClientTransport
  >;
}

type Answer = { status: number; body: unknown } | 'hang';

/** Stubs `fetch`: `answer(url)` decides; records every URL asked. */
function stubFetch(answer: (url: URL) => Answer): URL[] {
  const asked: URL[] = [];
  vi.stubGlobal('fetch', (input: string, init?: RequestInit) => {
    const url = new URL(input);
    asked.push(url);
    const a = answer(url);
    if (a === 'hang') {
      return new Promise((_, fail) =>
        init?.signal?.addEventListener('abort', () => fail(new Error('aborted'))),
      );
    }
    return Promise.resolve(
      new Response(JSON.stringify(a.body), {
        status: a.status,
        headers: { 'content-type': 'application/json' },
      }),
    );
  });
  return asked;
}

const malformed = {
  status: 400,
  body: { error: { code: 'COMET_ERR_CURSOR_MALFORMED', message: 'bad cursor' } },
};
const headBatch = { status: 200, body: { messages: [], cursor: 'h7', gap: false } };

function connect(overrides: Partial<ConnectionOptions> & { transports: TransportName[] }) {
  const attempts: Attempt[] = [];
  const statuses: Status[] = [];
  const resets: ResetInfo[] = [];
  const connection = createConnection(
    {
      streamUrl: 'http://app.test/rooms/x/live',
      longpollUrl: 'http://app.test/rooms/x/messages',
      cursor: null,
      backoff: { initialDelayMs: 100, maxDelayMs: 100 },
      bufferingDeadlineMs: 0,
      openTimeoutMs: 10_000,
      longpollTimeoutS: 25,
      withCredentials: false,
      memory: { load: () => null, save: () => {} },
      registry: fakeRegistry(attempts),
      ...overrides,
    },
    {
      envelope: () => {},
      reset: (info) => resets.push(info),
      status: (status) => statuses.push(status),
    },
  );
  return { connection, attempts, statuses, resets };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('client connection: a malformed cursor is a gap', () => {
  for (const name of ['websocket', 'sse', 'jsonp', 'iframe'] as const) {
    it(`${name}: a failed open whose probe says CURSOR_MALFORMED resets to the head and reconnects`, async () => {
      const asked = stubFetch((url) =>
        url.searchParams.get('cursor') === 'garbage' ? malformed : headBatch,
      );
      const { attempts, statuses, resets, connection } = connect({
        transports: [name, 'ndjson'],
        cursor: 'garbage',
      });
      expect(attempts.map((a) => a.cursor)).toEqual(['garbage']);
      attempts[0]?.sink.end({ kind: 'failed', detail: 'handshake failed' });
      await vi.advanceTimersByTimeAsync(0);
      // The probe asked the refused request itself, cursor included.
      expect(asked[0]?.searchParams.get('cursor')).toBe('garbage');
      expect(resets).toEqual([{ cursor: 'h7', previousCursor: 'garbage', transport: name }]);
      expect(attempts.map((a) => [a.name, a.cursor])).toEqual([
        [name, 'garbage'],
        [name, 'h7'],
      ]);
      expect(statuses.some((s) => s.kind === 'fallback' || s.kind === 'refused')).toBe(false);
      expect(connection.cursor).toBe('h7');
      connection.close();
    });
  }

  it('a transport that reads the 400 itself (ndjson, long-poll) needs no probe', async () => {
    const asked = stubFetch(() => headBatch);
    const { attempts, resets, connection } = connect({ transports: ['ndjson'], cursor: 'bad' });
    attempts[0]?.sink.end({
      kind: 'refused',
      status: 400,
      code: 'COMET_ERR_CURSOR_MALFORMED',
      message: null,
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(asked.map((u) => u.pathname)).toEqual(['/rooms/x/messages']);
    expect(resets).toEqual([{ cursor: 'h7', previousCursor: 'bad', transport: 'ndjson' }]);
    expect(attempts.map((a) => a.cursor)).toEqual(['bad', 'h7']);
    connection.close();
  });

  it('the head refused again stops with the code instead of looping', async () => {
    stubFetch(() => malformed);
    const { attempts, statuses, resets } = connect({ transports: ['sse'], cursor: 'bad' });
    attempts[0]?.sink.end({ kind: 'failed', detail: 'x' });
    await vi.advanceTimersByTimeAsync(0);
    expect(resets).toHaveLength(1);
    attempts[1]?.sink.end({ kind: 'failed', detail: 'x' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempts).toHaveLength(2);
    expect(statuses.at(-1)).toEqual({
      kind: 'refused',
      transport: 'sse',
      status: 400,
      code: 'COMET_ERR_CURSOR_MALFORMED',
      message: 'bad cursor',
    });
  });
});

describe('client connection: refusals', () => {
  it('an unknown route (404 with a code) stops and reports the code; nothing retries', async () => {
    stubFetch(() => ({
      status: 404,
      body: { error: { code: 'COMET_ERR_ROUTE_NOT_FOUND', message: 'No such route' } },
    }));
    const { attempts, statuses } = connect({ transports: ['websocket', 'sse'] });
    await vi.advanceTimersByTimeAsync(0);
    attempts[0]?.sink.end({ kind: 'failed', detail: 'x' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempts).toHaveLength(1);
    expect(statuses.at(-1)).toEqual({
      kind: 'refused',
      transport: 'websocket',
      status: 404,
      code: 'COMET_ERR_ROUTE_NOT_FOUND',
      message: 'No such route',
    });
  });

  it('a refusal of the transport only (JSONP off) falls back instead', async () => {
    stubFetch(() => ({ status: 400, body: { error: { code: 'COMET_ERR_JSONP_DISABLED' } } }));
    const { attempts, statuses, connection } = connect({
      transports: ['jsonp', 'iframe'],
      cursor: 'c1',
    });
    attempts[0]?.sink.end({ kind: 'failed', detail: 'x' });
    await vi.advanceTimersByTimeAsync(0);
    expect(statuses).toContainEqual({
      kind: 'fallback',
      from: 'jsonp',
      to: 'iframe',
      reason: 'failed',
    });
    expect(attempts.map((a) => a.name)).toEqual(['jsonp', 'iframe']);
    connection.close();
  });
});

describe('client connection: opening deadline', () => {
  it('a stream that never opens, with no batch route after it, fails by timeout', async () => {
    stubFetch(() => headBatch);
    const { attempts, statuses, connection } = connect({
      transports: ['websocket', 'sse'],
      cursor: 'c1',
      openTimeoutMs: 3_000,
    });
    await vi.advanceTimersByTimeAsync(2_999);
    expect(attempts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(attempts[0]?.closed).toBe(true);
    expect(statuses).toContainEqual({
      kind: 'fallback',
      from: 'websocket',
      to: 'sse',
      reason: 'timeout',
    });
    expect(attempts.map((a) => a.name)).toEqual(['websocket', 'sse']);
    connection.close();
  });

  it('a stream that never opens while the batch route answers is held: steps down to long-poll', async () => {
    const asked = stubFetch(() => headBatch);
    const { attempts, statuses, connection } = connect({
      transports: ['websocket', 'sse', 'ndjson', 'long-poll'],
      cursor: 'c1',
    });
    await vi.advanceTimersByTimeAsync(10_010);
    expect(asked.at(-1)?.searchParams.get('timeout')).toBe('0');
    expect(statuses).toContainEqual({
      kind: 'fallback',
      from: 'websocket',
      to: 'long-poll',
      reason: 'buffering',
    });
    expect(attempts.map((a) => a.name)).toEqual(['websocket', 'long-poll']);
    connection.close();
  });

  it('the batch route silent too: a timeout, to the next transport in order', async () => {
    stubFetch(() => 'hang');
    const { attempts, statuses, connection } = connect({
      transports: ['sse', 'ndjson', 'long-poll'],
      cursor: 'c1',
    });
    await vi.advanceTimersByTimeAsync(10_000 + 5_010);
    expect(statuses).toContainEqual({
      kind: 'fallback',
      from: 'sse',
      to: 'ndjson',
      reason: 'timeout',
    });
    expect(attempts.map((a) => a.name)).toEqual(['sse', 'ndjson']);
    connection.close();
  });

  it('an open transport is never timed out; a long-poll gets its hold on top', async () => {
    stubFetch(() => headBatch);
    const { attempts, statuses, connection } = connect({
      transports: ['long-poll', 'jsonp'],
      cursor: 'c1',
    });
    await vi.advanceTimersByTimeAsync(25_000 + 9_999);
    expect(attempts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(statuses).toContainEqual({
      kind: 'fallback',
      from: 'long-poll',
      to: 'jsonp',
      reason: 'timeout',
    });
    attempts[1]?.sink.open();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(attempts).toHaveLength(2);
    expect(attempts[1]?.closed).toBe(false);
    connection.close();
  });
});

describe('client connection: no reconnect loop on streams that end at once', () => {
  it('a stream that opens and ends before any sign of life backs off, growing', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    stubFetch(() => headBatch);
    const { attempts, statuses, connection } = connect({
      transports: ['ndjson'],
      cursor: 'c1',
      backoff: { initialDelayMs: 100, maxDelayMs: 10_000 },
    });
    for (let i = 0; i < 3; i += 1) {
      attempts[i]?.sink.open();
      attempts[i]?.sink.end({ kind: 'clean' });
      await vi.advanceTimersByTimeAsync(1_000);
    }
    const delays = statuses.flatMap((s) => (s.kind === 'reconnecting' ? [s.delayMs] : []));
    expect(delays).toEqual([99, 198, 396]);
    connection.close();
    vi.restoreAllMocks();
  });

  it('a stream that delivered something and ended cleanly resumes at once', async () => {
    stubFetch(() => headBatch);
    const { attempts, statuses, connection } = connect({ transports: ['ndjson'], cursor: 'c1' });
    attempts[0]?.sink.open();
    attempts[0]?.sink.activity();
    attempts[0]?.sink.end({ kind: 'clean' });
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts).toHaveLength(2);
    expect(statuses.some((s) => s.kind === 'reconnecting')).toBe(false);
    connection.close();
  });
});
