import { describe, expect, it } from 'vitest';
import { isCallbackName } from '../../../lib/wire/callback-name.js';

describe('isCallbackName', () => {
  it.each([
    'cb',
    '_',
    '$',
    'jQuery3310_1234',
    'a.b',
    'app.comet.on.msg',
    'a'.repeat(64),
    `${'a'.repeat(64)}.${'b'.repeat(64)}`,
  ])('accepts %j', (name) => {
    expect(isCallbackName(name)).toBe(true);
  });

  it.each([
    '',
    '1abc',
    'a'.repeat(65),
    'a.b.c.d.e',
    'a..b',
    'a.',
    '.a',
    'alert(1)',
    'a[0]',
    'a b',
    'a-b',
    'a\n',
    'a;b',
    'é',
    'a.1b',
    '</script>',
  ])('refuses %j', (name) => {
    expect(isCallbackName(name)).toBe(false);
  });

  it('refuses non-strings', () => {
    expect(isCallbackName(undefined)).toBe(false);
    expect(isCallbackName(['cb'])).toBe(false);
    expect(isCallbackName(42)).toBe(false);
  });
});
