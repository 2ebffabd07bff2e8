/**
 * The tutorial cannot drift from the code. Every code sample in
 * `docs/tutorial.md` says above it what it is: `File \`path\`:` (a complete
 * file of the reader's project, type-checked as written by
 * `tutorial-project.test.ts`) or `Fragment of \`docs/examples/…\`:` — a region
 * of that file (which `examples*.test.ts` run), equal to the region's text
 * exactly after removing the common indentation and mapping the import
 * specifier `'../../index.js'` to `'koa-comet'` (see `regions.ts`). A complete
 * file may also be a whole example file (region `*`). Every example file is
 * shown or linked. Shell commands, output (`text`) and diagrams are not checked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { blocksOf, dedent, normaliseImports, regionsOf } from './regions.js';

const root = new URL('../../', import.meta.url);
const examplesDir = fileURLToPath(new URL('docs/examples/', root));
const tutorial = readFileSync(new URL('docs/tutorial.md', root), 'utf8');
const blocks = blocksOf(tutorial);
const checkedLanguages = new Set(['ts', 'typescript', 'js', 'javascript', 'nginx']);
const captionedLanguages = new Set([...checkedLanguages, 'json']);
// Files only: docs/examples/support/ is test plumbing the tutorial does not show.
const exampleFiles = readdirSync(examplesDir, { withFileTypes: true })
  .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
  .map((entry) => entry.name);

function regions(file: string): Map<string, string> {
  return regionsOf(readFileSync(`${examplesDir}${file}`, 'utf8'), file);
}

describe('region extraction', () => {
  it('drops nested markers and common indentation; rejects unclosed or repeated regions', () => {
    const source = [
      'x',
      '  // #region outer',
      '  a();',
      '  // #region inner',
      '    b();',
      '  // #endregion inner',
      '  // #endregion outer',
    ].join('\n');
    const found = regionsOf(source, 'f.ts');
    expect(found.get('outer')).toBe('a();\n  b();');
    expect(found.get('inner')).toBe('b();');
    expect(() => regionsOf('// #region a\n', 'f.ts')).toThrow(/unclosed/);
    expect(() => regionsOf('// #region a\n// #endregion a\n// #region a\n', 'f.ts')).toThrow(
      /twice/,
    );
    expect(dedent(['', '    x', '', '      y', ''])).toBe('x\n\n  y');
  });

  it("maps only the '../../index.js' specifier to 'koa-comet'", () => {
    expect(normaliseImports(`import { comet } from '../../index.js';`)).toBe(
      `import { comet } from 'koa-comet';`,
    );
    expect(normaliseImports(`import { x } from './01-first-longpoll.js';`)).toBe(
      `import { x } from './01-first-longpoll.js';`,
    );
  });
});

describe('docs/tutorial.md', () => {
  it('has region-checked samples and complete files', () => {
    expect(blocks.filter((b) => b.region).length).toBeGreaterThanOrEqual(15);
    expect(blocks.filter((b) => b.caption?.kind === 'file').length).toBeGreaterThanOrEqual(4);
  });

  it.each(
    blocks
      .filter((b) => captionedLanguages.has(b.lang))
      .map((b) => [`line ${b.line} (${b.lang})`, b] as const),
  )('%s: says above it whether it is a complete file or a fragment of one', (_, block) => {
    expect(block.caption, 'a `File `path`:` or `Fragment of `path`:` line').toBeDefined();
    if (block.region) {
      const shown =
        block.caption!.kind === 'file' ? 'whole file' : `docs/examples/${block.region.file}`;
      if (block.caption!.kind === 'file') expect(block.region.name).toBe('*');
      else expect(block.caption!.path, shown).toBe(`docs/examples/${block.region.file}`);
    }
  });

  it.each(
    blocks
      .filter((b) => checkedLanguages.has(b.lang) && b.caption?.kind !== 'file')
      .map((b) => [`line ${b.line}`, b] as const),
  )('%s: a fragment is a region of a docs/examples file, verbatim', (_, block) => {
    expect(
      block.region,
      'a code sample must be preceded by <!-- region: file#name -->',
    ).toBeDefined();
    const { file, name } = block.region!;
    expect(exampleFiles, `docs/examples/${file} exists`).toContain(file);
    const text = regions(file).get(name);
    expect(text, `${file} has a region named ${name}`).toBeDefined();
    expect(block.code).toBe(normaliseImports(text!));
  });

  it('every region comment is followed by a code block', () => {
    const comments = [...tutorial.matchAll(/<!--\s*region:/g)].length;
    expect(blocks.filter((b) => b.region).length).toBe(comments);
  });

  it('a complete file that is also a region is the whole example file', () => {
    for (const block of blocks.filter((b) => b.caption?.kind === 'file' && b.region)) {
      expect(block.code).toBe(normaliseImports(regions(block.region!.file).get('*')!));
    }
  });

  it('every docs/examples file is shown or linked at least once', () => {
    const shown = new Set(blocks.flatMap((b) => (b.region ? [b.region.file] : [])));
    for (const [, file] of tutorial.matchAll(/\]\(examples\/([\w.-]+)\)/g)) shown.add(file!);
    const unused = exampleFiles.filter((file) => !shown.has(file));
    expect(unused).toEqual([]);
  });
});
