import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { InfluxDB } from 'influx';
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import {
  HarnessError,
  INSTALL_COMMAND,
  type Services,
  startInfluxDB,
  startMosquitto,
  startServices,
} from '../src/index.ts';

// Resolves with the next message on `topic`; attach before the message can arrive.
function nextMessage(
  client: MqttClient,
  topic: string,
): Promise<{ payload: string; retain: boolean }> {
  return new Promise((resolve) => {
    const onMessage = (received: string, payload: Buffer, packet: { retain: boolean }): void => {
      if (received !== topic) return;
      client.off('message', onMessage);
      resolve({ payload: payload.toString(), retain: packet.retain });
    };
    client.on('message', onMessage);
  });
}

async function withEnv<T>(name: string, value: string, run: () => Promise<T>): Promise<T> {
  const previous = process.env[name];
  process.env[name] = value;
  try {
    return await run();
  } finally {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  }
}

describe('startServices', () => {
  let services: Services;
  const clients: MqttClient[] = [];
  const mqttOptions: IClientOptions = { reconnectPeriod: 0, connectTimeout: 5_000 };

  before(async () => {
    services = await startServices({ influx: { database: 'harness' } });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await services.stop();
  });

  async function mqttClient(options: IClientOptions = {}): Promise<MqttClient> {
    const client = await connectAsync(services.mqtt.url, { ...mqttOptions, ...options });
    clients.push(client);
    return client;
  }

  test('serves InfluxDB and Mosquitto on loopback URLs with distinct free ports', () => {
    assert.match(services.influx.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(services.mqtt.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(services.influx.port, 8086);
    assert.notEqual(services.mqtt.port, 1883);
    assert.equal(services.influx.database, 'harness');
  });

  test('stores a point written with the influx client and returns it from a query', async () => {
    const client = new InfluxDB({ host: '127.0.0.1', port: services.influx.port, database: 'iot' });
    await client.createDatabase('iot');
    await client.writePoints([
      {
        measurement: 'telemetry',
        tags: { device: 'thermo-1', site: 'lab' },
        fields: { temperature: 21.5, ok: true },
        timestamp: new Date('2024-05-01T12:00:00Z'),
      },
    ]);

    const rows = await client.query<{
      device: string;
      site: string;
      temperature: number;
      ok: boolean;
    }>('SELECT * FROM telemetry');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.device, 'thermo-1');
    assert.equal(rows[0]?.site, 'lab');
    assert.equal(rows[0]?.temperature, 21.5);
    assert.equal(rows[0]?.ok, true);

    const viaHarness = await services.influx.query(
      'SELECT temperature FROM telemetry GROUP BY device',
      'iot',
    );
    assert.deepEqual(viaHarness, [
      { device: 'thermo-1', time: Date.parse('2024-05-01T12:00:00Z'), temperature: 21.5 },
    ]);
    assert.equal(await services.influx.count('telemetry', 'iot'), 1);
    assert.equal(await services.influx.count('no_such_measurement', 'iot'), 0);
  });

  test('reports an InfluxQL error with its code and the query', async () => {
    await assert.rejects(services.influx.query('SELECT FROM nowhere'), (error: unknown) => {
      assert.ok(error instanceof HarnessError);
      assert.equal(error.code, 'TESTING_ERR_QUERY_FAILED');
      assert.match(error.message, /SELECT FROM nowhere/);
      return true;
    });
  });

  test('delivers a QoS 1 message from publisher to subscriber', async () => {
    const subscriber = await mqttClient();
    const publisher = await mqttClient();
    await subscriber.subscribeAsync('devices/thermo-1/telemetry', { qos: 1 });
    const received = nextMessage(subscriber, 'devices/thermo-1/telemetry');

    await publisher.publishAsync('devices/thermo-1/telemetry', '{"temperature":21.5}', { qos: 1 });

    assert.equal((await received).payload, '{"temperature":21.5}');
  });

  test('keeps a retained message across a Mosquitto restart on the same port', async () => {
    const publisher = await mqttClient();
    await publisher.publishAsync('devices/thermo-1/status', 'online', { qos: 1, retain: true });
    await publisher.endAsync();
    const port = services.mqtt.port;

    await services.mqtt.restart();

    assert.equal(services.mqtt.port, port);
    const subscriber = await mqttClient();
    const received = nextMessage(subscriber, 'devices/thermo-1/status');
    await subscriber.subscribeAsync('devices/thermo-1/status', { qos: 1 });
    assert.deepEqual(await received, { payload: 'online', retain: true });
  });

  test('keeps QoS 1 messages queued for a persistent session across a Mosquitto restart', async () => {
    const sessionOptions = { ...mqttOptions, clientId: 'harness-offline', clean: false };
    const offline = await connectAsync(services.mqtt.url, sessionOptions);
    await offline.subscribeAsync('commands/thermo-1', { qos: 1 });
    await offline.endAsync();
    const publisher = await mqttClient();
    await publisher.publishAsync('commands/thermo-1', 'reboot', { qos: 1 });

    await services.mqtt.restart();

    // Queued messages follow CONNACK at once, so listen before connecting.
    const back = connect(services.mqtt.url, sessionOptions);
    clients.push(back);
    assert.equal((await nextMessage(back, 'commands/thermo-1')).payload, 'reboot');
  });

  test('keeps written points across an InfluxDB restart on the same port', async () => {
    const influx = services.influx;
    const client = new InfluxDB({ host: '127.0.0.1', port: influx.port, database: 'harness' });
    await client.writePoints([{ measurement: 'uptime', tags: { device: 'a' }, fields: { s: 42 } }]);
    const port = influx.port;

    await influx.restart();

    assert.equal(influx.port, port);
    const rows = await influx.query('SELECT s, device FROM uptime');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.['s'], 42);
    assert.equal(rows[0]?.['device'], 'a');
  });

  test('keeps acknowledged points when InfluxDB is killed and restarted', async () => {
    const influx = services.influx;
    const client = new InfluxDB({ host: '127.0.0.1', port: influx.port, database: 'harness' });
    await client.writePoints([{ measurement: 'crash', fields: { n: 1 } }]);

    await influx.kill();
    assert.equal(influx.running, false);
    await assert.rejects(influx.query('SHOW DATABASES'));
    await influx.restart();

    assert.equal(await influx.count('crash'), 1);
  });

  test('stop() removes the data directories and is final', async () => {
    const { influx, mqtt } = services;
    assert.ok(existsSync(influx.dataDir));
    assert.ok(existsSync(mqtt.dataDir));
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));

    await services.stop();

    assert.equal(influx.running, false);
    assert.equal(mqtt.running, false);
    assert.equal(existsSync(influx.dataDir), false);
    assert.equal(existsSync(mqtt.dataDir), false);
    await assert.rejects(influx.restart(), { code: 'TESTING_ERR_SERVER_STOPPED' });
    await services.stop();
  });
});

