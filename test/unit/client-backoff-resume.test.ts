import { describe, expect, it } from 'vitest';
import { createBackoff } from '../../client/backoff.js';
import { createResumeState } from '../../client/resume.js';

describe('client backoff (exponential, full jitter)', () => {
  it('draws each delay uniformly below a cap that doubles up to the maximum', () => {
    const top = createBackoff({ initialDelayMs: 100, maxDelayMs: 1000 }, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 6].map(() => top.next())).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = createBackoff({ initialDelayMs: 100 }, () => 0);
    expect([bottom.next(), bottom.next()]).toEqual([0, 0]);
  });

  it('starts over after reset() and counts attempts', () => {
    const backoff = createBackoff({ initialDelayMs: 100, factor: 3 }, () => 0.5);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([50, 150, 450]);
    expect(backoff.attempt).toBe(3);
    backoff.reset();
    expect(backoff.attempt).toBe(0);
    expect(backoff.next()).toBe(50);
  });
});

describe('client resume state', () => {
  it('drops an id already delivered and moves the cursor to the last delivered id', () => {
    const state = createResumeState('a0');
    const m = (id: string) => ({ id, channel: 'c', data: null });
    expect(state.accept(m('a1'))).toBe(true);
    expect(state.accept(m('a2'))).toBe(true);
    expect(state.accept(m('a1'))).toBe(false);
    expect(state.cursor).toBe('a2');
    expect(state.delivered).toBe(true);
  });

  it('resumes from the combined cursor a frame of several channels carries', () => {
    const state = createResumeState(null);
    expect(state.accept({ id: 'a1', channel: 'c:a', data: null, cursor: 'm.x1' })).toBe(true);
    expect(state.cursor).toBe('m.x1');
    // Dedupe stays by the message's own id.
    expect(state.accept({ id: 'a1', channel: 'c:a', data: null, cursor: 'm.x2' })).toBe(false);
    expect(state.cursor).toBe('m.x1');
  });

  it('forgets ids past its window, oldest first', () => {
    const state = createResumeState(null, 2);
    const m = (id: string) => ({ id, channel: 'c', data: null });
    for (const id of ['1', '2', '3']) state.accept(m(id));
    expect(state.accept(m('3'))).toBe(false);
    expect(state.accept(m('2'))).toBe(false);
    expect(state.accept(m('1'))).toBe(true);
  });

  it('moves to a batch or gap cursor but never to an empty one', () => {
    const state = createResumeState(null);
    state.moveTo('h9');
    state.moveTo('');
    state.moveTo(null);
    expect(state.cursor).toBe('h9');
    expect(state.delivered).toBe(false);
  });
});
