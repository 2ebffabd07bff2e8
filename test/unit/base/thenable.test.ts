import { describe, expect, it } from 'vitest';
import { isThenable } from '../../../lib/base/thenable.js';

describe('isThenable', () => {
  it('knows a thenable by its shape, whatever made it', () => {
    expect(isThenable(Promise.resolve(1))).toBe(true);
    const custom: unknown = {
      // biome-ignore lint/suspicious/noThenProperty: a custom thenable is what is tested
      then: (resolve: (v: number) => void) => resolve(1),
    };
    expect(isThenable(custom)).toBe(true);
    // biome-ignore lint/suspicious/noThenProperty: a callable thenable counts too
    const callable = Object.assign(() => 0, { then: () => undefined });
    expect(isThenable(callable)).toBe(true);
  });

  it('takes nothing else for one', () => {
    // biome-ignore lint/suspicious/noThenProperty: a `then` that is not a function
    const notCallable = { then: 1 };
    for (const value of [null, undefined, 0, 'then', ['a'], notCallable, () => 0, {}]) {
      expect(isThenable(value)).toBe(false);
    }
  });
});
