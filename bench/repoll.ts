/**
 * `npx tsx bench/repoll.ts [--demo] [--publish] [--default-heap] [--rounds=6] [--seconds=3] [--conns=150] [--batch=16] [--spread=1] [--base=DIR[,DIR…]] [--server-flags="…"]`:
 * the long-poll re-poll path alone — a poller coming back with a cursor
 * for which a batch is ready — in server CPU per response.
 *
 * Unlike `npm run bench -- churn`, nothing here depends on how the closed
 * loop of pollers and publisher settles: every GET carries a cursor
 * `--batch` messages behind the head of a room nobody publishes to any
 * more, so every answer is the same ready batch, sent at once.
 *
 * Every side runs AT THE SAME TIME (all servers on core 0, one client on
 * core 1), each with its own `--conns` keep-alive connections, and each
 * side's CPU time (`process.cpuUsage()` over IPC) is read over the same
 * window: whatever else the machine runs slows them alike, so the ratio
 * of a round holds where separate runs would not. Sides: the raw server
 * (`servers/raw-longpoll.ts`), the koa-comet server (`servers/comet.ts`)
 * and, with `--base=DIR,…`, the koa-comet server of other checkouts (e.g.
 * `git archive <commit> | tar -x -C /tmp/at-<commit>`, with a
 * `node_modules` link), named by their folder, for before/after figures.
 * Prints each round and the median of the per-round ratios to raw.
 * Takes the same lock as `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  collect,
  getRequest,
  type HttpConnection,
  openMany,
  postRequest,
  publish,
} from './lib/http-client.js';
import { benchLock } from './lib/lock.js';
import { Child } from './lib/proc.js';
import { SERVER_NODE_FLAGS } from './scenarios/common.js';

function flag(name: string, fallback: number): number;
function flag(name: string): string | undefined;
function flag(name: string, fallback?: number): number | string | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = arg?.slice(name.length + 3);
  if (fallback === undefined) return value;
  const n = Number(value ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1`);
  return n;
}

const rounds = flag('rounds', 6);
const seconds = flag('seconds', 3);
const conns = flag('conns', 150);
const batch = flag('batch', 16);
/** `--spread=K`: connections ask from K different cursors (batches of batch … batch+K-1). */
const spread = flag('spread', 1);
if (batch + spread > 99) throw new Error('--batch plus --spread must stay under 100');
const bases = (flag('base') ?? '').split(',').filter((dir) => dir !== '');
const here = fileURLToPath(new URL('.', import.meta.url));

