import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB } from '@iot-gateway/testing';
import type { TestGateway } from '../../gateway/test/support/test-gateway.ts';
import { startTestGateway } from '../../gateway/test/support/test-gateway.ts';
import type { Dashboard, Panel } from './support/dashboards.ts';
import {
  annotationQuery,
  dataPanels,
  influxAnnotations,
  loadDashboards,
  loadProvisionedDatasources,
} from './support/dashboards.ts';
import type { FleetRun } from './support/fleet.ts';
import { FLEET, runFleet } from './support/fleet.ts';
import { columnData, queryInfluxQL } from './support/influxql.ts';
import type { TimeRange, Variables } from './support/template.ts';
import { interpolate, parseInterval } from './support/template.ts';
import type { VariableResolution } from './support/variables.ts';
import { resolveVariables } from './support/variables.ts';

// Set GRAFANA_DASHBOARDS_DIR to run the queries of another copy of the dashboards (for example
// one with a field renamed, to see this test fail).
const dashboards = loadDashboards(process.env.GRAFANA_DASHBOARDS_DIR);
const datasource = loadProvisionedDatasources()[0]!;
const DATABASE = datasource.jsonData?.dbName ?? datasource.database ?? 'iot';
const DEFAULT_INTERVAL_MS = parseInterval(String(datasource.jsonData?.timeInterval ?? '1s'));

/** Wildcard selections (`mean(*)`, `count(*)`) only have the columns of the device's type. */
const WILDCARD = /\(\*\)|SELECT\s+\*/i;

interface Outcome {
  readonly ok: boolean;
  readonly problems: string[];
  /** How far from data: an empty column counts 1, an empty or failed query 2. */
  readonly score: number;
}

describe('every dashboard query against a gateway-filled InfluxDB', () => {
  let influx: InfluxDBServer;
  let gateway: TestGateway;
  let fleet: FleetRun | undefined;
  let range: TimeRange;
  const resolutions = new Map<string, VariableResolution>();
  const run = (query: string) => queryInfluxQL(influx.url, DATABASE, query);

  before(async () => {
    influx = await startInfluxDB({ database: DATABASE });
    gateway = await startTestGateway({
      INFLUX_URL: `${influx.url}/${DATABASE}`,
      STATS_INTERVAL_MS: '1000',
    });
    fleet = await runFleet(gateway, influx);
    // Like a dashboard opened on "last few minutes" right after the run.
    range = { from: fleet.startedAt - 60_000, to: Date.now() + 1_000 };
  });

  after(async () => {
    await fleet?.close();
    await gateway?.stop();
    await influx?.stop();
  });

  async function variablesOf(dashboard: Dashboard): Promise<VariableResolution> {
    let resolution = resolutions.get(dashboard.uid);
    if (!resolution) {
      resolution = await resolveVariables(dashboard, range, run);
      resolutions.set(dashboard.uid, resolution);
    }
    return resolution;
  }

  /** Runs queries with one set of variable values; every column must hold data. */
  async function check(
    queries: readonly { refId: string; query: string }[],
    variables: Variables,
    intervalMs: number,
  ): Promise<Outcome> {
    const problems: string[] = [];
    let score = 0;
    for (const { refId, query } of queries) {
      const text = interpolate(query, variables, range, intervalMs);
      try {
        const series = await run(text);
        const { filled, empty } = columnData(series);
        if (filled.length === 0) {
          problems.push(`${refId}: no data from ${text}`);
          score += 2;
        } else if (empty.length > 0 && !WILDCARD.test(query)) {
          problems.push(`${refId}: no data in ${empty.join(', ')} from ${text}`);
          score += 1;
        }
      } catch (error) {
        problems.push(`${refId}: ${(error as Error).message}`);
        score += 2;
      }
    }
    return { ok: problems.length === 0, problems, score };
  }

  /**
   * Passes when some choice of the single-value variables (for example some device) gives data in
   * every column of every query: a panel of GPS metrics needs a GPS tracker, not every device.
   */
  async function assertData(
    dashboard: Dashboard,
    queries: readonly { refId: string; query: string }[],
    intervalMs: number,
  ): Promise<void> {
    const { assignments } = await variablesOf(dashboard);
    let closest: Outcome | undefined;
    for (const variables of assignments) {
      const outcome = await check(queries, variables, intervalMs);
      if (outcome.ok) return;
      if (!closest || outcome.score < closest.score) closest = outcome;
    }
    assert.fail(`no variable values give data; the closest:\n  ${closest?.problems.join('\n  ')}`);
  }

  const panelInterval = (panel: Panel & { interval?: string }) =>
    Math.max(DEFAULT_INTERVAL_MS, panel.interval ? parseInterval(panel.interval) : 0);

  for (const { dashboard } of dashboards) {
    describe(dashboard.title, () => {
      it('offers values for every template variable', async () => {
        const { options } = await variablesOf(dashboard);
        for (const variable of dashboard.templating?.list ?? []) {
          assert.ok(options.get(variable.name)?.length, `$${variable.name} offers nothing`);
        }
      });

      for (const panel of dataPanels(dashboard)) {
        it(`panel "${panel.title}" shows data`, async () => {
          const queries = (panel.targets ?? []).map((t) => ({
            refId: t.refId,
            query: t.query ?? '',
          }));
          await assertData(dashboard, queries, panelInterval(panel));
        });
      }

      for (const annotation of influxAnnotations(dashboard)) {
        it(`annotation "${annotation.name}" finds events`, async () => {
          const query = annotationQuery(annotation) ?? '';
          await assertData(dashboard, [{ refId: 'annotation', query }], DEFAULT_INTERVAL_MS);
        });
      }
    });
  }

  it('narrows the device list to the device types picked', async () => {
    const detail = dashboards.find((d) => d.dashboard.uid === 'iot-device-detail')?.dashboard;
    assert.ok(detail);
    const types = [...new Set(FLEET.map((m) => m.type.name))];
    const expected = (picked: string[]) =>
      FLEET.filter((m) => picked.includes(m.type.name))
        .map((m) => m.id)
        .sort();
    for (const picked of [[types[0]!], types.slice(1)]) {
      const { options } = await resolveVariables(
        detail,
        range,
        run,
        new Map([['device_type', { kind: 'multi', values: picked }]]),
      );
      assert.deepEqual([...(options.get('device_id') ?? [])].sort(), expected(picked));
    }
  });
});
