import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, release, totalmem } from 'node:os';

const require = createRequire(import.meta.url);

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly openFilesLimit: string;
}

export interface Versions {
  readonly node: string;
  readonly ws: string;
  readonly socketIo: string;
  readonly influxdb: string;
  readonly mosquitto: string;
  readonly gatewayCommit: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // Not Linux: os.cpus() it is.
  }
  let openFilesLimit = 'unknown';
  try {
    const match = /^Max open files\s+(\d+)\s+(\d+)/m.exec(
      readFileSync('/proc/self/limits', 'utf8'),
    );
    if (match) openFilesLimit = match[1]!;
  } catch {
    // Not Linux.
  }
  return {
    cpuModel,
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    openFilesLimit,
  };
}

function packageVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return 'unknown';
  }
}

function run(binary: string, args: string[]): string {
  try {
    return execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // `mosquitto -h` prints its version and exits 3.
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

function binary(envVar: string, name: string, dirs: readonly string[]): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...dirs]) {
    if (dir && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return name;
}

/** Versions of everything measured; InfluxDB's from its /ping header when a server is up. */
export async function versions(influxUrl?: string): Promise<Versions> {
  let influxdb = 'unknown';
  if (influxUrl) {
    try {
      const response = await fetch(`${influxUrl}/ping`);
      influxdb = response.headers.get('x-influxdb-version') ?? influxdb;
    } catch {
      // Fall back to the binary.
    }
  }
  if (influxdb === 'unknown') {
    const out = run(binary('INFLUXD_BIN', 'influxd', ['/usr/sbin']), ['version']);
    influxdb = /v?(\d+\.\d+\.\d+\S*)/.exec(out)?.[1] ?? 'unknown';
  }
  const mosquittoOut = run(binary('MOSQUITTO_BIN', 'mosquitto', ['/usr/sbin', '/usr/local/sbin']), [
    '-h',
  ]);
  const mosquitto = /mosquitto version (\S+)/.exec(mosquittoOut)?.[1] ?? 'unknown';
  let gatewayCommit = 'unknown';
  try {
    const head = run('git', ['rev-parse', '--short', 'HEAD']).trim();
    const dirty = run('git', ['status', '--porcelain', '--untracked-files=no']).trim() !== '';
    if (head) gatewayCommit = `${head}${dirty ? ' (with uncommitted changes)' : ''}`;
  } catch {
    // Not a git checkout.
  }
  return {
    node: process.version,
    ws: packageVersion('ws'),
    socketIo: packageVersion('socket.io'),
    influxdb,
    mosquitto,
    gatewayCommit,
  };
}
