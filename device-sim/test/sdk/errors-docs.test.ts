import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SDK_ERRORS } from '../../src/index.ts';

describe('SDK error codes', () => {
  it('each has a row in docs/sdk.md, and the table lists no code the SDK lacks', () => {
    const docs = readFileSync(new URL('../../../docs/sdk.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('## Errors'), docs.indexOf('## Interfaces'));
    const rows = [...section.matchAll(/^\| `([a-z_]+)`\s+\|/gm)].map((m) => m[1]);
    assert.deepEqual(rows.sort(), Object.keys(SDK_ERRORS).sort());
    for (const [code, spec] of Object.entries(SDK_ERRORS)) {
      const row = section.split('\n').find((line) => line.startsWith(`| \`${code}\``))!;
      assert.match(row, spec.retryable ? /\| yes / : /\| no /, `${code}: retry column`);
    }
  });
});