describe('stop({ keepData: true })', () => {
  test('lets restart() bring InfluxDB back with its data after an outage', async () => {
    const influx = await startInfluxDB({ database: 'outage' });
    after(() => influx.stop());
    const client = new InfluxDB({ host: '127.0.0.1', port: influx.port, database: 'outage' });
    await client.writePoints([{ measurement: 'before', fields: { v: 1 } }]);

    await influx.stop({ keepData: true });
    assert.equal(influx.running, false);
    assert.ok(existsSync(influx.dataDir));
    await assert.rejects(fetch(`${influx.url}/ping`));
    await influx.restart();

    assert.equal(await influx.count('before'), 1);
  });
});

describe('missing binaries', () => {
  test('names influxd and the install command when INFLUXD_BIN points nowhere', async () => {
    await withEnv('INFLUXD_BIN', '/nonexistent', async () => {
      await assert.rejects(startInfluxDB(), (error: unknown) => {
        assert.ok(error instanceof HarnessError);
        assert.equal(error.code, 'TESTING_ERR_BINARY_NOT_FOUND');
        assert.match(error.message, /^influxd not found at \/nonexistent \(from INFLUXD_BIN\)/);
        assert.ok(error.message.includes(`install InfluxDB 1.x with \`${INSTALL_COMMAND}\``));
        return true;
      });
    });
  });

  test('names mosquitto and the install command when MOSQUITTO_BIN points nowhere', async () => {
    await withEnv('MOSQUITTO_BIN', '/nonexistent', async () => {
      await assert.rejects(startMosquitto(), (error: unknown) => {
        assert.ok(error instanceof HarnessError);
        assert.equal(error.code, 'TESTING_ERR_BINARY_NOT_FOUND');
        assert.match(error.message, /^mosquitto not found at \/nonexistent/);
        assert.ok(error.message.includes(INSTALL_COMMAND));
        return true;
      });
    });
  });

  test('startServices rejects with the error of the missing binary', async () => {
    await withEnv('MOSQUITTO_BIN', '/nonexistent', async () => {
      await assert.rejects(startServices(), { code: 'TESTING_ERR_BINARY_NOT_FOUND' });
    });
  });
});
