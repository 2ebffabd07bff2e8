import type { TransportMemory } from './connection.js';
import { transportNamed } from './transports/registry.js';

/**
 * Remembers the transport that worked in `sessionStorage`, per tab and URL, so a
 * reload does not walk the whole fallback list again. Storage can throw (disabled
 * cookies, sandboxed frames, `file://` in some browsers): then it remembers nothing.
 */
export function createSessionMemory(): TransportMemory {
  const prefix = 'koa-comet:transport:';
  return {
    load(key) {
      try {
        return transportNamed(globalThis.sessionStorage?.getItem(prefix + key));
      } catch {
        return null;
      }
    },
    save(key, name) {
      try {
        globalThis.sessionStorage?.setItem(prefix + key, name);
      } catch {
        // Nothing to do: remembering is an optimisation.
      }
    },
  };
}
