/**
 * Just enough of a browser to run a tutorial page's inline script in Node:
 * `document.createElement`, `getElementById`, and `<script src>` elements
 * appended to `document.head` are fetched and evaluated in the page's
 * context, firing `onload` — or `onerror` on a network error or non-2xx
 * status, as browsers do. It lets the docs tests run the JSONP page as
 * written instead of re-typing it.
 */
import vm from 'node:vm';

class FakeElement {
  textContent = '';
  src = '';
  readonly children: FakeElement[] = [];
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  parent: FakeElement | null = null;
  constructor(readonly tagName: string) {}
  append(...nodes: FakeElement[]): void {
    for (const node of nodes) {
      node.parent = this;
      this.children.push(node);
    }
  }
  remove(): void {
    const siblings = this.parent?.children;
    if (siblings) siblings.splice(siblings.indexOf(this), 1);
    this.parent = null;
  }
  replaceChildren(): void {
    this.children.length = 0;
  }
}

/** A running page: wait for its script requests, read its elements, stop it. */
export interface FakePage {
  /** Resolves once the page has issued its `n`th script request. */
  requested(n: number): Promise<void>;
  /** The text of each child of the element with this id. */
  texts(id: string): string[];
  /** Stops every request and timer of the page. */
  stop(): void;
}

/** Runs the inline `<script>` blocks of `html`. */
export function runPageScript(html: string): FakePage {
  const byId = new Map<string, FakeElement>();
  for (const match of html.matchAll(/<(\w+)[^>]*\bid="([^"]+)"/g)) {
    byId.set(match[2]!, new FakeElement(match[1]!));
  }
  const abort = new AbortController();
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;
  let wake: (() => void) | undefined;
  const context = vm.createContext({});
  const head = new FakeElement('head');
  head.append = (node: FakeElement) => {
    if (abort.signal.aborted) return;
    FakeElement.prototype.append.call(head, node);
    requests++;
    wake?.();
    fetch(node.src, { signal: abort.signal })
      .then(async (response) => {
        const source = await response.text();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        vm.runInContext(source, context);
        node.onload?.();
      })
      .catch(() => {
        if (!abort.signal.aborted) node.onerror?.();
      });
  };
  Object.assign(context, {
    document: {
      head,
      createElement: (tag: string) => new FakeElement(tag),
      getElementById: (id: string) => byId.get(id) ?? null,
    },
    setTimeout: (run: () => void, ms: number) => {
      if (abort.signal.aborted) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        run();
      }, ms);
      timers.add(timer);
    },
  });
  for (const match of html.matchAll(/<script>([\s\S]*?)<\/script>/g)) {
    vm.runInContext(match[1]!, context);
  }
  return {
    async requested(n) {
      while (requests < n) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    texts: (id) => (byId.get(id)?.children ?? []).map((child) => child.textContent),
    stop() {
      abort.abort();
      for (const timer of timers) clearTimeout(timer);
      wake?.();
    },
  };
}
