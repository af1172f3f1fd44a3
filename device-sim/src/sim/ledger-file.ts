import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceLedger } from './simulated-device.ts';

// One file per simulator process; timestamps sorted and stored as differences, so a ten-minute
// run of a few thousand devices stays a few megabytes.
interface LedgerFile {
  readonly version: 1;
  readonly devices: Record<string, { readonly acked: number[]; readonly commands: string[] }>;
}

let written = 0;

/** Writes the ledgers of one process's devices into `dir` (a file of its own). */
export function writeLedgerFile(dir: string, ledgers: ReadonlyMap<string, DeviceLedger>): string {
  mkdirSync(dir, { recursive: true });
  const devices: LedgerFile['devices'] = {};
  for (const [id, ledger] of ledgers) {
    const sorted = [...ledger.acked].sort((a, b) => a - b);
    const deltas = sorted.map((ts, i) => (i === 0 ? ts : ts - sorted[i - 1]!));
    devices[id] = { acked: deltas, commands: ledger.commands };
  }
  const file = join(dir, `ledger-${process.pid}-${Date.now()}-${written++}.json`);
  writeFileSync(file, JSON.stringify({ version: 1, devices } satisfies LedgerFile));
  return file;
}

/** Reads every ledger file in `dir` into one map by device id, timestamps ascending. */
export function readLedgers(dir: string): Map<string, DeviceLedger> {
  const all = new Map<string, DeviceLedger>();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith('ledger-') || !name.endsWith('.json')) continue;
    const file = JSON.parse(readFileSync(join(dir, name), 'utf8')) as LedgerFile;
    for (const [id, { acked, commands }] of Object.entries(file.devices)) {
      let ts = 0;
      const times = acked.map((delta) => {
        ts += delta;
        return ts;
      });
      const known = all.get(id);
      if (known) {
        known.acked.push(...times);
        known.acked.sort((a, b) => a - b);
        known.commands.push(...commands);
      } else {
        all.set(id, { acked: times, commands });
      }
    }
  }
  return all;
}
