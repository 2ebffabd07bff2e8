/** Small waiting helpers shared by the orchestrator and the load generators. */

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `step` ms; resolves true when it holds, false after `ms`. */
export async function until(check: () => boolean, ms: number, step = 5): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await sleep(step);
  }
  return true;
}
