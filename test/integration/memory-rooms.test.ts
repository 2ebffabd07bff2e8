/**
 * Memory stays bounded under room churn: one 60 KiB message to each of
 * 20,000 distinct rooms (1.2 GB published) on a memory bus with an 8 MiB
 * budget and a 500 ms age limit. Run in a child process (bench/load/rooms.ts,
 * the large run of `npm run bench -- rooms`) with `--expose-gc` and a 96 MiB
 * old generation, so RSS is that process's alone and V8 must collect rather
 * than grow: a bus that kept the messages would die of it.
 *
 * Margins: RSS may exceed its baseline by the budget plus 64 MiB (garbage
 * between collections, young generation, allocator slack) while publishing,
 * and by 32 MiB once history has expired and a GC ran.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RoomsConfig, RoomsResult } from '../../bench/load/rooms.js';

const MIB = 1024 * 1024;
const script = fileURLToPath(new URL('../../bench/load/rooms.ts', import.meta.url));

function runRooms(config: RoomsConfig): Promise<{ code: number | null; result?: RoomsResult }> {
  const args = ['--expose-gc', '--max-old-space-size=96', '--import', 'tsx', script];
  const child = spawn(process.execPath, [...args, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1);
      resolve({ code, ...(line ? { result: JSON.parse(line) as RoomsResult } : {}) });
    });
  });
}

describe('memory bus under room churn', () => {
  it('holds RSS and stats() bytes under the budget plus a margin, and falls back', async () => {
    const budget = 8 * MIB;
    const { code, result } = await runRooms({
      rooms: 20_000,
      size: 60 * 1024,
      budget,
      ageMs: 500,
      rssLimit: budget + 64 * MIB,
      expiryWithinMs: 10_000,
    });
    expect(code).toBe(0);
    expect(result).toBeDefined();
    const r = result!;
    expect(r.aborted).toBe(false);
    expect(r.published).toBe(20_000);
    expect(r.busBytesPeak).toBeGreaterThan(budget / 2);
    expect(r.busBytesPeak).toBeLessThanOrEqual(budget);
    expect(r.rssPeak - r.rssBaseline).toBeLessThan(budget + 64 * MIB);
    // Past the age limit, untouched rooms expired and were forgotten.
    expect(r.busBytesAfter).toBe(0);
    expect(r.busChannelsAfter).toBe(0);
    expect(r.rssAfter - r.rssBaseline).toBeLessThan(32 * MIB);
  }, 180_000);
});
