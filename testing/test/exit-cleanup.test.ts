import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../src/index.ts';

const fixture = fileURLToPath(new URL('./fixtures/abandoned-services.ts', import.meta.url));

interface Abandoned {
  influx: string;
  mqtt: number;
  dirs: string[];
}

// Runs the fixture and resolves with what it started and how it ended.
function runFixture(
  mode: string,
  signal?: NodeJS.Signals,
): Promise<{ started: Abandoned; code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let started: Abandoned | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (started === undefined && stdout.includes('\n')) {
        started = JSON.parse(stdout.split('\n')[0] ?? '') as Abandoned;
        if (signal !== undefined) child.kill(signal);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fixture '${mode}' did not exit within 20 s; stderr:\n${stderr}`));
    }, 20_000);
    child.once('exit', (code, exitSignal) => {
      clearTimeout(timer);
      if (started === undefined) reject(new Error(`fixture '${mode}' failed:\n${stderr}`));
      else resolve({ started, code, signal: exitSignal });
    });
  });
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function assertNothingLeft(started: Abandoned): Promise<void> {
  await waitUntil(async () => !(await portAccepts(Number(new URL(started.influx).port))), {
    message: 'the abandoned influxd to stop listening',
  });
  await waitUntil(async () => !(await portAccepts(started.mqtt)), {
    message: 'the abandoned mosquitto to stop listening',
  });
  for (const dir of started.dirs) assert.equal(existsSync(dir), false, `${dir} was left behind`);
}

describe('servers abandoned by their test process', () => {
  test('are killed and their directories removed when the process crashes', async () => {
    const { started, code } = await runFixture('throw');
    assert.equal(code, 1);
    await assertNothingLeft(started);
  });

  test('do not keep a process alive that forgot to stop them, and are cleaned up', async () => {
    const { started, code } = await runFixture('forget');
    assert.equal(code, 0);
    await assertNothingLeft(started);
  });

  test('are cleaned up when the process is terminated by SIGTERM, which still kills it', async () => {
    const { started, signal } = await runFixture('wait-for-signal', 'SIGTERM');
    assert.equal(signal, 'SIGTERM');
    await assertNothingLeft(started);
  });
});
