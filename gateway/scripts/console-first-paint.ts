/**
 * Measures how soon the console shows a fleet of 10,000 devices (`npm run console:first-paint`):
 * a gateway with that many provisioned (a few hundred online), Debian's Chromium, and the time
 * from navigation to the first rows, to the full count, and the bundle's size. Prints figures;
 * it asserts nothing (wall-clock speed depends on the machine).
 */
import { gzipSync } from 'node:zlib';
import { consoleBundle } from '../src/console/console-bundle.ts';
import { launchChromium, signIn } from '../test/console/console-kit.ts';
import { TestDevice } from '../test/support/test-device.ts';
import { ADMIN_TOKEN, startTestGateway } from '../test/support/test-gateway.ts';

declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { readonly length: number };
};
declare const performance: { now(): number };

const DEVICES = Number(process.env.DEVICES ?? 10_000);
const ONLINE = Number(process.env.ONLINE ?? 200);

const gw = await startTestGateway();
const sockets: TestDevice[] = [];
try {
  const started = Date.now();
  const ids = Array.from({ length: DEVICES }, (_, i) => `device-${String(i).padStart(5, '0')}`);
  const tokens = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map(async (id, j) => {
        const site = ['lab', 'plant', 'office', 'roof'][(i + j) % 4] as string;
        tokens.set(id, await gw.provision(id, 'thermostat', { site }));
      }),
    );
  }
  for (const id of ids.slice(0, ONLINE)) {
    sockets.push(await TestDevice.connect(gw.url, tokens.get(id)));
  }
  console.log(`${DEVICES} devices provisioned, ${ONLINE} online, in ${Date.now() - started} ms`);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    // The first visit builds the bundle (once per gateway process).
    const cold = Date.now();
    await signIn(page, gw.url, ADMIN_TOKEN);
    await page.waitForSelector('[data-device]');
    console.log(
      `first visit (bundle built on this request, then sign-in): ${Date.now() - cold} ms`,
    );
    const bundle = await consoleBundle();
    console.log(
      `bundle: ${bundle.js.length} bytes, ${bundle.gzip.length} gzipped (${gzipSync(bundle.js).length} at the default level)`,
    );
    const runs: Array<{ rows: number; all: number; paint: number }> = [];
    for (let run = 0; run < 5; run++) {
      const t0 = Date.now();
      await page.reload();
      await page.waitForSelector('[data-device]');
      const rows = Date.now() - t0;
      await page.waitForFunction(
        (n) =>
          document
            .querySelector('[data-testid="counts"]')
            ?.textContent?.startsWith(`${n} devices`) &&
          !document.querySelector('[data-testid="counts"]')?.textContent?.includes('loading'),
        DEVICES,
        { timeout: 60_000 },
      );
      const all = Date.now() - t0;
      const paint = await page.evaluate(
        () =>
          (
            performance as unknown as { getEntriesByName(n: string): Array<{ startTime: number }> }
          ).getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
      );
      runs.push({ rows, all, paint: Math.round(paint) });
    }
    const rendered = await page.evaluate(() => document.querySelectorAll('[data-device]').length);
    console.log(`rows in the DOM for ${DEVICES} devices: ${rendered}`);
    // Scrolls the whole list, one jump a frame, and times the frames.
    // Given as text: tsx would wrap named functions in a helper the page does not have.
    const frames = (await page.evaluate(`new Promise((resolve) => {
      const list = document.querySelector('.vlist');
      const times = [];
      let last = performance.now();
      const step = () => {
        const now = performance.now();
        times.push(now - last);
        last = now;
        list.scrollTop += 3000;
        if (list.scrollTop + 1000 < list.scrollHeight && times.length < 500) requestAnimationFrame(step);
        else resolve(times.slice(1));
      };
      requestAnimationFrame(step);
    })`)) as number[];
    frames.sort((a, b) => a - b);
    const pct = (p: number) => Math.round(frames[Math.floor((frames.length - 1) * p)] ?? 0);
    console.log(
      `scrolling all ${DEVICES} rows in ${frames.length} frames: median ${pct(0.5)} ms, p95 ${pct(0.95)} ms, worst ${pct(1)} ms a frame`,
    );
    for (const r of runs) {
      console.log(
        `reload: first contentful paint ${r.paint} ms, first rows ${r.rows} ms, all ${DEVICES} listed ${r.all} ms`,
      );
    }
    const median = (k: 'rows' | 'all' | 'paint') =>
      [...runs].sort((a, b) => a[k] - b[k])[Math.floor(runs.length / 2)]?.[k];
    console.log(
      `median: first contentful paint ${median('paint')} ms, first rows ${median('rows')} ms, all listed ${median('all')} ms`,
    );
  } finally {
    await browser.close();
  }
} finally {
  for (const s of sockets) s.close();
  await gw.stop();
}
