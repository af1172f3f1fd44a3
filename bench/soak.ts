#!/usr/bin/env -S node --import tsx
// `npm run soak [-- --minutes N --devices N]`: the whole stack under real faults, then checked.
// See SOAK_USAGE (--help) and BENCHMARKS.md ("Soak").
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './src/machine.ts';
import { replaceSection } from './src/report.ts';
import { runSoak } from './src/soak/run-soak.ts';
import { parseSoakArgs, SOAK_USAGE } from './src/soak/soak-options.ts';
import { renderSoak, soakHeader } from './src/soak/soak-report.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(BENCH_DIR, '..');

const argv = process.argv.slice(2);
let options: ReturnType<typeof parseSoakArgs>;
try {
  options = parseSoakArgs(argv);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n\n${SOAK_USAGE}`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(SOAK_USAGE);
  process.exit(0);
}

const started = performance.now();
const startedAt = new Date().toISOString();
const log = (text: string) => {
  const s = Math.floor((performance.now() - started) / 1000);
  const stamp = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  process.stderr.write(`[soak ${stamp}] ${text}\n`);
};

const result = await runSoak(options, log);
const markdown = renderSoak(result);
const command = `npm run soak${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else process.stderr.write(`\n${markdown}\n`);

if (options.write) {
  const machine = machineInfo();
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `soak-${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ startedAt, command, machine, ...result }, null, 2)}\n`);
  const link = relative(ROOT, file);
  replaceSection(
    join(ROOT, 'BENCHMARKS.md'),
    '<!-- soak results: begin -->',
    '<!-- soak results: end -->',
    `${soakHeader(startedAt, command, machine)}\n\n${markdown}\nRaw numbers: [${link}](${link}).`,
    'Soak: the whole stack under faults',
  );
  log(`results written to ${link} and BENCHMARKS.md`);
}
for (const c of result.checks.filter((c) => !c.ok)) log(`FAILED: ${c.name}: ${c.detail}`);
process.exit(result.ok ? 0 : 1);
