import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HarnessError, startInfluxDB } from '../src/index.ts';

// Stand-in binaries let these tests provoke failures a real influxd rarely shows on demand.
describe('server start failures', () => {
  let bin: string;
  let tmp: string;

  before(async () => {
    bin = await mkdtemp(join(tmpdir(), 'iot-gateway-fake-bin-'));
    tmp = join(bin, 'tmp');
    await mkdir(tmp);
  });

  after(() => rm(bin, { recursive: true, force: true }));

  async function fakeBinary(name: string, script: string): Promise<string> {
    const path = join(bin, name);
    await writeFile(path, `#!/bin/sh\n${script}\n`);
    await chmod(path, 0o755);
    return path;
  }

  async function withEnv<T>(vars: Record<string, string>, run: () => Promise<T>): Promise<T> {
    const previous = Object.keys(vars).map((name) => [name, process.env[name]] as const);
    Object.assign(process.env, vars);
    try {
      return await run();
    } finally {
      for (const [name, value] of previous) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  }

  test('reports a server that exits at once with its exit code and output', async () => {
    const path = await fakeBinary(
      'crashing-influxd',
      'echo "run: open server: invalid config" >&2\nexit 3',
    );
    await withEnv({ INFLUXD_BIN: path, TMPDIR: tmp }, async () => {
      await assert.rejects(startInfluxDB(), (error: unknown) => {
        assert.ok(error instanceof HarnessError);
        assert.equal(error.code, 'TESTING_ERR_SERVER_EXITED');
        assert.match(
          error.message,
          /^influxd exited \(code 3\) before it was ready on port \d+; last lines of its output:\nrun: open server: invalid config$/,
        );
        return true;
      });
    });
    assert.deepEqual(await readdir(tmp), [], 'the failed server left its data directory behind');
  });

  test('gives up after startTimeoutMs, kills the server and says so', async () => {
    const pidFile = join(bin, 'hanging.pid');
    const path = await fakeBinary('hanging-influxd', `echo $$ > ${pidFile}\nexec sleep 30`);
    await withEnv({ INFLUXD_BIN: path }, async () => {
      await assert.rejects(startInfluxDB({ startTimeoutMs: 200 }), (error: unknown) => {
        assert.ok(error instanceof HarnessError);
        assert.equal(error.code, 'TESTING_ERR_START_TIMEOUT');
        assert.match(
          error.message,
          /^influxd was not ready on port \d+ within 200 ms; it wrote nothing to stdout or stderr$/,
        );
        return true;
      });
    });
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  });

  test('retries on fresh ports when another process took a chosen port', async () => {
    const marker = join(bin, 'port-taken-once');
    const path = await fakeBinary(
      'port-stealing-influxd',
      `if [ ! -e ${marker} ]; then\n  touch ${marker}\n` +
        '  echo "run: open server: listen tcp 127.0.0.1:1: bind: address already in use" >&2\n' +
        `  exit 1\nfi\nexec ${process.env['INFLUXD_BIN'] ?? 'influxd'} "$@"`,
    );
    await withEnv({ INFLUXD_BIN: path }, async () => {
      const influx = await startInfluxDB();
      after(() => influx.stop());
      assert.deepEqual(await influx.query('SHOW DATABASES'), []);
    });
  });
});
