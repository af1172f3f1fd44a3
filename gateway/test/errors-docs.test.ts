import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERRORS } from '../src/errors.ts';

const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error codes and docs/errors.md', () => {
  it('documents every code with its status', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      const row = docs
        .split('\n')
        .find((line) => new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`).test(line));
      assert.ok(row, `docs/errors.md lacks a row for ${code}`);
      const s = spec as { status?: number };
      if (s.status !== undefined) {
        assert.match(row, new RegExp(`\\|\\s*${s.status}\\s*\\|`), `${code}: status ${s.status}`);
      }
    }
  });

  it('documents no code that does not exist', () => {
    const documented = [...docs.matchAll(/^\|\s*`([a-z_]+)`\s*\|/gm)].map((m) => m[1]);
    for (const code of documented)
      assert.ok(code && code in ERRORS, `${code} is documented but not defined`);
  });

  it('uses distinct close codes', () => {
    const closes = Object.values(ERRORS)
      .filter((s) => s.surface === 'close')
      .map((s) => (s as { status: number }).status);
    assert.equal(new Set(closes).size, closes.length);
  });
});
