/**
 * Multi-node: two demo processes (`examples/chat/server.ts`, real child
 * processes on 127.0.0.1 port 0) sharing one Redis (`REDIS_URL`, default the
 * local one). Any node answers any poll or stream: a message published on A
 * reaches B's long-polls and SSE streams, a cursor issued by A resumes on B,
 * and when B dies mid-sequence its client moves to A with its last cursor and
 * loses or repeats nothing.
 *
 * The demo uses the default `comet:` key prefix, so every test uses its own
 * random room and the keys of those rooms are deleted afterwards. Outside CI
 * an unreachable Redis skips the file with a loud warning; under `CI=true` it
 * fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deleteRedisKeys, redisAnswers, redisUrl as url, withRedis } from '../helpers/redis.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = `mn-${randomBytes(4).toString('hex')}`;

interface Node {
  readonly base: string;
  readonly child: ChildProcess;
  /** What the process wrote to stderr so far, for failure messages. */
  stderr(): string;
}
interface Batch {
  messages: { id: string; channel: string; data: unknown }[];
  cursor: string;
  gap: boolean;
}

const children = new Set<ChildProcess>();
const cleanups: (() => void)[] = [];
let rooms = 0;

/** Rejects after `ms` with `what` in the message; the timer never holds the process. */
function deadline(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => {
    setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref();
  });
}

/** Polls `check` every 10 ms until true, failing after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts one demo process on the shared Redis and waits for its log line. */
async function startNode(): Promise<Node> {
  // `node --import tsx` rather than `npx tsx`: the pid we kill is the server itself.
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/chat/server.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', REDIS_URL: url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const listening = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on http:\/\/localhost:(\d+)\/ \(Redis bus/.exec(out);
      if (match?.[1]) resolve(`http://127.0.0.1:${match[1]}`);
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`exited ${code ?? signal} before listening: ${stderr}`)),
    );
  });
  const base = await Promise.race([listening, deadline(15_000, `node to listen: ${stderr}`)]);
  return { base, child, stderr: () => stderr };
}

/** SIGKILLs `child` by its pid and waits (bounded) until it is gone. */
async function kill(child: ChildProcess): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGKILL');
  await Promise.race([exited, deadline(5000, `pid ${child.pid} to exit`)]);
}

/** A room name no other test (or run) uses; its keys are deleted in afterAll. */
function newRoom(): string {
  rooms += 1;
  return `${run}-${rooms}`;
}

