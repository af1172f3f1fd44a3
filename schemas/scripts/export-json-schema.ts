// Writes schemas/json/ from the zod schemas; with --check, writes nothing and fails when the
// checked-in files differ, so CI catches a schema change committed without its JSON Schema.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findJsonSchemaDrift, renderJsonSchemaFiles } from '../src/json-schema-files.ts';

const outDir = fileURLToPath(new URL('../json/', import.meta.url));
const check = process.argv.includes('--check');

const files = renderJsonSchemaFiles();
const drift = await findJsonSchemaDrift(outDir, files);
const changed = drift.stale.length + drift.missing.length + drift.extra.length;

if (check) {
  if (changed === 0) {
    console.log(`schemas/json: ${files.size} files up to date`);
  } else {
    const lines = [
      ...drift.stale.map((path) => `  stale:   ${path}`),
      ...drift.missing.map((path) => `  missing: ${path}`),
      ...drift.extra.map((path) => `  extra:   ${path}`),
    ];
    console.error(
      `schemas/json is out of date:\n${lines.join('\n')}\nrun \`npm run schemas:export\``,
    );
    process.exitCode = 1;
  }
} else {
  for (const path of [...drift.stale, ...drift.missing]) {
    const target = join(outDir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, files.get(path) ?? '');
  }
  for (const path of drift.extra) await rm(join(outDir, path));
  console.log(
    `schemas/json: ${files.size} files, ${drift.stale.length} updated, ${drift.missing.length} added, ${drift.extra.length} removed`,
  );
}
