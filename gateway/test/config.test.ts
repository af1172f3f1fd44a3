import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, misspeltSettings } from '../src/config.ts';
import { GatewayError } from '../src/errors.ts';

describe('configuration', () => {
  it('starts with nothing set, with documented defaults', () => {
    const config = loadConfig({}, '/srv');
    assert.equal(config.PORT, 8080);
    assert.equal(config.DATA_DIR, '/srv/.data');
    assert.equal(config.INFLUX_URL, undefined);
    assert.equal(config.MQTT_URL, undefined);
    assert.equal(config.MQTT_TOPIC_PREFIX, 'iot');
    assert.equal(config.HEARTBEAT_INTERVAL_MS, 15_000);
    assert.equal(config.MAX_FRAME_BYTES, 65_536);
    assert.equal(config.PER_MESSAGE_DEFLATE, false);
  });

  it('names every problem in one message', () => {
    try {
      loadConfig({
        PORT: 'eighty',
        INFLUX_URL: 'ftp://x',
        ADMIN_TOKEN: 'short',
        HEARTBEAT_INTERVAL_MS: '5000',
        HEARTBEAT_TIMEOUT_MS: '1000',
        MQTT_TOPIC_PREFIX: 'a/#',
      });
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'invalid_config');
      for (const key of [
        'PORT',
        'INFLUX_URL',
        'ADMIN_TOKEN',
        'HEARTBEAT_TIMEOUT_MS',
        'MQTT_TOPIC_PREFIX',
      ]) {
        assert.match(err.message, new RegExp(`${key}:`), `mentions ${key}`);
      }
      assert.match(err.message, /5 problems/);
    }
  });

  it('is frozen', () => {
    const config = loadConfig({ PORT: '9000' });
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { PORT: number }).PORT = 1;
    });
  });

  it('reads an optional JSON file that the environment overrides, and flags unknown keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'gw.json'), JSON.stringify({ PORT: 9100, MQTT_TOPIC_PREFIX: 'plant' }));
    const config = loadConfig({ CONFIG_FILE: 'gw.json', PORT: '9200' }, dir);
    assert.equal(config.PORT, 9200);
    assert.equal(config.MQTT_TOPIC_PREFIX, 'plant');
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ PROT: 1 }));
    assert.throws(() => loadConfig({ CONFIG_FILE: 'bad.json' }, dir), /PROT: unknown setting/);
  });
});

describe('docs/configuration.md', () => {
  it('documents every setting', async () => {
    const { readFileSync } = await import('node:fs');
    const { configSchema } = await import('../src/config.ts');
    const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const key of Object.keys(configSchema.shape)) {
      assert.match(docs, new RegExp(`^\\|\\s*\`${key}\`\\s*\\|`, 'm'), `${key} is documented`);
    }
  });
});

describe('configuration values as people type them', () => {
  it('takes only plain decimal integers and shows the bad value', () => {
    for (const bad of ['0x1f90', '1e3', '80.5', '8080abc']) {
      assert.throws(
        () => loadConfig({ PORT: bad }),
        (err: unknown) => {
          assert.ok(err instanceof GatewayError);
          assert.match(err.message, /PORT: expected a plain decimal integer/);
          assert.ok(err.message.includes(`(got "${bad}")`), err.message);
          return true;
        },
      );
    }
    assert.equal(loadConfig({ PORT: '9000' }).PORT, 9000);
    assert.equal(loadConfig({ RATE_LIMIT_PER_SEC: '2.5' }).RATE_LIMIT_PER_SEC, 2.5);
  });

  it('counts a blank value as unset', () => {
    assert.equal(loadConfig({ PORT: ' ' }).PORT, 8080);
    assert.equal(loadConfig({ MQTT_URL: '   ' }).MQTT_URL, undefined);
  });

  it('never shows a secret it refuses', () => {
    assert.throws(
      () => loadConfig({ ADMIN_TOKEN: 'short-secret' }),
      (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.ok(!err.message.includes('short-secret'));
        return true;
      },
    );
  });

  it('warns about variables that look like a misspelt setting', () => {
    const warnings = misspeltSettings({
      HEARTBEAT_INTERVALMS: '100',
      heartbeat_timeout_ms: '5',
      MQTT_TOPIC_PREFX: 'x',
      PATH: '/usr/bin',
      HOME: '/root',
      PORT: '1',
    });
    assert.deepEqual(warnings, [
      'HEARTBEAT_INTERVALMS is not a setting; did you mean HEARTBEAT_INTERVAL_MS?',
      'heartbeat_timeout_ms is not a setting; did you mean HEARTBEAT_TIMEOUT_MS?',
      'MQTT_TOPIC_PREFX is not a setting; did you mean MQTT_TOPIC_PREFIX?',
    ]);
  });
});