async function post(node: Node, room: string, data: unknown): Promise<string> {
  const res = await fetch(`${node.base}/rooms/${room}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
    signal: AbortSignal.timeout(5000),
  });
  expect(res.status, node.stderr()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** One long-poll; `cursor` undefined means "from now". */
async function longPoll(node: Node, room: string, cursor?: string, timeout = 10): Promise<Batch> {
  const query = `timeout=${timeout}${cursor === undefined ? '' : `&cursor=${cursor}`}`;
  const res = await fetch(`${node.base}/rooms/${room}/messages?${query}`, {
    signal: AbortSignal.timeout((timeout + 5) * 1000),
  });
  expect(res.status, node.stderr()).toBe(200);
  return (await res.json()) as Batch;
}

/** Waits until `node` holds `n` requests or streams (its /health says so). */
async function held(node: Node, n: number): Promise<void> {
  await until(
    async () => {
      const res = await fetch(`${node.base}/health`, { signal: AbortSignal.timeout(2000) });
      return ((await res.json()) as { held: number }).held === n;
    },
    5000,
    `${n} held on ${node.base}`,
  );
}

/** An EventSource on `node`'s SSE route, closed in afterEach; collects envelopes. */
function follow(node: Node, room: string, cursor?: string) {
  const query = cursor === undefined ? '' : `?cursor=${cursor}`;
  const es = new EventSource(`${node.base}/rooms/${room}/live${query}`);
  cleanups.push(() => es.close());
  const got: { id: string; lastEventId: string; data: unknown }[] = [];
  es.onmessage = (event) => {
    const envelope = JSON.parse(event.data) as { id: string; data: unknown };
    got.push({ id: envelope.id, lastEventId: event.lastEventId, data: envelope.data });
  };
  return { es, got };
}

/**
 * A client following `room` by long-poll from `cursor` on `nodes[0]`; when a
 * request to it fails (the node died), it carries on with the same cursor on
 * `nodes[1]`. Resolves with the ids received once `count` have arrived.
 */
async function pollAcross(nodes: [Node, Node], room: string, cursor: string, count: number) {
  const ids: string[] = [];
  let node = nodes[0];
  let fromFirst = 0;
  while (ids.length < count) {
    let batch: Batch;
    try {
      batch = await longPoll(node, room, cursor, 5);
    } catch (error) {
      // undici's "fetch failed" / "terminated": the socket died. Anything else is a failure.
      if (node === nodes[1] || !(error instanceof TypeError)) throw error;
      node = nodes[1];
      continue;
    }
    expect(batch.gap).toBe(false);
    ids.push(...batch.messages.map((m) => m.id));
    if (node === nodes[0]) fromFirst = ids.length;
    cursor = batch.cursor;
  }
  return { ids, fromFirst };
}

/**
 * A client following `room` over SSE from `cursor` on `nodes[0]`; on the
 * first error (the node died) it closes that EventSource and opens one on
 * `nodes[1]` from the last id it received, as a client with a list of nodes
 * would.
 */
function streamAcross(nodes: [Node, Node], room: string, cursor: string) {
  const first = follow(nodes[0], room, cursor);
  const got: string[] = [];
  let switched = false;
  let fromFirst = 0;
  const onMessage = (event: MessageEvent) => {
    got.push((JSON.parse(event.data) as { id: string }).id);
    if (!switched) fromFirst = got.length;
  };
  first.es.onmessage = onMessage;
  first.es.onerror = () => {
    if (switched) return;
    switched = true;
    first.es.close();
    const second = follow(nodes[1], room, got.at(-1) ?? cursor);
    second.es.onmessage = onMessage;
  };
  return { got, fromFirst: () => fromFirst };
}

withRedis(await redisAnswers(), 'the multi-node tests', () => {
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    await Promise.all([...children].map(kill));
  });
  // The demo's prefix is `comet:` (see redis-ids.ts): delete this run's rooms only.
  afterAll(() => deleteRedisKeys(`comet:{room:${run}-*`));

  describe('two demo processes on one Redis', () => {
    it('a message published on A reaches a long-poll and an SSE stream on B', async () => {
      const [a, b] = await Promise.all([startNode(), startNode()]);
      const room = newRoom();
      const polled = longPoll(b, room);
      const sse = follow(b, room);
      await held(b, 2);
      const id = await post(a, room, { text: 'hello from A' });
      const batch = await polled;
      expect(batch).toEqual({
        messages: [{ id, channel: `room:${room}`, data: { text: 'hello from A' } }],
        cursor: id,
        gap: false,
      });
      await until(() => sse.got.length === 1, 5000, 'the SSE message on B');
      expect(sse.got).toEqual([{ id, lastEventId: id, data: { text: 'hello from A' } }]);
    });

    it('a cursor from A resumes on B with nothing lost, in order', async () => {
      const [a, b] = await Promise.all([startNode(), startNode()]);
      const room = newRoom();
      await post(a, room, 'before');
      const earlier = await longPoll(a, room, 'earliest', 0);
      expect(earlier.messages.map((m) => m.data)).toEqual(['before']);
      const sent: string[] = [];
      for (let i = 0; i < 20; i += 1) sent.push(await post(a, room, i));
      const resumed = await longPoll(b, room, earlier.cursor);
      expect(resumed.gap).toBe(false);
      expect(resumed.messages.map((m) => m.id)).toEqual(sent);
      expect(resumed.messages.map((m) => m.data)).toEqual([...Array(20).keys()]);
      expect(resumed.cursor).toBe(sent.at(-1));
      // Nothing more after it, on either node.
      expect((await longPoll(b, room, resumed.cursor, 0)).messages).toEqual([]);
      expect((await longPoll(a, room, resumed.cursor, 0)).messages).toEqual([]);
    });

    it('B killed mid-sequence: its long-poll and SSE clients resume on A, nothing lost or repeated', async () => {
      const [a, b] = await Promise.all([startNode(), startNode()]);
      const room = newRoom();
      const start = await post(a, room, 'start');
      const polled = pollAcross([b, a], room, start, 100);
      const streamed = streamAcross([b, a], room, start);
      await held(b, 2);
      const sent: string[] = [];
      let killed: Promise<void> | undefined;
      for (let i = 0; i < 100; i += 1) {
        sent.push(await post(a, room, i));
        // SIGKILL, not SIGTERM: B gets no chance to answer its clients.
        if (i === 40) killed = kill(b.child);
        await new Promise((r) => setTimeout(r, 10));
      }
      await killed;
      const viaPoll = await Promise.race([polled, deadline(15_000, 'the long-poll client')]);
      await until(() => streamed.got.length >= 100, 15_000, 'the SSE client to get 100');
      expect(viaPoll.ids).toEqual(sent);
      expect(streamed.got).toEqual(sent);
      // Both clients really followed B first and A after the kill.
      expect(viaPoll.fromFirst).toBeGreaterThan(0);
      expect(viaPoll.fromFirst).toBeLessThan(100);
      expect(streamed.fromFirst()).toBeGreaterThan(0);
      expect(streamed.fromFirst()).toBeLessThan(100);
    });
  });
});
