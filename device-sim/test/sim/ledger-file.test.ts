import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readLedgers, writeLedgerFile } from '../../src/sim/ledger-file.ts';

test('ledgers of several processes read back as one, times ascending, repeats kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-'));
  try {
    writeLedgerFile(
      dir,
      new Map([
        ['a', { acked: [1_700_000_000_003, 1_700_000_000_001], commands: ['c1', 'c1'] }],
        ['b', { acked: [], commands: [] }],
      ]),
    );
    writeLedgerFile(dir, new Map([['a', { acked: [1_700_000_000_002], commands: ['c2'] }]]));
    const all = readLedgers(dir);
    assert.deepEqual(all.get('a'), {
      acked: [1_700_000_000_001, 1_700_000_000_002, 1_700_000_000_003],
      commands: ['c1', 'c1', 'c2'],
    });
    assert.deepEqual(all.get('b'), { acked: [], commands: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
