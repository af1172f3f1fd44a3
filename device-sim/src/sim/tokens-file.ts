import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { DeviceSpec } from './fleet-plan.ts';

const entrySchema = z.union([
  z.string().min(1),
  z.strictObject({ token: z.string().min(1), type: z.string().min(1).optional() }),
]);
const fileSchema = z.record(z.string().min(1).max(128), entrySchema);

/**
 * Reads a tokens file: `{"id": "token"}` or `{"id": {"token", "type"}}`. Devices without a type
 * get `defaultType`.
 */
export async function readTokensFile(
  path: string,
  defaultType: (index: number) => string,
): Promise<DeviceSpec[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`--tokens: cannot read ${path}: ${(error as Error).message}`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.join('.') || '(file)'}: ${i.message}`,
    );
    throw new Error(
      `--tokens: ${path} is not {"id": "token"} or {"id": {"token", "type"}}:\n  ${problems.join('\n  ')}`,
    );
  }
  return Object.entries(parsed.data).map(([id, entry], index) =>
    typeof entry === 'string'
      ? { id, token: entry, type: defaultType(index) }
      : { id, token: entry.token, type: entry.type ?? defaultType(index) },
  );
}

/** Writes the fleet's tokens (mode 0600: they are secrets). */
export async function writeTokensFile(path: string, devices: readonly DeviceSpec[]): Promise<void> {
  const out: Record<string, { token: string; type: string }> = {};
  for (const d of devices) out[d.id] = { token: d.token, type: d.type };
  await writeFile(path, `${JSON.stringify(out, null, 2)}\n`, { mode: 0o600 });
}
