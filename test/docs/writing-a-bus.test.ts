/**
 * docs/guides/writing-a-bus.md shows a complete bus; this runs koa-comet's
 * bus contract against it (as a third party would, through
 * `koa-comet/testing`) and checks the guide shows the file as it is.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createArrayBus } from '../../docs/examples/bus/array-bus.js';
import { busContract } from '../../testing.js';
import { blocksOf } from './regions.js';

busContract('array bus (docs/guides/writing-a-bus.md)', {
  create: async ({ historyLimit }) => createArrayBus({ historyLimit }),
  loseHistory: async (bus) => {
    await bus.close();
    return createArrayBus();
  },
});

const root = new URL('../../', import.meta.url);
const guide = readFileSync(new URL('docs/guides/writing-a-bus.md', root), 'utf8');

describe('docs/guides/writing-a-bus.md', () => {
  const blocks = blocksOf(guide).filter((b) => b.lang === 'ts');

  it('every code block says above it whether it is a complete file or a fragment', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const block of blocks) expect(block.caption, `line ${block.line}`).toBeDefined();
  });

  it('shows docs/examples/bus/array-bus.ts as it is, importing koa-comet', () => {
    const path = 'docs/examples/bus/array-bus.ts';
    const shown = blocks.find((b) => b.caption?.kind === 'file' && b.caption.path === path);
    expect(shown, `a File \`${path}\`: block`).toBeDefined();
    const source = readFileSync(new URL(path, root), 'utf8').replaceAll(
      `'../../../index.js'`,
      `'koa-comet'`,
    );
    expect(shown?.code).toBe(source.trimEnd());
  });
});
