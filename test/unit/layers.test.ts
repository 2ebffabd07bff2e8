/**
 * The shape of lib/ (docs/architecture.md): one folder per concern, and
 * imports that run one way only, from the concerns that hold requests open
 * down to the bus and the shared basics. A file importing "up" (the wire
 * format reaching into a stream session, the hub into the long-poll waiter)
 * fails here, naming the file and the import.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const lib = join(root, 'lib');

/** Each folder of lib/ and the folders it may import from (besides itself). */
const allowed: Readonly<Record<string, readonly string[]>> = {
  base: [],
  suspend: ['base'],
  bus: ['base'],
  wire: ['base', 'bus'],
  hub: ['base', 'bus', 'suspend', 'wire'],
  longpoll: ['base', 'bus', 'suspend', 'wire', 'hub'],
  stream: ['base', 'bus', 'suspend', 'wire', 'hub'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*'([^']+)'/g)) {
    if (match[1] !== undefined) found.push(match[1]);
  }
  return found;
}

/** The lib/ folder a path is in, or undefined outside lib/. */
function folderOf(path: string): string | undefined {
  const rel = relative(lib, path);
  if (rel.startsWith('..')) return undefined;
  return rel.split('/')[0];
}

const files = sources(lib);

describe('lib/ layers', () => {
  it('has every file in a concern folder (none loose at the root)', () => {
    const loose = files.filter((f) => dirname(f) === lib).map((f) => relative(root, f));
    expect(loose).toEqual([]);
    const folders = new Set(files.map((f) => folderOf(f)));
    expect([...folders].sort()).toEqual(Object.keys(allowed).sort());
  });

  it('imports one way: no folder reaches a folder above it', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = folderOf(file);
      if (from === undefined) continue;
      for (const spec of specifiers(file)) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(file), spec);
        const to = folderOf(target);
        if (to === undefined) wrong.push(`${relative(root, file)} imports ${spec} (outside lib/)`);
        else if (to !== from && !allowed[from]?.includes(to))
          wrong.push(`${relative(root, file)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('never imports Koa or the router (lib/ is plain node:http)', () => {
    const koa = files.filter((file) =>
      specifiers(file).some((s) => s === 'koa' || s.startsWith('@koa/') || s.startsWith('koa-')),
    );
    expect(koa.map((f) => relative(root, f))).toEqual([]);
  });

  it('is reached from the browser client only through the type-only transport names', () => {
    const reached = sources(join(root, 'client'))
      .flatMap((file) => specifiers(file).map((spec) => resolve(dirname(file), spec)))
      .filter((target) => folderOf(target) !== undefined)
      .map((target) => relative(root, target));
    expect([...new Set(reached)]).toEqual(['lib/wire/transport-names.js']);
  });
});
