/**
 * docs/reference/api-signatures.md is generated from the TSDoc by
 * `npm run docs:api` (TypeDoc); this fails when the committed file differs
 * from what the source generates now, so a changed signature or doc comment
 * needs `npm run docs:api` in the same commit.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { renderSignatures, signaturesPath } from '../../tools/api-signatures.js';

it('docs/reference/api-signatures.md is what `npm run docs:api` generates now', () => {
  const committed = readFileSync(signaturesPath, 'utf8');
  const generated = renderSignatures();
  expect(generated).toContain('### AsyncContext');
  expect(generated).toContain('### busContract()');
  expect(committed, 'stale: run `npm run docs:api` and commit the result').toBe(generated);
}, 120_000);
