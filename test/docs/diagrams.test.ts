/**
 * The Mermaid diagrams in the docs are valid: each ```mermaid block of the
 * Markdown pages is parsed and rendered to SVG by the real `mermaid` library
 * in headless Chromium (as GitHub and doc sites render them). Set
 * `DIAGRAMS_OUT=<folder>` to also get a PNG screenshot of each, to look at.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../browser/harness.js';
import { repoRoot } from '../package/pack.js';
import { blocksOf } from './regions.js';

const pages = [
  'README.md',
  ...readdirSync(join(repoRoot, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((p) => p.endsWith('.md'))
    .map((p) => join('docs', p)),
];
const diagrams = pages.flatMap((page) =>
  blocksOf(readFileSync(join(repoRoot, page), 'utf8'))
    .filter((b) => b.lang === 'mermaid')
    .map((b) => ({ name: `${page}:${b.line}`, code: b.code })),
);
const mermaidBundle = join(repoRoot, 'node_modules/mermaid/dist/mermaid.min.js');

describe('Mermaid diagrams in the docs', () => {
  it('cover the async context, a long-poll with cursor and gap, the fallback ladder, Redis + nginx', () => {
    const find = (page: string, pattern: RegExp) =>
      diagrams.filter((d) => d.name.startsWith(page) && pattern.test(d.code));
    expect(find('docs/architecture.md', /^stateDiagram/)).toHaveLength(1);
    expect(find('docs/tutorial.md', /^sequenceDiagram[\s\S]*cursor[\s\S]*gap: true/)).toHaveLength(
      1,
    );
    expect(
      find('docs/tutorial.md', /^flowchart[\s\S]*WebSocket[\s\S]*JSONP[\s\S]*iframe/),
    ).toHaveLength(1);
    expect(find('docs/guides/deploy.md', /^flowchart[\s\S]*nginx[\s\S]*Redis/)).toHaveLength(1);
  });

  it('use no `#` in labels (it starts an entity code: `#1` silently cuts a label short)', () => {
    for (const d of diagrams) expect(d.code, d.name).not.toMatch(/#\w/);
  });
});

const haveChromium = existsSync(chromiumPath);
if (!haveChromium && process.env.CI !== 'true') {
  console.warn(
    `\n!!! Mermaid rendering SKIPPED — no Chromium at ${chromiumPath}; under CI=true this fails.\n`,
  );
}

describe.skipIf(!haveChromium && process.env.CI !== 'true')('Mermaid rendering in Chromium', () => {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it.each(diagrams.map((d) => [d.name, d] as const))(
    '%s parses and renders to SVG',
    async (_, d) => {
      const page = await browser!.newPage();
      try {
        await page.setContent('<!doctype html><body><div id="out"></div></body>');
        await page.addScriptTag({ path: mermaidBundle });
        const result = await page.evaluate(async (code) => {
          // biome-ignore lint/suspicious/noExplicitAny: page globals (the bundle's `mermaid`, the DOM) that Node's lib does not type
          const { mermaid, document } = globalThis as any;
          mermaid.initialize({ startOnLoad: false });
          try {
            await mermaid.parse(code);
            const { svg } = await mermaid.render('diagram', code);
            document.getElementById('out').innerHTML = svg;
            return { svg: String(svg), error: '' };
          } catch (error) {
            return { svg: '', error: String((error as Error)?.message ?? error) };
          }
        }, d.code);
        expect(result.error).toBe('');
        expect(result.svg).toMatch(/^<svg/);
        expect(result.svg).not.toContain('Syntax error');
        const out = process.env.DIAGRAMS_OUT;
        if (out) {
          mkdirSync(out, { recursive: true });
          const file = d.name.replace(/[/:.]/g, '_');
          await page.locator('#out svg').screenshot({ path: join(out, `${file}.png`) });
        }
      } finally {
        await page.close();
      }
    },
  );
});
