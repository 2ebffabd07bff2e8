/**
 * One benchmark at a time on this machine: two runs sharing two cores would
 * distort each other's figures. The lock is a file holding the owner's pid;
 * a lock whose owner is gone is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './wait.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryTake(path: string): number | undefined {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return undefined;
  } catch {
    const owner = Number(readFileSync(path, 'utf8'));
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) return owner;
    rmSync(path, { force: true });
    return tryTake(path);
  }
}

/**
 * Waits (up to `ms`) until no other benchmark runs, then holds the lock until
 * the returned release function is called or the process exits.
 * @throws Error when another run still holds the lock after `ms`.
 */
export async function benchLock(ms: number, log: (line: string) => void): Promise<() => void> {
  const path = join(tmpdir(), 'koa-comet-bench.lock');
  const end = Date.now() + ms;
  for (let owner = tryTake(path); owner !== undefined; owner = tryTake(path)) {
    if (Date.now() > end) throw new Error(`another benchmark (pid ${owner}) is still running`);
    log(`[bench] waiting for another benchmark run (pid ${owner}) to finish…`);
    await sleep(5000);
  }
  const release = () => rmSync(path, { force: true });
  process.once('exit', release);
  return release;
}
