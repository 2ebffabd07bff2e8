/**
 * A shared timer for many suspended requests.
 *
 * Ten thousand held long-polls with the same 25 s timeout need one armed
 * timer, not ten thousand. Entries with the same delay are kept in one FIFO
 * list (added in time order, so already sorted by due time); each list arms a
 * single unref'd `setTimeout` for its head. Adding and removing are O(1) and
 * an entry costs one small node object — no closure, no `Timeout` handle.
 * This is the idea behind Node's own timer lists, without the per-timer
 * async-hooks bookkeeping.
 *
 * The clock is monotonic (`performance.now()`): a wall clock stepped back by
 * NTP or an operator would stretch every hold and heartbeat by the step, and
 * one stepped forward would fire them all at once.
 */
import { debuglog } from 'node:util';

const debug = debuglog('comet:timer');

/** Something to call when its time comes. */
export interface TimerTarget {
  onTimer(): void;
}

/** A scheduled entry, returned by {@link TimerWheel.add}. */
export interface TimerHandle {
  /** When the target is due, in the wheel's clock. */
  readonly due: number;
}

/** A shared timer: see the module comment. */
export interface TimerWheel {
  /** Calls `target.onTimer()` once, `delayMs` from now. */
  add(delayMs: number, target: TimerTarget): TimerHandle;
  /** Cancels an entry; does nothing if it already fired or was removed. */
  remove(handle: TimerHandle): void;
  /** Entries waiting to fire. */
  readonly size: number;
  /** Cancels every entry and armed timer. */
  close(): void;
  /**
   * The wheel's clock, ms (monotonic; only differences mean anything): for
   * deadlines kept beside the wheel, such as a stream's lifetime.
   */
  now(): number;
}

/** Options for {@link createTimerWheel}. */
export interface TimerWheelOptions {
  /**
   * The clock, ms; must never go backwards. Default `performance.now()`
   * (read at each call, so fake timers apply).
   */
  now?: () => number;
}

interface Node extends TimerHandle {
  due: number;
  target: TimerTarget | undefined;
  prev: Node | undefined;
  next: Node | undefined;
  list: List | undefined;
}

interface List {
  readonly delay: number;
  head: Node | undefined;
  tail: Node | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Creates a {@link TimerWheel}.
 *
 * @example
 * ```ts
 * const wheel = createTimerWheel();
 * const handle = wheel.add(25_000, { onTimer: () => console.log('due') });
 * wheel.remove(handle);
 * ```
 */
export function createTimerWheel(options: TimerWheelOptions = {}): TimerWheel {
  const now = options.now ?? (() => performance.now());
  const lists = new Map<number, List>();
  let size = 0;

  function arm(list: List): void {
    if (list.timer !== undefined || list.head === undefined) return;
    const wait = Math.max(0, list.head.due - now());
    list.timer = setTimeout(fire, wait, list);
    list.timer.unref();
  }

  function unlink(node: Node): void {
    const list = node.list;
    if (list === undefined) return;
    if (node.prev) node.prev.next = node.next;
    else list.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else list.tail = node.prev;
    node.prev = node.next = node.list = undefined;
    size--;
    if (list.head === undefined) {
      if (list.timer !== undefined) clearTimeout(list.timer);
      lists.delete(list.delay);
    }
  }

  function fire(list: List): void {
    list.timer = undefined;
    const t = now();
    let node = list.head;
    while (node !== undefined && node.due <= t) {
      const target = node.target;
      unlink(node);
      node.target = undefined;
      try {
        target?.onTimer();
      } catch (error) {
        debug('timer target threw: %o', error);
        process.emitWarning(error instanceof Error ? error : String(error), 'CometTimerWarning');
      }
      node = list.head;
    }
    if (list.head !== undefined) arm(list);
  }

  return {
    add(delayMs, target) {
      const delay = Math.max(0, Math.floor(delayMs));
      let list = lists.get(delay);
      if (list === undefined) {
        list = { delay, head: undefined, tail: undefined, timer: undefined };
        lists.set(delay, list);
      }
      const node: Node = { due: now() + delay, target, prev: list.tail, next: undefined, list };
      if (list.tail) list.tail.next = node;
      else list.head = node;
      list.tail = node;
      size++;
      arm(list);
      return node;
    },
    remove(handle) {
      const node = handle as Node;
      unlink(node);
      node.target = undefined;
    },
    get size() {
      return size;
    },
    now,
    close() {
      for (const list of lists.values()) {
        if (list.timer !== undefined) clearTimeout(list.timer);
        for (let node = list.head; node !== undefined; node = node.next) node.list = undefined;
      }
      lists.clear();
      size = 0;
    },
  };
}
