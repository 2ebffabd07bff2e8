/**
 * Finishes `npm run build:client-types`: the client's declarations are emitted from
 * the repository root (they import the transport names from `lib/`, type-only), so
 * they land in `dist/client/types/client/` beside `dist/client/types/lib/`; this
 * writes the entry `dist/client/types/index.d.ts` that `koa-comet/client` names.
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const types = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'client', 'types');
writeFileSync(resolve(types, 'index.d.ts'), "export * from './client/index.js';\n");
