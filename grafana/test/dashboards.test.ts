import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUILT_IN_DEVICE_TYPES } from '@iot-gateway/schemas';
import type { Dashboard } from './support/dashboards.ts';
import {
  allPanels,
  annotationQuery,
  dataPanels,
  datasourceRefs,
  influxAnnotations,
  loadDashboards,
  loadProvisionedDatasources,
  variableQuery,
} from './support/dashboards.ts';
import { builtInVariables, variableContexts } from './support/template.ts';

const dashboards = loadDashboards();
const datasources = loadProvisionedDatasources();

/** Every InfluxQL text of a dashboard (panels, variables, annotations), with where it is. */
function queries(dashboard: Dashboard): { where: string; query: string }[] {
  const found: { where: string; query: string }[] = [];
  for (const panel of dataPanels(dashboard)) {
    for (const target of panel.targets ?? []) {
      found.push({ where: `panel "${panel.title}" ${target.refId}`, query: target.query ?? '' });
    }
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type === 'query') {
      found.push({ where: `variable $${variable.name}`, query: variableQuery(variable) ?? '' });
    }
  }
  for (const annotation of influxAnnotations(dashboard)) {
    found.push({
      where: `annotation "${annotation.name}"`,
      query: annotationQuery(annotation) ?? '',
    });
  }
  return found;
}