interface Side {
  readonly name: string;
  readonly script: string;
  /** Node arguments before the script (the loader or the demo's control preload). */
  readonly preload: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

const TSX = ['--import', 'tsx'];

/**
 * `--demo`: the compiled demo (as `npm run bench` measures it, from
 * `build/bench/` of each checkout, compiled first with
 * `npx tsc -p tsconfig.bench.json`) against the compiled raw server.
 */
function demoSide(name: string, root: string): Side {
  const build = resolve(root, 'build/bench');
  return {
    name,
    script: resolve(build, 'examples/chat/server.js'),
    preload: ['--import', resolve(build, 'bench/servers/demo-control.js')],
    env: { PORT: '0', HOST: '127.0.0.1' },
  };
}

const demo = process.argv.includes('--demo');
/** `--default-heap`: V8's own heap sizes, not the bench's pinned young generation. */
const defaultHeap = process.argv.includes('--default-heap');
/** `--publish`: every request is a publish (POST) to a room nobody listens to, not a re-poll. */
const publishing = process.argv.includes('--publish');
/** `--server-flags="--cpu-prof …"`: extra node flags for every server (diagnostics). */
const serverFlags = (flag('server-flags') ?? '').split(/\s+/).filter((f) => f !== '');
const root = resolve(here, '..');
const sides: Side[] = demo
  ? [
      {
        name: 'raw',
        script: resolve(root, 'build/bench/bench/servers/raw-longpoll.js'),
        preload: [],
      },
      ...bases.map((dir) => demoSide(basename(resolve(dir)), resolve(dir))),
      demoSide('koa-comet', root),
    ]
  : [
      { name: 'raw', script: resolve(here, 'servers/raw-longpoll.ts'), preload: TSX },
      ...bases.map((dir) => ({
        name: basename(resolve(dir)),
        script: resolve(dir, 'bench/servers/comet.ts'),
        preload: TSX,
      })),
      { name: 'koa-comet', script: resolve(here, 'servers/comet.ts'), preload: TSX },
    ];

/** Starts a server pinned to core 0, as `npm run bench` starts them. */
async function startServer(side: Side) {
  const heap = defaultHeap ? [] : SERVER_NODE_FLAGS;
  const argv = ['--expose-gc', ...heap, ...serverFlags, ...side.preload, side.script];
  const proc = spawn('taskset', ['-c', '0', process.execPath, ...argv], {
    cwd: resolve(side.script, '../../..'),
    env: { ...process.env, ...side.env },
    stdio: ['ignore', demo ? 'ignore' : 'inherit', 'inherit', 'ipc'],
  });
  const child = new Child(proc, side.name);
  const ready = await child.next('ready', 60_000);
  return { side, child, port: ready['port'] as number };
}

type Server = Awaited<ReturnType<typeof startServer>>;

/** Fills a room, then loops every connection on the same ready batch. */
async function load(server: Server) {
  const pub = (await openMany(server.port, 1))[0]!;
  const ids: string[] = [];
  for (let seq = 0; seq < 100; seq++) {
    ids.push(await publish(pub, 'repoll', { seq, text: 'a message of a typical chat size' }));
  }
  // Connection i asks from `batch + i % spread` messages behind the head.
  const requestOf = (i: number) => {
    if (publishing) {
      const json = '{"seq":0,"text":"a message of a typical chat size"}';
      return { request: postRequest('/rooms/repoll/messages', json), expect: '"id":' };
    }
    const behind = batch + (i % spread);
    const cursor = encodeURIComponent(ids[ids.length - 1 - behind]!);
    return {
      request: getRequest(`/rooms/repoll/messages?cursor=${cursor}&timeout=30`),
      expect: `"seq":${99 - behind + 1}`,
    };
  };
  const state = { responses: 0, errors: 0, running: true };
  const loop = (c: HttpConnection, request: string, expect: string): void =>
    c.send(
      request,
      collect((status, body) => {
        if (status < 200 || status > 299 || !body.includes(expect)) state.errors++;
        state.responses++;
        if (state.running) loop(c, request, expect);
      }),
    );
  const all = await openMany(server.port, conns);
  all.forEach((c, i) => {
    const { request, expect } = requestOf(i);
    loop(c, request, expect);
  });
  const close = (): void => {
    for (const c of [pub, ...all]) c.close();
  };
  return { state, close };
}

async function cpu(server: Server): Promise<number> {
  const s = await server.child.ask({ type: 'stats', gc: false }, 'stats');
  return (s['user'] as number) + (s['system'] as number);
}

const release = await benchLock(60 * 60_000, (line) => console.error(line));
const perRound: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.name, []]));
try {
  for (let round = 1; round <= rounds; round++) {
    const servers = await Promise.all(sides.map(startServer));
    try {
      const loads = await Promise.all(servers.map(load));
      await new Promise((r) => setTimeout(r, 1000));
      const before = await Promise.all(servers.map(cpu));
      const counted = loads.map((l) => l.state.responses);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const after = await Promise.all(servers.map(cpu));
      const parts = servers.map((s, i) => {
        const responses = loads[i]!.state.responses - counted[i]!;
        const us = (after[i]! - before[i]!) / responses;
        perRound[s.side.name]?.push(us);
        const errors = loads[i]!.state.errors;
        return `${s.side.name} ${us.toFixed(1)} µs (${Math.round(responses / seconds)}/s${errors ? `, ${errors} BAD` : ''})`;
      });
      for (const l of loads) {
        l.state.running = false;
        l.close();
      }
      console.log(`round ${round}: ${parts.join(', ')}`);
    } finally {
      await Promise.all(servers.map((s) => s.child.kill()));
    }
  }
} finally {
  release();
}

const median = (xs: readonly number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const raw = perRound['raw']!;
for (const side of sides) {
  const mine = perRound[side.name]!;
  const ratio = median(mine.map((us, i) => us / raw[i]!));
  console.log(
    `${side.name}: median ${median(mine).toFixed(1)} µs per response` +
      (side.name === 'raw' ? '' : `; ÷ raw, median of the per-round ratios: ${ratio.toFixed(3)}×`),
  );
}
