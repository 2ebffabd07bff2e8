/**
 * `koa-comet/testing`: the bus contract suite, for anyone writing a {@link Bus}
 * backend of their own. It declares vitest tests (vitest is an optional peer
 * dependency of koa-comet: install it in the project that runs the suite).
 *
 * @example
 * ```ts
 * // test/my-bus.test.ts, run with `vitest run`
 * import { busContract } from 'koa-comet/testing';
 * import { createMyBus } from '../my-bus.js';
 *
 * busContract('my bus', {
 *   create: async ({ historyLimit }) => createMyBus({ historyLimit }),
 *   loseHistory: async (bus) => { await bus.close(); return createMyBus(); },
 * });
 * ```
 */
export { type BusContractSetup, busContract } from './lib/bus/bus-contract.js';
