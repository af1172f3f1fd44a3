import type { Dashboard, Variable } from './dashboards.ts';
import { variableQuery } from './dashboards.ts';
import type { Series } from './influxql.ts';
import { variableValues } from './influxql.ts';
import type { TimeRange, Variables, VariableValue } from './template.ts';
import { interpolate } from './template.ts';

export type RunQuery = (query: string) => Promise<Series[]>;

/** Variable queries run with the data source's default interval. */
const VARIABLE_INTERVAL_MS = 1000;

export interface VariableResolution {
  /** Every combination of values a user could pick for the single-value query variables. */
  readonly assignments: Variables[];
  /** The options each variable offered, over all combinations. */
  readonly options: ReadonlyMap<string, readonly string[]>;
}

async function optionsOf(
  variable: Variable,
  current: Variables,
  range: TimeRange,
  run: RunQuery,
): Promise<string[]> {
  const query = variableQuery(variable) ?? '';
  switch (variable.type) {
    case 'custom':
      return query
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean);
    case 'constant':
    case 'textbox':
      return [query];
    case 'query': {
      const text = interpolate(query, current, range, VARIABLE_INTERVAL_MS);
      return variableValues(text, await run(text));
    }
    default:
      throw new Error(`variable $${variable.name}: type ${variable.type} is not supported here`);
  }
}

function selected(variable: Variable): string[] | undefined {
  const value = variable.current?.value;
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : [value];
}

/**
 * The values to try for a variable: multi-value variables keep their saved selection (usually
 * "All"); single-value query variables are tried with each option, since a dashboard must work
 * for whatever device the user picks; custom variables keep their saved value.
 */
function candidates(variable: Variable, options: readonly string[]): VariableValue[] {
  const saved = selected(variable);
  if (variable.multi || variable.includeAll) {
    if (variable.includeAll && (saved === undefined || saved.includes('$__all'))) {
      return [{ kind: 'all', allValue: variable.allValue ?? undefined, values: options }];
    }
    const values = (saved ?? []).filter((v) => options.includes(v));
    return [{ kind: 'multi', values: values.length > 0 ? values : options }];
  }
  if (variable.type !== 'query') {
    const value = saved?.[0] ?? options[0];
    return value === undefined ? [] : [{ kind: 'single', value }];
  }
  return options.map((value) => ({ kind: 'single', value }));
}

/**
 * Resolves a dashboard's variables in order, as Grafana does (a variable's query may use the
 * variables before it), against a live InfluxDB. Throws when a variable offers no value.
 */
export async function resolveVariables(
  dashboard: Dashboard,
  range: TimeRange,
  run: RunQuery,
  overrides: ReadonlyMap<string, VariableValue> = new Map(),
  limit = 200,
): Promise<VariableResolution> {
  const variables = dashboard.templating?.list ?? [];
  const options = new Map<string, Set<string>>();
  const assignments: Variables[] = [];

  const expand = async (index: number, current: Map<string, VariableValue>): Promise<void> => {
    if (assignments.length >= limit) return;
    const variable = variables[index];
    if (!variable) {
      assignments.push(new Map(current));
      return;
    }
    const found = await optionsOf(variable, current, range, run);
    if (found.length === 0) {
      throw new Error(
        `variable $${variable.name} offers no value for ${JSON.stringify(Object.fromEntries(current))}`,
      );
    }
    const seen = options.get(variable.name) ?? new Set<string>();
    for (const option of found) seen.add(option);
    options.set(variable.name, seen);
    const override = overrides.get(variable.name);
    for (const value of override ? [override] : candidates(variable, found)) {
      current.set(variable.name, value);
      await expand(index + 1, current);
    }
    current.delete(variable.name);
  };

  await expand(0, new Map());
  return {
    assignments,
    options: new Map([...options].map(([name, values]) => [name, [...values]])),
  };
}
