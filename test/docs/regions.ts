/**
 * Reading `#region` blocks out of `docs/examples/` files and the region
 * references out of markdown, for the snippet check (`snippets.test.ts`).
 *
 * A region is the lines between `// #region NAME` and `// #endregion NAME`
 * (`# #region NAME` in files with `#` comments, like `nginx.conf`). Marker
 * lines of nested regions are dropped, the common indentation is removed,
 * and leading/trailing blank lines are trimmed. The region named `*` is the
 * whole file (marker lines dropped), for a sample that shows a complete file.
 *
 * Import normalisation: examples import the package as `'../../index.js'`
 * (the repo's entry, so they run from a checkout); the tutorial shows what a
 * user writes, `'koa-comet'`. {@link normaliseImports} maps the first to the
 * second before comparing; nothing else is rewritten.
 */

const MARKER = /^\s*(?:\/\/|#)\s*#(region|endregion)\s+(\S+)\s*$/;

/** The regions of one file, by name. */
export function regionsOf(source: string, file: string): Map<string, string> {
  const lines = source.split('\n');
  const open = new Map<string, number>();
  const regions = new Map<string, string>();
  lines.forEach((line, index) => {
    const match = MARKER.exec(line);
    if (!match) return;
    const [, kind, name] = match as unknown as [string, string, string];
    if (kind === 'region') {
      if (open.has(name) || regions.has(name)) throw new Error(`${file}: region ${name} twice`);
      open.set(name, index);
      return;
    }
    const start = open.get(name);
    if (start === undefined) throw new Error(`${file}: #endregion ${name} without #region`);
    open.delete(name);
    const body = lines.slice(start + 1, index).filter((l) => !MARKER.test(l));
    regions.set(name, dedent(body));
  });
  if (open.size > 0) throw new Error(`${file}: unclosed region(s) ${[...open.keys()].join(', ')}`);
  regions.set('*', dedent(lines.filter((l) => !MARKER.test(l))));
  return regions;
}

/** Removes the indentation common to every non-blank line; trims blank lines at both ends. */
export function dedent(lines: readonly string[]): string {
  const body = [...lines];
  while (body.length > 0 && body[0]!.trim() === '') body.shift();
  while (body.length > 0 && body.at(-1)!.trim() === '') body.pop();
  const indents = body.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length);
  const cut = indents.length > 0 ? Math.min(...indents) : 0;
  return body.map((l) => (l.trim() === '' ? '' : l.slice(cut))).join('\n');
}

/** `from '../../index.js'` → `from 'koa-comet'` (see the module comment). */
export function normaliseImports(code: string): string {
  return code.replaceAll(`'../../index.js'`, `'koa-comet'`);
}

/**
 * The visible line that says what a block is: `File \`path\`:` (a complete file
 * of the reader's project) or `Fragment of \`path\`:` (also as a link,
 * ``Fragment of [`path`](…):``).
 */
export interface BlockCaption {
  readonly kind: 'file' | 'fragment';
  readonly path: string;
}

const CAPTION = /^(File|Fragment of) \[?`([^`]+)`(?:\]\([^)]*\))?:$/;

/** One fenced code block of a markdown page, with the region comment before it, if any. */
export interface MarkdownBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  /** `{ file, name }` from `<!-- region: file#name -->` right before the fence. */
  readonly region: { file: string; name: string } | undefined;
  /** The caption line right before the block (the region comment may sit between). */
  readonly caption: BlockCaption | undefined;
}

const REGION_COMMENT = /^<!--\s*region:\s*([\w.-]+)#([\w*-]+)\s*-->$/;

/** Every fenced block of `markdown`; a region comment applies to the next fence after blank lines. */
export function blocksOf(markdown: string): MarkdownBlock[] {
  const lines = markdown.split('\n');
  const blocks: MarkdownBlock[] = [];
  let pending: { file: string; name: string } | undefined;
  let lastText = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const comment = REGION_COMMENT.exec(line.trim());
    if (comment) {
      pending = { file: comment[1]!, name: comment[2]! };
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence) {
      const end = lines.indexOf('```', i + 1);
      if (end === -1) throw new Error(`unclosed code fence at line ${i + 1}`);
      const caption = CAPTION.exec(lastText);
      blocks.push({
        line: i + 1,
        lang: fence[1]!,
        code: lines.slice(i + 1, end).join('\n'),
        region: pending,
        caption: caption
          ? { kind: caption[1] === 'File' ? 'file' : 'fragment', path: caption[2]! }
          : undefined,
      });
      pending = undefined;
      lastText = '';
      i = end;
      continue;
    }
    if (line.trim() !== '') {
      pending = undefined;
      lastText = line.trim();
    }
  }
  return blocks;
}
