/**
 * The load generator's side of the orchestrator's IPC channel: its config
 * comes as JSON in argv[2]; it reports and waits for go-ahead messages.
 */
import type { IpcMessage } from './proc.js';

/** Parses the JSON config the orchestrator passed as the first argument. */
export function workerConfig<T>(): T {
  const raw = process.argv[2];
  if (!raw || !process.send) throw new Error('load generators are started by bench/run.ts');
  process.on('disconnect', () => process.exit(0));
  return JSON.parse(raw) as T;
}

/** Sends a message to the orchestrator. */
export function tell(m: IpcMessage): void {
  process.send?.(m);
}

/** Resolves with the next message of `type` from the orchestrator. */
export function expect(type: string): Promise<IpcMessage> {
  return new Promise((resolve) => {
    const on = (m: IpcMessage) => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve(m);
    };
    process.on('message', on);
  });
}

/** Tells the orchestrator the run failed and exits. */
export function fail(error: unknown): never {
  tell({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
