import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import {
  DASHBOARDS_DIR,
  loadDashboardProviders,
  loadProvisionedDatasources,
} from './support/dashboards.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');

interface Service {
  image?: string;
  build?: { context?: string; target?: string };
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  command?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition?: string }>;
}

const compose = parseYaml(readFileSync(COMPOSE_FILE, 'utf8')) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const service = (name: string): Service => {
  const found = compose.services[name];
  assert.ok(found, `docker-compose.yml has no ${name} service`);
  return found;
};

describe('docker-compose.yml', () => {
  it('passes `docker-compose config`', (t) => {
    const check = spawnSync('docker-compose', ['-f', COMPOSE_FILE, 'config', '-q'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if ((check.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      t.skip('docker-compose is not installed (sudo apt-get install -y docker-compose); CI has it');
      return;
    }
    assert.equal(check.status, 0, check.stderr);
  });

  it('runs the five services of the stack, and the broker password maker, on pinned images', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), [
      'gateway',
      'grafana',
      'influxdb',
      'mosquitto',
      'mosquitto-init',
      'simulator',
    ]);
    assert.equal(service('mosquitto-init').image, 'eclipse-mosquitto:2');
    assert.equal(service('influxdb').image, 'influxdb:1.8');
    assert.equal(service('mosquitto').image, 'eclipse-mosquitto:2');
    assert.match(service('grafana').image ?? '', /^grafana\/grafana(-oss)?:\d+\.\d+\.\d+$/);
    assert.equal(service('gateway').build?.target, 'gateway');
    assert.equal(service('simulator').build?.target, 'simulator');
  });

  it('points the gateway and the Grafana datasource at the same InfluxDB database', () => {
    const [datasource] = loadProvisionedDatasources();
    assert.ok(datasource);
    const database = datasource.jsonData?.dbName ?? datasource.database;
    assert.equal(datasource.url, 'http://influxdb:8086');
    assert.equal(service('gateway').environment?.INFLUX_URL, `${datasource.url}/${database}`);
    assert.equal(service('influxdb').environment?.INFLUXDB_DB, database);
    assert.equal(service('gateway').environment?.MQTT_URL, 'mqtt://mosquitto:1883');
    assert.equal(service('gateway').environment?.DATA_DIR, '/data');
  });

  it('mounts the provisioning and the dashboards where the provider looks for them', () => {
    const volumes = service('grafana').volumes ?? [];
    assert.ok(
      volumes.includes('./grafana/provisioning:/etc/grafana/provisioning:ro'),
      `${volumes}`,
    );
    const [provider] = loadDashboardProviders();
    assert.equal(provider?.type, 'file');
    assert.ok(
      volumes.includes(`./grafana/dashboards:${provider?.options.path}:ro`),
      `no volume for ${provider?.options.path} in ${volumes}`,
    );
    const home = service('grafana').environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    assert.ok(home.startsWith(`${provider?.options.path}/`), home);
    assert.ok(existsSync(join(DASHBOARDS_DIR, home.slice(provider!.options.path.length))), home);
    assert.equal(service('grafana').environment?.GF_AUTH_ANONYMOUS_ENABLED, 'true');
    assert.equal(service('grafana').environment?.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer');
    assert.ok(service('grafana').ports?.some((p) => p.endsWith(':3000:3000')));
  });

  it('mounts the Mosquitto config file and publishes no anonymous broker port', () => {
    const volumes = service('mosquitto').volumes ?? [];
    const config = volumes.find((v) => v.endsWith(':/mosquitto/config/mosquitto.conf:ro'));
    assert.ok(config, `${volumes}`);
    const text = readFileSync(join(ROOT, config.split(':')[0] as string), 'utf8');
    if (/^\s*allow_anonymous\s+true/m.test(text)) {
      assert.equal(service('mosquitto').ports, undefined, 'anonymous broker published');
    }
  });

  it('makes Mosquitto require passwords made at first start, and the shipped ACL', () => {
    const text = readFileSync(join(ROOT, 'mosquitto/mosquitto.conf'), 'utf8');
    assert.match(text, /^allow_anonymous false$/m);
    assert.match(text, /^password_file \/mosquitto\/secrets\/passwd$/m);
    assert.match(text, /^acl_file \/mosquitto\/config\/acl$/m);
    assert.ok(service('mosquitto').volumes?.includes('./mosquitto/acl:/mosquitto/config/acl:ro'));
    assert.equal(
      service('mosquitto').depends_on?.['mosquitto-init']?.condition,
      'service_completed_successfully',
    );
    const gateway = service('gateway').environment ?? {};
    assert.equal(gateway.MQTT_USERNAME, 'gateway');
    assert.equal(gateway.MQTT_PASSWORD_FILE, '/mqtt-secrets/gateway.password');
    assert.equal(gateway.MQTT_PASSWORD, undefined, 'no password in the compose file');
    assert.ok(!existsSync(join(ROOT, 'mosquitto/passwd')), 'no password file in the repository');
  });

  it('health-checks every server and starts each after what it needs', () => {
    for (const name of ['influxdb', 'mosquitto', 'grafana']) {
      assert.ok(service(name).healthcheck?.test, `${name} has no healthcheck`);
    }
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(
      dockerfile,
      /^HEALTHCHECK [\s\S]*?\/healthz/m,
      'the gateway image probes /healthz',
    );
    assert.match(dockerfile, /^USER node$/m, 'the images run as the node user');
    const healthy = (name: string, on: string) =>
      assert.equal(service(name).depends_on?.[on]?.condition, 'service_healthy', `${name}→${on}`);
    healthy('gateway', 'influxdb');
    healthy('gateway', 'mosquitto');
    healthy('simulator', 'gateway');
    healthy('grafana', 'influxdb');
  });

  it('keeps every service that holds data on a named volume', () => {
    const named = Object.keys(compose.volumes ?? {});
    for (const [name, path] of [
      ['influxdb', '/var/lib/influxdb'],
      ['mosquitto', '/mosquitto/data'],
      ['gateway', '/data'],
      ['grafana', '/var/lib/grafana'],
    ] as const) {
      const volume = service(name).volumes?.find((v) => v.split(':')[1] === path);
      assert.ok(volume && named.includes(volume.split(':')[0] as string), `${name}: ${path}`);
    }
  });

  it('gives the simulator the gateway URL and the admin token the gateway uses', () => {
    const command = service('simulator').command ?? [];
    assert.equal(command[command.indexOf('--gateway') + 1], 'http://gateway:8080');
    assert.equal(
      service('simulator').environment?.ADMIN_TOKEN,
      service('gateway').environment?.ADMIN_TOKEN,
    );
  });
});
