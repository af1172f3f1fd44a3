// The session journal on its own: what a gateway killed mid-run leaves for the next start to
// announce offline, read back from DATA_DIR by a second journal as the restarted gateway would.
import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DeviceBus, type StatusChange } from '../../src/events/device-bus.ts';
import { createLogger } from '../../src/logger.ts';
import {
  type HeldSession,
  JOURNAL_FILE,
  SessionJournal,
} from '../../src/sessions/session-journal.ts';

/** What the session manager would hold, kept from the statuses the test emits. */
class Held {
  readonly map = new Map<string, HeldSession>();
  get size() {
    return this.map.size;
  }
  values() {
    return this.map.values();
  }
}

describe('session journal', () => {
  let dir: string;
  let logLines: string[];
  const log = () => createLogger('warn', { write: (line) => void logLines.push(line) });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iot-gateway-journal-'));
    logLines = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A gateway's run: a journal following a bus, with the sessions it holds. */
  function run(rewriteAfter?: number) {
    const bus = new DeviceBus();
    const held = new Held();
    const journal = new SessionJournal(dir, held, log(), rewriteAfter);
    const lost: StatusChange[] = [];
    bus.on('status', (change) => lost.push(change));
    const announced = journal.recover(bus);
    const lostAtStart = lost.splice(0);
    const change = (deviceId: string, sessionId: string, online: boolean) => {
      const session = { deviceId, sessionId, deviceType: 'thermostat', labels: { site: 'lab' } };
      if (online) held.map.set(deviceId, session);
      else if (held.map.get(deviceId)?.sessionId === sessionId) held.map.delete(deviceId);
      bus.emit('status', { ...session, online, reason: online ? 'connected' : 'closed', ts: 1 });
    };
    /** One turn of the event loop: the journal writes what the turn changed. */
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
    return { journal, announced, lostAtStart, change, turn, held };
  }

  it('names, at the next start, the devices a crash left online, each once, then forgets them', async () => {
    const first = run();
    assert.equal(first.announced, 0);
    first.change('d1', 's1', true);
    first.change('d2', 's2', true);
    first.change('d3', 's3', true);
    await first.turn();
    first.change('d1', 's1', false);
    await first.turn();
    // Killed: no close, nothing flushed beyond the turns that ended.

    const second = run();
    assert.equal(second.announced, 2);
    assert.deepEqual(
      second.lostAtStart.map((c) => [c.deviceId, c.sessionId, c.online, c.reason, c.deviceType]),
      [
        ['d2', 's2', false, 'instance_lost', 'thermostat'],
        ['d3', 's3', false, 'instance_lost', 'thermostat'],
      ],
    );
    assert.deepEqual(second.lostAtStart[0]?.labels, { site: 'lab' });
    await second.journal.close();

    assert.equal(run().announced, 0, 'announced once, not again at the start after');
  });

  it('keeps a device whose new session began before its old one ended', async () => {
    const first = run();
    first.change('d1', 'old', true);
    await first.turn();
    first.change('d1', 'new', true);
    first.change('d1', 'old', false);
    await first.turn();
    const second = run();
    assert.deepEqual(
      second.lostAtStart.map((c) => c.sessionId),
      ['new'],
    );
  });

  it('writes nothing to announce after a clean stop, even for changes of the last turn', async () => {
    const first = run();
    first.change('d1', 's1', true);
    await first.turn();
    first.change('d1', 's1', false);
    await first.journal.close();
    assert.equal(run().announced, 0);
  });

  it('skips a line torn by a crash mid-write and says so', async () => {
    const first = run();
    first.change('d1', 's1', true);
    first.change('d2', 's2', true);
    await first.turn();
    appendFileSync(join(dir, JOURNAL_FILE), '[0,"d2","s');
    const second = run();
    assert.deepEqual(
      second.lostAtStart.map((c) => c.deviceId),
      ['d1', 'd2'],
    );
    assert.match(logLines.join(''), /skipped lines that could not be read/);
    assert.match(logLines.join(''), /"lines":1/);
  });

  it('rewrites its file from the sessions held once it is mostly history', async () => {
    const first = run(20);
    for (let i = 0; i < 200; i++) {
      first.change(`d${i % 5}`, `s${i}`, true);
      if (i % 5 !== 0) first.change(`d${i % 5}`, `s${i}`, false);
      await first.turn();
    }
    const lines = readFileSync(join(dir, JOURNAL_FILE), 'utf8').split('\n').length - 1;
    assert.ok(lines <= 4 * 5 + 25, `${lines} lines for 1 session held`);
    assert.deepEqual(
      [...first.held.values()].map((s) => s.sessionId),
      ['s195'],
    );
    const second = run();
    assert.deepEqual(
      second.lostAtStart.map((c) => [c.deviceId, c.sessionId]),
      [['d0', 's195']],
    );
    assert.equal(existsSync(join(dir, `${JOURNAL_FILE}.next`)), false);
  });

  it('goes on when a write fails, and says what it means once', async () => {
    const first = run(2);
    // The rewrite's new file cannot be made: a directory is in its way.
    mkdirSync(join(dir, `${JOURNAL_FILE}.next`));
    for (let i = 0; i < 10; i++) {
      first.change('d0', `s${i}`, true);
      first.change('d0', `s${i}`, false);
      await first.turn();
    }
    first.change('d1', 's1', true);
    first.change('d2', 's2', true);
    await first.turn();
    const warnings = logLines.filter((line) => line.includes('cannot write'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /Check the disk/);
    rmSync(join(dir, `${JOURNAL_FILE}.next`), { recursive: true });
    first.change('d9', 's9', true);
    await first.turn();
    assert.deepEqual(
      run().lostAtStart.map((c) => c.deviceId),
      ['d1', 'd2', 'd9'],
      'the rewrite that worked holds every session',
    );
  });

  it('reads the SQLite journal of an earlier version once, then removes it', () => {
    const db = new Database(join(dir, 'sessions.db'));
    db.exec(`CREATE TABLE held (device_id TEXT PRIMARY KEY, session_id TEXT NOT NULL,
      device_type TEXT NOT NULL, labels TEXT NOT NULL)`);
    db.prepare('INSERT INTO held VALUES (?, ?, ?, ?)').run(
      'old-1',
      's9',
      'thermostat',
      '{"a":"b"}',
    );
    db.close();
    writeFileSync(join(dir, 'sessions.db-shm'), '');

    const second = run();
    assert.deepEqual(
      second.lostAtStart.map((c) => [c.deviceId, c.sessionId, c.labels]),
      [['old-1', 's9', { a: 'b' }]],
    );
    for (const file of ['sessions.db', 'sessions.db-wal', 'sessions.db-shm']) {
      assert.equal(existsSync(join(dir, file)), false, `${file} removed`);
    }
  });
});
