/**
 * Child processes for the benchmark: each server and load generator runs in
 * its own Node process, pinned to its own core with `taskset` when present,
 * talking to the orchestrator over the IPC channel. Children are tracked by a
 * {@link ProcessGroup} and killed by pid at the end, never by name.
 *
 * Children run the JavaScript `tsc -p tsconfig.bench.json` compiled into
 * `build/bench/` with plain `node`, as a production server runs: no
 * TypeScript loader in the measured process. `runner: 'tsx'` runs the
 * TypeScript sources under `--import tsx` instead (`--tsx`, to measure what
 * the loader costs).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** A message on the IPC channel: always an object with a `type`. */
export interface IpcMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** Options for {@link ProcessGroup.start}. */
export interface StartOptions {
  /** Core to pin the child to (`taskset -c`); ignored when taskset is absent. */
  readonly core?: number;
  /**
   * The process under measurement (a server, or a scenario that runs the
   * framework in-process): started with `--expose-gc` so it can force a
   * collection before measuring, with the group's `serverFlags`, and with
   * a V8 CPU profile on exit when the group has a `profileDir` (needs a
   * clean SIGTERM exit). Load generators are not.
   */
  readonly measured?: boolean;
  /** Extra Node/V8 flags before the script. */
  readonly nodeFlags?: readonly string[];
  /** Extra argv for the script (the first is usually a JSON config). */
  readonly args?: readonly string[];
  /** Extra environment variables, on top of this process's own. */
  readonly env?: Readonly<Record<string, string>>;
  /** A module (path relative to `bench/`, like the script) loaded first with `--import`. */
  readonly preload?: string;
  /** Discard the child's stdout (a server that logs, like the demo). */
  readonly quiet?: boolean;
}

interface Waiter {
  readonly types: readonly string[];
  readonly resolve: (m: IpcMessage) => void;
  readonly reject: (e: Error) => void;
}

/** A running child with a typed request/response helper over IPC. */
export class Child {
  readonly #proc: ChildProcess;
  readonly #queue: IpcMessage[] = [];
  readonly #waiters: Waiter[] = [];
  #exited = false;

