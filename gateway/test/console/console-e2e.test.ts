import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createKey } from '../api/api-kit.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { launchChromium, signIn } from './console-kit.ts';

// What the callbacks given to page.evaluate and waitForFunction use: they run in the page.
interface PageElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): { readonly length: number };
};
declare const sessionStorage: { getItem(key: string): string | null };

/**
 * The console in a real Chromium against a real gateway, with devices that speak protocol v1
 * over their own sockets. One browser and one gateway for the whole file.
 */
describe('the operator console in Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  let page: Page;
  const devices = new Map<string, TestDevice>();
  let seq = 0;

  before(async () => {
    gw = await startTestGateway();
    browser = await launchChromium();
    for (let i = 1; i <= 5; i++) {
      const id = `thermo-${i}`;
      const token = await gw.provision(id, 'thermostat', { site: i <= 3 ? 'lab' : 'roof' });
      devices.set(id, await TestDevice.connect(gw.url, token));
    }
    await gw.provision('meter-1', 'power-meter', { site: 'roof' });
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
  });

  after(async () => {
    for (const d of devices.values()) d.close();
    await browser?.close();
    await gw?.stop();
  });

  const device = (id: string) => devices.get(id) as TestDevice;
  const row = (id: string) => `[data-device="${id}"]`;

  it('signs in with a key kept in sessionStorage, never in the URL or a cookie', async () => {
    await signIn(page, gw.url, await createKey(gw, 'admin', 'console admin'));
    assert.match(page.url(), /\/console/);
    assert.ok(!page.url().includes('gwk_'));
    assert.deepEqual(await page.context().cookies(), []);
    const stored = await page.evaluate(() => Object.keys(sessionStorage));
    assert.ok(stored.includes('iot-gateway.api-key'));
    assert.match((await page.textContent('[data-testid="who"]')) ?? '', /console admin\s*admin/);
  });

  it('lists the fleet with online states, and shows a device going offline when its socket drops', async () => {
    await page.waitForSelector(`${row('thermo-1')}[data-online="true"]`);
    await page.waitForSelector(`${row('meter-1')}[data-online="false"]`);
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="counts"]')?.textContent?.includes('6 devices'),
    );
    assert.match((await page.textContent('[data-testid="counts"]')) ?? '', /5\s*online/);
    device('thermo-5').close();
    await page.waitForSelector(`${row('thermo-5')}[data-online="false"]`);
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="counts"]')?.textContent?.match(/4\s*online/),
    );
  });

  it('filters by label and online state', async () => {
    await page.fill('input[name="label"]', 'site=roof');
    await page.waitForFunction(() => document.querySelectorAll('[data-device]').length === 3);
    await page.selectOption('select[name="online"]', 'offline');
    await page.waitForFunction(() => document.querySelectorAll('[data-device]').length === 2);
    await page.fill('input[name="label"]', '');
    await page.selectOption('select[name="online"]', 'online');
    await page.waitForFunction(() => document.querySelectorAll('[data-device]').length === 4);
    await page.selectOption('select[name="online"]', 'all');
  });

  it("adds points to a device's chart as readings arrive, without a reload", async () => {
    await page.click(row('thermo-1'));
    await page.waitForSelector('[data-testid="chart-temperature"]');
    const points = () =>
      page.$eval('[data-testid="chart-temperature"]', (el) =>
        Number(el.getAttribute('data-points')),
      );
    const before = await points();
    for (const temperature of [20.5, 21, 21.5]) {
      const s = ++seq;
      device('thermo-1').send({
        type: 'telemetry',
        seq: s,
        ts: Date.now() - 10 + s,
        metrics: { temperature, humidity: 40 },
      });
      await device('thermo-1').ackFor(s);
    }
    await page.waitForFunction(
      (n) =>
        Number(
          document.querySelector('[data-testid="chart-temperature"]')?.getAttribute('data-points'),
        ) >= n,
      before + 3,
    );
    await page.waitForFunction(
      () => document.querySelector('[data-testid="latest-temperature"]')?.textContent === '21.5',
    );
  });

  it('shows a command sent from the form reach the device and succeed', async () => {
    await page.selectOption('select[name="command"]', 'set_setpoint');
    await page.fill('input[name="setpoint"]', '22');
    await page.click('[data-testid="send-command"] button[type="submit"]');
    const command = await device('thermo-1').next((f) => f.type === 'command');
    assert.equal(command.name, 'set_setpoint');
    assert.deepEqual(command.params, { setpoint: 22 });
    await page.waitForSelector(`[data-command="${command.id}"] >> text=sent`);
    device('thermo-1').send({ type: 'command_result', id: command.id, status: 'succeeded' });
    await page.waitForSelector(`[data-command="${command.id}"] >> text=succeeded`);
  });

  it("shows the API's issue next to the field when params are invalid", async () => {
    await page.fill('input[name="setpoint"]', '99');
    await page.click('[data-testid="send-command"] button[type="submit"]');
    const error = await page.waitForSelector('[data-testid="error-setpoint"]');
    assert.match((await error.textContent()) ?? '', /35/);
    assert.equal(device('thermo-1').frames.filter((f) => f.type === 'command').length, 0);
  });

  it('highlights warnings and errors among the events', async () => {
    const s = ++seq;
    device('thermo-1').send({
      type: 'event',
      seq: s,
      name: 'sensor.fault',
      severity: 'error',
      data: { sensor: 'humidity' },
    });
    await device('thermo-1').ackFor(s);
    await page.waitForSelector('[data-testid="events"] li.sev-error >> text=sensor.fault');
  });

  it('sends a fleet command by selector and follows its summary live', async () => {
    await page.goto(`${gw.url}/console#/commands`);
    await page.selectOption('select[name="selector-type"]', 'thermostat');
    await page.fill('input[name="selector-labels"]', 'site=lab');
    await page.selectOption('[data-testid="fleet-form"] select[name="command"]', 'reboot');
    await page.click('[data-testid="fleet-form"] button[type="submit"]');
    await page.waitForSelector('[data-testid="fleet-summary"] >> text=3 targeted');
    await page.waitForSelector('[data-testid="fleet-summary"] >> text=sent 3');
    for (const id of ['thermo-1', 'thermo-2', 'thermo-3']) {
      const command = await device(id).next((f) => f.type === 'command' && f.name === 'reboot');
      device(id).send({ type: 'command_result', id: command.id, status: 'succeeded' });
    }
    await page.waitForSelector('[data-testid="fleet-summary"] >> text=succeeded 3');
    await page.waitForSelector('[data-testid="fleet-summary"] >> text=done');
  });

  it('provisions a device and shows its token once; rotates it; deletes it after a confirmation', async () => {
    await page.goto(`${gw.url}/console#/fleet`);
    await page.click('[data-testid="provision"]');
    await page.fill('form.dialog input[name="id"]', 'new-meter');
    await page.selectOption('form.dialog select[name="type"]', 'power-meter');
    await page.fill('form.dialog input[name="labels"]', 'site=roof');
    await page.click('form.dialog button[type="submit"]');
    await page.waitForSelector('[data-testid="secret"]');
    const token = await page.$eval(
      '[data-testid="secret"]',
      (el) => (el as unknown as { value: string }).value,
    );
    assert.match(token, /^dtk_/);
    // The token works: a device connects with it.
    const fresh = await TestDevice.connect(gw.url, token);
    await page.click('text=Done');
    await page.waitForSelector(`${row('new-meter')}[data-online="true"]`);

    await page.click(row('new-meter'));
    await page.click('text=Rotate token');
    await page.waitForSelector('[data-testid="secret"]');
    const rotated = await page.$eval(
      '[data-testid="secret"]',
      (el) => (el as unknown as { value: string }).value,
    );
    assert.notEqual(rotated, token);
    assert.equal((await fresh.waitClosed()).code, 4001, 'the old session is closed');
    await page.click('text=Done');

    await page.click('button.danger >> text=Delete');
    await page.click('[aria-label="confirm"] button.danger');
    await page.waitForSelector('[data-testid="fleet-list"]');
    await page.waitForSelector(row('new-meter'), { state: 'detached' });
    assert.equal((await gw.api('GET', '/v1/devices/new-meter')).status, 404);
  });

  it('creates a schedule with the next runs shown, and deletes it', async () => {
    await page.goto(`${gw.url}/console#/schedules`);
    await page.fill('input[name="name"]', 'nightly reboot');
    await page.fill('input[name="cron"]', '0 3 * * *');
    await page.fill('input[name="timezone"]', 'UTC');
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="next-runs"]')?.textContent?.includes('Next runs'),
    );
    await page.fill('input[name="cron"]', '0 3 * *');
    await page.waitForSelector('[data-testid="next-runs"] >> text=5 fields');
    await page.fill('input[name="cron"]', '0 3 * * *');
    await page.selectOption('select[name="selector-type"]', 'thermostat');
    await page.selectOption('[data-testid="schedule-form"] select[name="command"]', 'reboot');
    await page.click('text=Create schedule');
    await page.waitForSelector('[data-testid="schedules"] >> text=nightly reboot');
    const [schedule] = (await gw.api('GET', '/v1/schedules')).body.schedules;
    assert.equal(schedule.cron, '0 3 * * *');
    assert.deepEqual(schedule.selector, { type: 'thermostat' });
    await page.click('[data-testid="schedules"] button.danger');
    await page.click('[aria-label="confirm"] button.danger');
    await page.waitForSelector('[data-testid="schedules"] >> text=No schedules');
  });

  it('shows a viewer no send, delete or provision button, and the API refuses a crafted request', async () => {
    const viewer = await createKey(gw, 'viewer', 'console viewer');
    const context = await browser.newContext();
    const viewerPage = await context.newPage();
    try {
      await signIn(viewerPage, gw.url, viewer);
      await viewerPage.waitForSelector(row('thermo-1'));
      assert.equal(await viewerPage.$('[data-testid="provision"]'), null);
      await viewerPage.click(row('thermo-1'));
      await viewerPage.waitForSelector('[data-testid="commands"]');
      assert.equal(await viewerPage.$('[data-testid="send-command"]'), null);
      assert.equal(await viewerPage.$('button.danger'), null);
      // What a viewer could craft in the page's own console: the gateway says no.
      const status = await viewerPage.evaluate(async () => {
        const key = sessionStorage.getItem('iot-gateway.api-key');
        const res = await fetch('/v1/devices/thermo-1/commands', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'reboot', params: {} }),
        });
        return [res.status, ((await res.json()) as { error: string }).error];
      });
      assert.deepEqual(status, [403, 'forbidden']);
    } finally {
      await context.close();
    }
  });

  it('signs out: the key leaves sessionStorage', async () => {
    await page.click('text=Sign out');
    await page.waitForSelector('input[name="api-key"]');
    assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage)), []);
  });
});
