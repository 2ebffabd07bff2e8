import { busContract } from '../../lib/bus/bus-contract.js';
import { createMemoryBus } from '../../lib/bus/memory.js';

busContract('memory', {
  create: async ({ historyLimit }) => createMemoryBus({ historyLimit }),
  // A restarted process: the old bus is gone, the new one has a new epoch.
  loseHistory: async (bus) => {
    await bus.close();
    return createMemoryBus();
  },
});