describe('dashboard JSON', () => {
  it('finds the three dashboards', () => {
    assert.deepEqual(dashboards.map((d) => d.dashboard.uid).sort(), [
      'iot-device-detail',
      'iot-fleet-overview',
      'iot-gateway-health',
    ]);
  });

  it('gives every dashboard a unique, stable uid and a unique title', () => {
    const uids = dashboards.map((d) => d.dashboard.uid);
    const titles = dashboards.map((d) => d.dashboard.title);
    for (const { file, dashboard } of dashboards) {
      // Grafana caps uids at 40 characters; links such as /d/<uid> depend on them.
      assert.match(dashboard.uid ?? '', /^[a-z0-9][a-z0-9-]{0,39}$/, `${file}: uid`);
      assert.ok(dashboard.title, `${file}: title`);
    }
    assert.equal(new Set(uids).size, uids.length, `duplicate uids: ${uids}`);
    assert.equal(new Set(titles).size, titles.length, `duplicate titles: ${titles}`);
  });

  it('keeps panel ids unique within each dashboard, rows and collapsed rows included', () => {
    for (const { file, dashboard } of dashboards) {
      const ids = allPanels(dashboard).map((p) => p.id);
      assert.ok(
        ids.every((id) => Number.isInteger(id) && id > 0),
        `${file}: panel ids ${ids}`,
      );
      const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
      assert.deepEqual(duplicates, [], `${file}: duplicate panel ids`);
    }
  });

  it('refers only to provisioned datasources, by uid', () => {
    const byUid = new Map(datasources.map((ds) => [ds.uid, ds]));
    assert.ok(byUid.size > 0, 'no datasource provisioned');
    for (const { file, dashboard } of dashboards) {
      for (const { where, ref } of datasourceRefs(dashboard)) {
        // A missing reference means "the default datasource" and a string means a name: both
        // break silently when another datasource is added or renamed.
        assert.ok(ref && typeof ref === 'object', `${file} ${where}: no datasource uid`);
        const { uid, type } = ref as { uid?: string; type?: string };
        const provisioned = byUid.get(uid ?? '');
        assert.ok(provisioned, `${file} ${where}: datasource uid ${uid} is not provisioned`);
        assert.equal(type, provisioned.type, `${file} ${where}: datasource type`);
      }
    }
  });

  it('gives every panel a title and every graph and stat a unit', () => {
    for (const { file, dashboard } of dashboards) {
      for (const panel of allPanels(dashboard)) {
        assert.ok(panel.title?.trim(), `${file}: panel ${panel.id} has no title`);
        if (panel.type === 'timeseries' || panel.type === 'stat') {
          assert.ok(
            panel.fieldConfig?.defaults?.unit,
            `${file}: panel "${panel.title}" sets no unit`,
          );
        }
      }
    }
  });

  it('lays panels out inside the 24-column grid', () => {
    for (const { file, dashboard } of dashboards) {
      for (const panel of allPanels(dashboard)) {
        const grid = panel.gridPos;
        assert.ok(grid, `${file}: panel "${panel.title}" has no gridPos`);
        assert.ok(grid.x >= 0 && grid.w > 0 && grid.x + grid.w <= 24, `${file}: "${panel.title}"`);
      }
    }
  });

  it('writes every query as raw InfluxQL, so the query test runs exactly what Grafana runs', () => {
    for (const { file, dashboard } of dashboards) {
      for (const panel of dataPanels(dashboard)) {
        assert.ok(panel.targets?.length, `${file}: panel "${panel.title}" has no query`);
        for (const target of panel.targets ?? []) {
          assert.equal(target.rawQuery, true, `${file}: "${panel.title}" ${target.refId} raw`);
          assert.match(target.query ?? '', /^(SELECT|SHOW) /, `${file}: "${panel.title}"`);
          assert.notEqual(target.hide, true, `${file}: "${panel.title}" hides a query`);
        }
      }
    }
  });

  it('defines every variable a query uses, and matches multi-value ones only with regexes', () => {
    const builtIns = new Set(builtInVariables({ from: 0, to: 1 }, 1000).keys());
    for (const { file, dashboard } of dashboards) {
      const variables = new Map((dashboard.templating?.list ?? []).map((v) => [v.name, v]));
      for (const { where, query } of queries(dashboard)) {
        for (const { name, inRegex } of variableContexts(query)) {
          if (builtIns.has(name)) continue;
          const variable = variables.get(name);
          assert.ok(variable, `${file} ${where}: unknown variable $${name}`);
          if (variable.multi || variable.includeAll) {
            assert.ok(inRegex, `${file} ${where}: multi-value $${name} outside =~ /^...$/`);
          }
        }
      }
    }
  });

  it('keeps the two forms of each annotation query (old and new Grafana) the same', () => {
    for (const { file, dashboard } of dashboards) {
      for (const annotation of influxAnnotations(dashboard)) {
        assert.ok(annotationQuery(annotation), `${file}: annotation "${annotation.name}"`);
        if (annotation.query !== undefined && annotation.target?.query !== undefined) {
          assert.equal(annotation.target.query, annotation.query, `${file}: "${annotation.name}"`);
        }
      }
    }
  });

  it('hard-codes no device: every device_id match uses the $device_id variable', () => {
    for (const { file, dashboard } of dashboards) {
      for (const { where, query } of queries(dashboard)) {
        for (const match of query.matchAll(/"?device_id"?\s*(=~|!~|!=|=|<>)\s*(\S+)/g)) {
          assert.equal(match[2], '/^$device_id$/', `${file} ${where}: ${match[0]}`);
        }
      }
    }
  });

  it('drives the device detail dashboard by a query-driven $device_id variable', () => {
    const detail = dashboards.find((d) => d.dashboard.uid === 'iot-device-detail')?.dashboard;
    const variable = detail?.templating?.list.find((v) => v.name === 'device_id');
    assert.equal(variable?.type, 'query');
    assert.equal(variable?.multi, false);
    assert.match(variableQuery(variable!) ?? '', /^SHOW TAG VALUES .* WITH KEY = "device_id"/);
  });

  it('charts every metric of every built-in device type on the device detail dashboard', () => {
    const detail = dashboards.find((d) => d.dashboard.uid === 'iot-device-detail')!.dashboard;
    const text = queries(detail)
      .map((q) => q.query)
      .join('\n');
    const missing = BUILT_IN_DEVICE_TYPES.flatMap((type) =>
      Object.keys(type.metrics)
        .filter((metric) => !text.includes(`("${metric}")`))
        .map((metric) => `${type.name}.${metric}`),
    );
    assert.deepEqual(missing, [], 'metrics without a panel');
  });
});
