/**
 * Memory under room churn: one process publishes one message of `size`
 * bytes to each of `rooms` distinct rooms on a memory bus behind `comet()`,
 * sampling RSS and the bytes of history the bus holds (`push.stats()`), then
 * waits, polling, until aged history has expired and every room is
 * forgotten, and measures RSS again after a forced GC.
 *
 * Run by `npm run bench -- rooms` and, with a small budget, by
 * test/integration/memory-rooms.test.ts. Needs `--expose-gc`. Argument: a
 * JSON {@link RoomsConfig}. The result goes over IPC when there is a parent
 * channel (`{ type: 'rooms', ... }`), else as one JSON line on stdout.
 */
import { comet, createMemoryBus } from '../../index.js';

/** What to run. */
export interface RoomsConfig {
  readonly rooms: number;
  /** Bytes of each message's JSON body. */
  readonly size: number;
  /** `historyMaxBytes`; omitted: the bus's default. */
  readonly budget?: number;
  /** `historyMaxAge`, ms. */
  readonly ageMs: number;
  /** Stop early once RSS grew by more than this over the baseline (a failing run ends fast). */
  readonly rssLimit?: number;
  /** Give up waiting for expiry after this long, ms. */
  readonly expiryWithinMs?: number;
}

/** What a run measured; bytes throughout. */
export interface RoomsResult {
  readonly published: number;
  readonly aborted: boolean;
  readonly budget: number;
  readonly rssBaseline: number;
  readonly rssPeak: number;
  readonly busBytesPeak: number;
  readonly publishMs: number;
  /** From the last publish until the bus held nothing. */
  readonly expiryMs: number;
  readonly busBytesAfter: number;
  readonly busChannelsAfter: number;
  readonly rssAfter: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('rooms.ts needs --expose-gc');

const config = JSON.parse(process.argv[2] ?? '{}') as RoomsConfig;
const budget = config.budget ?? 64 * 1024 * 1024;
const bus = createMemoryBus({ historyMaxAge: config.ageMs, historyMaxBytes: budget });
const push = comet({ bus, client: false });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A JSON body as a client would post it, parsed per message as the publish route does. */
const body = Buffer.from(JSON.stringify({ text: 'x'.repeat(config.size - 20) }));

gc();
const rssBaseline = process.memoryUsage().rss;
let rssPeak = rssBaseline;
let busBytesPeak = 0;
let published = 0;
let aborted = false;
const started = performance.now();
for (let i = 0; i < config.rooms; i++) {
  await bus.publish(`room:${i}`, JSON.parse(body.toString('utf8')));
  published++;
  busBytesPeak = Math.max(busBytesPeak, push.stats().busBytes ?? 0);
  if (i % 250 === 0) {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    if (config.rssLimit !== undefined && rssPeak - rssBaseline > config.rssLimit) {
      aborted = true;
      break;
    }
  }
}
rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
const publishMs = performance.now() - started;

// Nothing touches the rooms again: only the bus's own expiry can empty it.
const waitStart = performance.now();
const giveUp = waitStart + (config.expiryWithinMs ?? config.ageMs * 3 + 5000);
while ((bus.stats().bytes > 0 || bus.stats().channels > 0) && performance.now() < giveUp) {
  await sleep(20);
}
const expiryMs = performance.now() - waitStart;
gc();
await sleep(50);
gc();
const result: RoomsResult = {
  published,
  aborted,
  budget,
  rssBaseline,
  rssPeak,
  busBytesPeak,
  publishMs,
  expiryMs,
  busBytesAfter: push.stats().busBytes ?? 0,
  busChannelsAfter: bus.stats().channels,
  rssAfter: process.memoryUsage().rss,
};
await push.close();
await bus.close();
if (process.send) process.send({ type: 'rooms', ...result }, () => process.exit(0));
else console.log(JSON.stringify(result));