  constructor(
    proc: ChildProcess,
    readonly name: string,
  ) {
    this.#proc = proc;
    proc.on('message', (m: IpcMessage) => this.#deliver(m));
    proc.on('exit', () => {
      this.#exited = true;
    });
  }

  /** The child's pid (taskset execs node, so this is node's own pid). */
  get pid(): number | undefined {
    return this.#proc.pid;
  }

  #deliver(m: IpcMessage): void {
    const i = this.#waiters.findIndex((w) => w.types.includes(m.type));
    if (i === -1 && m.type === 'error') {
      // A child's failure report fails whatever the orchestrator awaits from it.
      const e = new Error(`${this.name}: ${String(m['message'])}`);
      for (const w of this.#waiters.splice(0)) w.reject(e);
      return;
    }
    if (i === -1) {
      this.#queue.push(m);
      return;
    }
    const [w] = this.#waiters.splice(i, 1);
    w?.resolve(m);
  }

  /** Sends a message to the child. */
  send(m: IpcMessage): void {
    if (!this.#exited) this.#proc.send(m);
  }

  /**
   * Resolves with the next message of `type`; rejects on exit, on an `error`
   * message from the child, or after `ms`.
   */
  async next(type: string | readonly string[], ms = 120_000): Promise<IpcMessage> {
    const types = typeof type === 'string' ? [type] : type;
    const i = this.#queue.findIndex((m) => types.includes(m.type));
    if (i !== -1) return this.#queue.splice(i, 1)[0]!;
    if (this.#exited) throw new Error(`${this.name} exited before sending "${type}"`);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        types,
        resolve: (m) => done(() => resolve(m)),
        reject: (e) => done(() => reject(e)),
      };
      const onExit = (code: number | null) =>
        done(() => reject(new Error(`${this.name} exited (${code}) before sending "${type}"`)));
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: no "${type}" within ${ms} ms`))),
        ms,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#proc.off('exit', onExit);
        const at = this.#waiters.indexOf(waiter);
        if (at !== -1) this.#waiters.splice(at, 1);
        settle();
      };
      this.#waiters.push(waiter);
      this.#proc.once('exit', onExit);
    });
  }

  /** Sends a request and waits for the reply of type `reply` (default: same type). */
  async ask(
    m: IpcMessage,
    reply: string | readonly string[] = m.type,
    ms?: number,
  ): Promise<IpcMessage> {
    const answer = this.next(reply, ms);
    this.send(m);
    return answer;
  }

  /** Kills the child by pid (SIGTERM, SIGKILL after 5 s) and waits for it to exit. */
  async kill(): Promise<void> {
    if (this.#exited || this.#proc.exitCode !== null) return;
    const exited = once(this.#proc, 'exit');
    this.#proc.kill('SIGTERM');
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link ProcessGroup}. */
export interface ProcessGroupOptions {
  /** When set, `measured` children write `.cpuprofile` files here. */
  readonly profileDir?: string;
  /** `node` (default): the compiled JavaScript in build/bench; `tsx`: the sources under tsx. */
  readonly runner?: 'node' | 'tsx';
  /** Extra node flags for every `measured` child, e.g. `--trace-gc-nvp`; their stdout is kept. */
  readonly serverFlags?: readonly string[];
}

const REPO = new URL('../../', import.meta.url);

/**
 * The file to run for `script` (relative to `bench/`, `.ts`): the source
 * under tsx, else its compiled `.js` under `build/bench/` (run.ts compiles
 * first). This module itself may run from either place.
 */
function resolveScript(script: string, runner: 'node' | 'tsx'): string {
  const root = fileURLToPath(REPO).replace(/build\/bench\/$/, '');
  const source = new URL(`bench/${script}`, pathToFileURL(root));
  if (runner === 'tsx') return fileURLToPath(source);
  const relative = fileURLToPath(source).slice(root.length).replace(/\.ts$/, '.js');
  return `${root}build/bench/${relative}`;
}

/** Starts and tracks children; {@link ProcessGroup.killAll} ends them by pid. */
export class ProcessGroup {
  readonly #children = new Set<Child>();
  /** Whether children are pinned (taskset found and working). */
  readonly pinned = hasTaskset();

  constructor(private readonly options: ProcessGroupOptions = {}) {}

  /** How children run: compiled JavaScript under node, or the sources under tsx. */
  get runner(): 'node' | 'tsx' {
    return this.options.runner ?? 'node';
  }

  /** Starts `script` (path relative to `bench/`, e.g. `servers/raw-sse.ts`). */
  start(script: string, options: StartOptions = {}): Child {
    const file = resolveScript(script, this.runner);
    const measured = options.measured === true;
    const dir = measured ? this.options.profileDir : undefined;
    const preload = options.preload ? resolveScript(options.preload, this.runner) : undefined;
    const nodeArgs = [
      ...(measured ? ['--expose-gc'] : []),
      ...(options.nodeFlags ?? []),
      ...(measured ? (this.options.serverFlags ?? []) : []),
      ...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []),
      ...(this.runner === 'tsx' ? ['--import', 'tsx'] : []),
      ...(preload ? ['--import', pathToFileURL(preload).href] : []),
      file,
    ];
    const argv = [...nodeArgs, ...(options.args ?? [])];
    const useTaskset = this.pinned && options.core !== undefined;
    const [cmd, args] = useTaskset
      ? ['taskset', ['-c', String(options.core), process.execPath, ...argv]]
      : [process.execPath, argv];
    const env = options.env ? { ...process.env, ...options.env } : process.env;
    // A measured child's trace output (--server-flags) is on its stdout: keep it.
    const traced = measured && (this.options.serverFlags?.length ?? 0) > 0;
    const stdout = options.quiet && !traced ? 'ignore' : 'inherit';
    const proc = spawn(cmd, args, { env, stdio: ['ignore', stdout, 'inherit', 'ipc'] });
    const child = new Child(proc, script);
    this.#children.add(child);
    proc.on('exit', () => this.#children.delete(child));
    return child;
  }

  /** Kills every child still running. */
  async killAll(): Promise<void> {
    await Promise.all([...this.#children].map((c) => c.kill()));
  }
}
