/**
 * lib/wire/envelope.ts: the envelope and batch JSON round-trip through
 * JSON.parse, are encoded once per message, and the stream helpers add the
 * cursor / build the reset frame.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../lib/bus/bus.js';
import { createEnvelopeCache, resetJson, withCursor } from '../../../lib/wire/envelope.js';

const message = (id: string, data: unknown, channel = 'room'): Message => ({
  id,
  channel,
  data,
  time: 0,
});

describe('envelope cache', () => {
  it('round-trips id, channel and data of any JSON value', () => {
    const cache = createEnvelopeCache();
    const values = [
      { text: 'hi', n: 1.5, nested: { list: [true, null] } },
      'a "quoted"\n\u2028 string',
      0,
      false,
      null,
      [],
      '😀',
    ];
    for (const data of values) {
      const text = cache.envelope(message('k-1', data));
      expect(JSON.parse(text)).toEqual({ id: 'k-1', channel: 'room', data });
    }
  });

  it('keeps all three keys for undefined data (as null)', () => {
    const cache = createEnvelopeCache();
    expect(JSON.parse(cache.envelope(message('k-1', undefined)))).toEqual({
      id: 'k-1',
      channel: 'room',
      data: null,
    });
  });

  it('encodes a message once: the same text for every later use', () => {
    const cache = createEnvelopeCache();
    const m = message('k-1', { big: 'x'.repeat(1000) });
    const first = cache.envelope(m);
    // Changing the data behind the cache's back shows whether it encodes again.
    (m as { data: unknown }).data = 'changed';
    expect(cache.envelope(m)).toBe(first);
    expect(cache.batch({ messages: [m], cursor: 'k-1', gap: false })).toContain(first);
    // Another cache (another hub) encodes for itself.
    expect(JSON.parse(createEnvelopeCache().envelope(m)).data).toBe('changed');
  });

  it('batch: messages in order, cursor and gap, parseable', () => {
    const cache = createEnvelopeCache();
    const ms = [message('k-1', 1), message('k-2', { a: 2 }, 'other')];
    const text = cache.batch({ messages: ms, cursor: 'k-2', gap: false });
    expect(JSON.parse(text)).toEqual({
      messages: [
        { id: 'k-1', channel: 'room', data: 1 },
        { id: 'k-2', channel: 'other', data: { a: 2 } },
      ],
      cursor: 'k-2',
      gap: false,
    });
    expect(cache.batch({ messages: [], cursor: 'c."\\', gap: true })).toBe(
      '{"messages":[],"cursor":"c.\\"\\\\","gap":true}',
    );
  });

  it('sharedBatch remembers the text per batch object, not per content', () => {
    const cache = createEnvelopeCache();
    const m = message('k-1', 1);
    const batch = { messages: [m], cursor: 'k-1', gap: false };
    const text = cache.sharedBatch(batch);
    expect(text).toBe(cache.batch(batch));
    (batch as { cursor: string }).cursor = 'changed';
    expect(cache.sharedBatch(batch)).toBe(text);
    expect(cache.sharedBatch({ ...batch })).toContain('"changed"');
  });
});

describe('stream helpers', () => {
  it('withCursor adds the combined cursor as a fourth key', () => {
    const cache = createEnvelopeCache();
    const text = withCursor(cache.envelope(message('k-1', { a: 1 })), 'c.abcdk-1');
    expect(JSON.parse(text)).toEqual({
      id: 'k-1',
      channel: 'room',
      data: { a: 1 },
      cursor: 'c.abcdk-1',
    });
  });

  it('resetJson is the gap frame', () => {
    expect(JSON.parse(resetJson('k-9'))).toEqual({ gap: true, cursor: 'k-9' });
    expect(resetJson('k-9')).toBe('{"gap":true,"cursor":"k-9"}');
  });
});
