import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CometError, errorCatalog, isCometError } from '../../../lib/base/errors.js';

const doc = readFileSync(new URL('../../../docs/reference/errors.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `(COMET_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => ({
  code: m[1] as string,
  status: Number(m[2]),
}));

describe('error catalog ↔ docs/reference/errors.md', () => {
  it('documents every catalog code with its status', () => {
    for (const [code, spec] of Object.entries(errorCatalog)) {
      expect(
        rows.find((r) => r.code === code),
        code,
      ).toEqual({ code, status: spec.status });
    }
  });

  it('documents no code the catalog lacks, and none twice', () => {
    for (const row of rows) expect(Object.keys(errorCatalog)).toContain(row.code);
    expect(new Set(rows.map((r) => r.code)).size).toBe(rows.length);
  });

  it('uses the COMET_ERR_<AREA>_<PROBLEM> shape', () => {
    for (const code of Object.keys(errorCatalog))
      expect(code).toMatch(/^COMET_ERR_[A-Z]+_[A-Z_]+$/);
  });
});

describe('CometError', () => {
  it('carries code, status and a JSON body; hides 5xx messages', () => {
    const bad = new CometError('COMET_ERR_CURSOR_MALFORMED');
    expect(bad.status).toBe(400);
    expect(bad.expose).toBe(true);
    expect(bad.toJSON()).toEqual({
      error: {
        code: 'COMET_ERR_CURSOR_MALFORMED',
        message: errorCatalog.COMET_ERR_CURSOR_MALFORMED.message,
      },
    });
    const internal = new CometError('COMET_ERR_ASYNC_STATE', 'secret detail');
    expect(internal.toJSON().error.message).toBe('Internal error');
  });

  it('isCometError recognises coded errors only', () => {
    expect(isCometError(new CometError('COMET_ERR_BUS_CLOSED'))).toBe(true);
    expect(isCometError(Object.assign(new Error('x'), { code: 'COMET_ERR_BUS_CLOSED' }))).toBe(
      true,
    );
    expect(isCometError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(false);
    expect(isCometError({ code: 'COMET_ERR_BUS_CLOSED' })).toBe(false);
  });
});
