/**
 * `docs/reference/api.md` documents exactly the public API: every name
 * `index.ts` exports (values and types) has a `### name` heading, and no
 * heading names something the entry does not export. The names are read
 * from the source of `index.ts` (so type-only exports count) and checked
 * against the runtime exports (so the parse cannot silently miss values).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as entry from '../../index.js';

const root = new URL('../../', import.meta.url);
const indexSource = readFileSync(new URL('index.ts', root), 'utf8');
const api = readFileSync(new URL('docs/reference/api.md', root), 'utf8');

/** Names exported by `export { … } from` / `export type { … } from` / `export … name` in `source`. */
function exportedNames(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  if (/export\s+\*/.test(code)) throw new Error('index.ts uses `export *`: list names explicitly');
  const names = new Set<string>();
  for (const [, list] of code.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of list!.split(',')) {
      const item = part.trim().replace(/^type\s+/, '');
      if (item === '') continue;
      const alias = /\sas\s+([\w$]+)$/.exec(item);
      names.add(alias ? alias[1]! : item);
    }
  }
  const declaration =
    /export\s+(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:const|let|function\*?|class|interface|type|enum)\s+([\w$]+)/g;
  for (const [, name] of code.matchAll(declaration)) names.add(name!);
  return [...names].sort();
}

const exported = exportedNames(indexSource);
const headings = [...api.matchAll(/^### (\S+)\s*$/gm)].map((m) => m[1]!);

describe('docs/reference/api.md', () => {
  it('the parse of index.ts finds every runtime export', () => {
    const runtime = Object.keys(entry).sort();
    expect(runtime.length).toBeGreaterThan(10);
    expect(runtime.filter((name) => !exported.includes(name))).toEqual([]);
  });

  it('the parser reads type-only, aliased and declared exports', () => {
    expect(
      exportedNames(
        "export { a, type B, c as d } from './x.js';\nexport type { E } from './y.js';\nexport const f = 1;\n// export { g }",
      ),
    ).toEqual(['B', 'E', 'a', 'd', 'f']);
  });

  it('has a ### heading for every export of index.ts', () => {
    expect(exported.filter((name) => !headings.includes(name))).toEqual([]);
  });

  it('documents no name index.ts does not export, and each only once', () => {
    expect(headings.filter((name) => !exported.includes(name))).toEqual([]);
    expect(headings.filter((name, i) => headings.indexOf(name) !== i)).toEqual([]);
  });

  it('gives every entry a signature block', () => {
    const sections = api.split(/^### /m).slice(1);
    const bare = sections.filter((s) => !s.includes('```ts')).map((s) => s.split('\n')[0]);
    expect(bare).toEqual([]);
  });
});
