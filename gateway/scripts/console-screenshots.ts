/**
 * Regenerates the console's screenshots in docs/ (`npm run console:screenshots`): a real gateway
 * (with InfluxDB when `influxd` is installed, for the charts' history), a simulated fleet run by
 * the simulator CLI, and Debian's Chromium. Nothing is staged: every page shows live data.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB, waitUntil } from '@iot-gateway/testing';
import WebSocket from 'ws';
import { launchChromium, signIn } from '../test/console/console-kit.ts';
import { ADMIN_TOKEN, startTestGateway } from '../test/support/test-gateway.ts';

// What the callbacks given to waitForFunction use: they run in the page.
declare const document: {
  querySelector(
    selector: string,
  ): { textContent: string | null; getAttribute(n: string): string | null } | null;
  querySelectorAll(selector: string): { readonly length: number };
};

const root = fileURLToPath(new URL('../../', import.meta.url));
const docs = join(root, 'docs');
const SITES = ['berlin-lab', 'munich-plant', 'london-office'];
const FLEET: Array<[type: string, count: number]> = [
  ['thermostat', 24],
  ['power-meter', 12],
  ['gps-tracker', 12],
];

let influx: InfluxDBServer | undefined;
try {
  influx = await startInfluxDB({ database: 'console' });
} catch (err) {
  console.warn(`no InfluxDB (${(err as Error).message}); the charts show live readings only`);
}
const gw = await startTestGateway({
  ...(influx ? { INFLUX_URL: `${influx.url}/console` } : {}),
});
const work = mkdtempSync(join(tmpdir(), 'console-screenshots-'));
let sim: ReturnType<typeof spawn> | undefined;
try {
  // Provisioned here with labels (the simulator's own provisioning sets none).
  const tokens: Record<string, { token: string; type: string }> = {};
  let n = 0;
  for (const [type, count] of FLEET) {
    for (let i = 1; i <= count; i++, n++) {
      const id = `${type}-${String(i).padStart(3, '0')}`;
      const labels = { site: SITES[n % SITES.length] as string, floor: String((n % 4) + 1) };
      tokens[id] = { token: await gw.provision(id, type, labels), type };
    }
  }
  // A few devices that are provisioned but not running: the fleet has offline ones too.
  for (let i = 1; i <= 4; i++)
    await gw.provision(`spare-thermostat-${i}`, 'thermostat', { site: 'stock' });
  const tokensFile = join(work, 'tokens.json');
  writeFileSync(tokensFile, JSON.stringify(tokens));

  // Count events per device from the operator stream, to show a device that raised some.
  const events = new Map<string, number>();
  const stream = new WebSocket(`${gw.url.replace('http', 'ws')}/v1/stream`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  stream.on('message', (data) => {
    const m = JSON.parse(String(data)) as { type: string; deviceId?: string };
    if (m.type === 'event' && m.deviceId) events.set(m.deviceId, (events.get(m.deviceId) ?? 0) + 1);
  });

  sim = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'device-sim/src/cli.ts'),
      '--gateway',
      gw.url,
      '--tokens',
      tokensFile,
      '--rate',
      '2',
      '--seed',
      '16',
      '--churn',
      '6',
      '--churn-offline',
      '20',
      '--status-interval',
      '60',
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const online = async () =>
    ((await gw.api('GET', '/v1/devices?online=true&limit=1000')).body.devices as unknown[]).length;
  await waitUntil(async () => (await online()) >= 40, {
    timeoutMs: 60_000,
    message: 'fleet online',
  });

  // Some commands, so the pages have something to follow: one fleet command, and a few single ones.
  await gw.api('POST', '/v1/fleet-commands', {
    selector: { type: 'thermostat', labels: { site: 'berlin-lab' } },
    name: 'set_setpoint',
    params: { setpoint: 21 },
  });
  await gw.api('POST', '/v1/schedules', {
    name: 'eco at night',
    cron: '0 22 * * 1-5',
    timezone: 'Europe/Berlin',
    selector: { type: 'thermostat' },
    command: { name: 'set_setpoint', params: { setpoint: 17 } },
  });
  await gw.api('POST', '/v1/schedules', {
    name: 'meter firmware',
    cron: '0 3 * * 0',
    timezone: 'UTC',
    selector: { type: 'power-meter' },
    command: { name: 'firmware_update', params: { version: '2.4.1' } },
  });

  // Signed in early, so the console has seen events and transitions when the pictures are taken.
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await signIn(page, gw.url, ADMIN_TOKEN);

  // Enough readings for a minute of chart, and a thermostat that raised events.
  const ran = Date.now();
  await waitUntil(
    () =>
      Date.now() - ran > 60_000 &&
      [...events].some(([id, count]) => id.startsWith('thermostat') && count >= 2),
    { timeoutMs: 240_000, intervalMs: 500, message: 'a thermostat with events' },
  );
  const [shown] = [...events]
    .filter(([id]) => id.startsWith('thermostat'))
    .sort((a, b) => b[1] - a[1])[0] as [string, number];
  for (const setpoint of [20.5, 22]) {
    await gw.api('POST', `/v1/devices/${shown}/commands?wait=5000`, {
      name: 'set_setpoint',
      params: { setpoint },
    });
  }

  try {
    await page.waitForSelector('[data-device][data-online="true"]');
    await page.waitForFunction(
      () => !document.querySelector('[data-testid="counts"]')?.textContent?.includes('loading'),
    );
    await page.waitForFunction(
      () => document.querySelectorAll('.c-latest:not(:empty)').length > 20,
    );
    await page.screenshot({ path: join(docs, 'console-fleet.png') });

    await page.goto(`${gw.url}/console#/devices/${shown}`);
    await page.waitForFunction(
      () =>
        Number(
          document.querySelector('[data-testid="chart-temperature"]')?.getAttribute('data-points'),
        ) > 60,
      undefined,
      { timeout: 60_000 },
    );
    await page.selectOption('select[name="command"]', 'set_setpoint');
    await page.fill('input[name="setpoint"]', '50');
    await page.click('[data-testid="send-command"] button[type="submit"]');
    await page.waitForSelector('[data-testid="error-setpoint"]');
    await page.screenshot({ path: join(docs, 'console-device.png'), fullPage: true });

    await page.goto(`${gw.url}/console#/commands`);
    await page.waitForSelector('[data-testid="fleet-form"]');
    await page.selectOption('select[name="selector-type"]', 'thermostat');
    await page.selectOption('select[name="command"]', 'set_interval');
    await page.fill('input[name="intervalMs"]', '1000');
    await page.click('[data-testid="fleet-form"] button[type="submit"]');
    await page.waitForSelector('[data-testid="fleet-summary"] >> text=succeeded', {
      timeout: 30_000,
    });
    await page.screenshot({ path: join(docs, 'console-commands.png'), fullPage: true });

    await page.goto(`${gw.url}/console#/schedules`);
    await page.waitForSelector('[data-testid="schedules"] >> text=eco at night');
    await page.screenshot({ path: join(docs, 'console-schedules.png') });
  } finally {
    await browser.close();
  }
  stream.close();
  console.log(`screenshots written to docs/ (device page: ${shown})`);
} finally {
  sim?.kill('SIGTERM');
  await new Promise((resolve) => (sim ? sim.once('exit', resolve) : resolve(undefined)));
  await gw.stop();
  await influx?.stop();
  rmSync(work, { recursive: true, force: true });
}
