import { describe, expect, it } from 'vitest';
import { transportNamed, transportRegistry } from '../../../client/transports/registry.js';
import { defaultTransports } from '../../../client/types.js';

describe('client transport names', () => {
  it('are the server names, each with its transport', () => {
    for (const name of defaultTransports) expect(transportRegistry[name].name).toBe(name);
    expect(transportNamed('long-poll')).toBe('long-poll');
  });

  it("read the deprecated 'longpoll' as 'long-poll' and know no other spelling", () => {
    expect(transportNamed('longpoll')).toBe('long-poll');
    for (const name of ['LongPoll', 'SSE', 'poll', 'multipart', '', null, 3]) {
      expect(transportNamed(name)).toBeNull();
    }
  });
});
