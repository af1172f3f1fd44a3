import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { HarnessError, INSTALL_COMMAND } from './errors.ts';

/** How to locate one server binary and how to tell the user to install it. */
export interface BinarySpec {
  /** File name looked up on `PATH`, e.g. `influxd`. */
  readonly name: string;
  /** Environment variable that overrides the lookup with an explicit path. */
  readonly envVar: string;
  /** What to install, for the error message, e.g. `InfluxDB 1.x`. */
  readonly product: string;
}

// Debian installs mosquitto in /usr/sbin, which is not on PATH for most non-root users.
const FALLBACK_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin'];

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Resolves the path of a server binary: the `envVar` override if set, else `PATH`, else the
 * usual system directories.
 *
 * Not cached, so a test can point the override elsewhere and see the effect.
 *
 * @throws {@link HarnessError} `TESTING_ERR_BINARY_NOT_FOUND` naming the binary and the install
 *   command.
 */
export function findBinary(spec: BinarySpec): string {
  const install = `install ${spec.product} with \`${INSTALL_COMMAND}\``;
  const override = process.env[spec.envVar];
  if (override) {
    if (isExecutableFile(override)) return override;
    throw new HarnessError(
      'TESTING_ERR_BINARY_NOT_FOUND',
      `${spec.name} not found at ${override} (from ${spec.envVar}): ${install}, or point ${spec.envVar} at the binary`,
    );
  }
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...FALLBACK_DIRS];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, spec.name);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new HarnessError(
    'TESTING_ERR_BINARY_NOT_FOUND',
    `${spec.name} not found: ${install}, or set ${spec.envVar} to its path`,
  );
}
