import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const GRAFANA_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const DASHBOARDS_DIR = join(GRAFANA_DIR, 'dashboards');
export const DATASOURCES_DIR = join(GRAFANA_DIR, 'provisioning', 'datasources');
export const DASHBOARD_PROVIDERS_DIR = join(GRAFANA_DIR, 'provisioning', 'dashboards');

/** The parts of Grafana's dashboard JSON model the tests read. */
export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId: string;
  datasource?: DataSourceRef | string | null;
  query?: string;
  rawQuery?: boolean;
  resultFormat?: string;
  hide?: boolean;
}

export interface Panel {
  id: number;
  type: string;
  title?: string;
  datasource?: DataSourceRef | string | null;
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string } };
  gridPos?: { x: number; y: number; w: number; h: number };
}

export interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  datasource?: DataSourceRef | string | null;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { value?: string | string[] };
  options?: { value: string }[];
}

export interface Annotation {
  name: string;
  builtIn?: number;
  datasource?: DataSourceRef | string | null;
  query?: string;
  target?: { query?: string };
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list: Variable[] };
  annotations?: { list: Annotation[] };
}

export interface DashboardFile {
  readonly file: string;
  readonly dashboard: Dashboard;
}

export function loadDashboards(dir = DASHBOARDS_DIR): DashboardFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      dashboard: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard,
    }));
}

/** Every panel, including those inside collapsed rows, rows themselves included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  const found: Panel[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const panel of panels ?? []) {
      found.push(panel);
      walk(panel.panels);
    }
  };
  walk(dashboard.panels);
  return found;
}

/** Panels that show data (not rows or text). */
export function dataPanels(dashboard: Dashboard): Panel[] {
  return allPanels(dashboard).filter((p) => p.type !== 'row' && p.type !== 'text');
}

export function variableQuery(variable: Variable): string | undefined {
  return typeof variable.query === 'string' ? variable.query : variable.query?.query;
}

export function annotationQuery(annotation: Annotation): string | undefined {
  return annotation.query ?? annotation.target?.query;
}

/** Annotations that query InfluxDB (Grafana's own built-in annotation excluded). */
export function influxAnnotations(dashboard: Dashboard): Annotation[] {
  return (dashboard.annotations?.list ?? []).filter((a) => !a.builtIn);
}

/** Every datasource reference in a dashboard, with where it was found. */
export function datasourceRefs(dashboard: Dashboard): { where: string; ref: unknown }[] {
  const refs: { where: string; ref: unknown }[] = [];
  for (const panel of allPanels(dashboard)) {
    if (panel.type === 'row') continue;
    refs.push({ where: `panel "${panel.title}"`, ref: panel.datasource });
    for (const target of panel.targets ?? []) {
      refs.push({ where: `panel "${panel.title}" query ${target.refId}`, ref: target.datasource });
    }
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type === 'query') {
      refs.push({ where: `variable $${variable.name}`, ref: variable.datasource });
    }
  }
  for (const annotation of influxAnnotations(dashboard)) {
    refs.push({ where: `annotation "${annotation.name}"`, ref: annotation.datasource });
  }
  return refs;
}

export interface ProvisionedDatasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  jsonData?: { dbName?: string; [key: string]: unknown };
  database?: string;
}

export function loadProvisionedDatasources(dir = DATASOURCES_DIR): ProvisionedDatasource[] {
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .flatMap((file) => {
      const doc = parseYaml(readFileSync(join(dir, file), 'utf8')) as {
        datasources?: ProvisionedDatasource[];
      };
      return doc.datasources ?? [];
    });
}

export interface DashboardProvider {
  name: string;
  type: string;
  options: { path: string };
}

export function loadDashboardProviders(dir = DASHBOARD_PROVIDERS_DIR): DashboardProvider[] {
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .flatMap((file) => {
      const doc = parseYaml(readFileSync(join(dir, file), 'utf8')) as {
        providers?: DashboardProvider[];
      };
      return doc.providers ?? [];
    });
}
