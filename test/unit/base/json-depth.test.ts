import { describe, expect, it } from 'vitest';
import { parseJsonBody } from '../../../lib/base/json-body.js';
import { exceedsJsonDepth } from '../../../lib/base/json-depth.js';
import { encodeData } from '../../../lib/bus/encode-data.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('exceedsJsonDepth', () => {
  it('counts arrays and objects, not scalars', () => {
    expect(exceedsJsonDepth('1', 0)).toBe(false);
    expect(exceedsJsonDepth('[]', 0)).toBe(true);
    expect(exceedsJsonDepth('[]', 1)).toBe(false);
    expect(exceedsJsonDepth('{"a":[{"b":1}]}', 3)).toBe(false);
    expect(exceedsJsonDepth('{"a":[{"b":1}]}', 2)).toBe(true);
    expect(exceedsJsonDepth('[[],[],[[]]]', 3)).toBe(false);
    expect(exceedsJsonDepth(nested(64), 64)).toBe(false);
    expect(exceedsJsonDepth(nested(65), 64)).toBe(true);
    expect(exceedsJsonDepth(nested(1_000_000), 64)).toBe(true);
  });

  it('ignores brackets inside strings, however the quotes are escaped', () => {
    expect(exceedsJsonDepth('"[[[[{{{{"', 0)).toBe(false);
    expect(exceedsJsonDepth('["\\"[[[", 1]', 1)).toBe(false);
    expect(exceedsJsonDepth('["\\\\", [1]]', 1)).toBe(true); // the string ends after \\
    expect(exceedsJsonDepth('["\\\\\\"[", 1]', 1)).toBe(false);
    expect(exceedsJsonDepth(`"${'x'.repeat(100_000)}"`, 0)).toBe(false);
    expect(exceedsJsonDepth('["unterminated [[[[', 1)).toBe(false);
  });
});

describe('parseJsonBody', () => {
  it('says why a body is refused', () => {
    const reason = (bytes: Uint8Array) => {
      try {
        parseJsonBody(bytes, { maxDepth: 2 });
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(reason(Buffer.from(''))).toBe('The request body is empty');
    expect(reason(Buffer.from([0x22, 0xff, 0x22]))).toBe('The request body is not valid UTF-8');
    expect(reason(Buffer.from('[[[1]]]'))).toBe('The request body nests deeper than 2 levels');
    expect(reason(Buffer.from('{'))).toMatch(/^The request body is not valid JSON: /);
    expect(reason(Buffer.from('[[1]]'))).toBe('accepted');
  });
});

describe('encodeData', () => {
  it('encodes once, maps undefined to null, refuses what a read could not encode', () => {
    expect(encodeData({ a: [1] })).toBe('{"a":[1]}');
    expect(encodeData(undefined)).toBe('null');
    expect(() => encodeData(JSON.parse(nested(65)))).toThrow(/deeper than 64/);
    expect(() => encodeData(JSON.parse(nested(3)), 2)).toThrow(/deeper than 2/);
    expect(() => encodeData(10n)).toThrow(
      expect.objectContaining({ code: 'COMET_ERR_MESSAGE_INVALID' }),
    );
  });
});
