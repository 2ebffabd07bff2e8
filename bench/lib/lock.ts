/**
 * One benchmark at a time on this machine: two runs sharing two cores would
 * distort each other's figures. The lock is a file holding the owner's pid;
 * a lock whose owner is gone is taken over.
 */
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
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

/** The pid in a lock file; 0 while its owner is still writing it; undefined when it is gone. */
function readOwner(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8'));
    return Number.isInteger(n) && n > 0 ? n : 0;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock, or returns the pid holding it. A lock whose owner is gone
 * is moved aside under a name of this process's own before it is deleted:
 * a rename is atomic, so of several runs waiting for the same dead owner
 * only one moves it, and one that moved a lock taken in the meantime puts
 * it back. (Deleting it by path let two waiters each delete the other's
 * fresh lock and both run at once.)
 */
function tryTake(path: string): number | undefined {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return undefined;
  } catch {
    const owner = readOwner(path);
    if (owner === undefined) return tryTake(path);
    if (owner === 0 || alive(owner)) return owner;
    const aside = `${path}.${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      return tryTake(path); // another waiter moved it first
    }
    const moved = readOwner(aside);
    if (moved === undefined || (moved !== 0 && !alive(moved))) {
      rmSync(aside, { force: true });
      return tryTake(path);
    }
    try {
      linkSync(aside, path); // a live lock moved by mistake goes back (never over another)
    } catch {}
    rmSync(aside, { force: true });
    return moved;
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
  // Only this run's own lock: never one another run holds.
  const release = () => {
    if (readOwner(path) === process.pid) rmSync(path, { force: true });
  };
  process.once('exit', release);
  return release;
}
