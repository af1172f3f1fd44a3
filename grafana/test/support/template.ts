/**
 * Grafana's template interpolation for InfluxQL, as far as the dashboards use it: dashboard
 * variables (`$name`, `${name}`, `[[name]]`) and the built-in macros. Values inside a regex
 * literal (`=~ /^$device_id$/`) are regex-escaped and multi-values become `(a|b)`, as Grafana's
 * InfluxDB data source does; "All" becomes the variable's custom all value.
 */

export interface TimeRange {
  /** Epoch ms. */
  readonly from: number;
  /** Epoch ms. */
  readonly to: number;
}

/** The value of a dashboard variable, as a user could have selected it. */
export type VariableValue =
  | { readonly kind: 'single'; readonly value: string }
  | { readonly kind: 'multi'; readonly values: readonly string[] }
  | {
      readonly kind: 'all';
      readonly allValue: string | undefined;
      readonly values: readonly string[];
    };

export type Variables = ReadonlyMap<string, VariableValue>;

const TOKEN = /\$\{(\w+)(?::[\w-]+)?\}|\[\[(\w+)(?::[\w-]+)?\]\]|\$(\w+)/g;
const REGEX_LITERAL = /[=!]~\s*\/((?:\\.|[^/\\])*)\//g;

/** Grafana's "nice" rendering of an interval in InfluxQL duration syntax. */
function duration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Parses an interval such as `5s` or `1m` (a panel's min interval) into ms. */
export function parseInterval(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`not an interval: ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(match[1]) * unit;
}

/** The built-in variables Grafana substitutes in InfluxQL, for a time range and interval. */
export function builtInVariables(range: TimeRange, intervalMs: number): Map<string, string> {
  const timeFilter = `time >= ${range.from}ms and time <= ${range.to}ms`;
  const rangeMs = range.to - range.from;
  return new Map([
    ['timeFilter', timeFilter],
    ['__timeFilter', timeFilter],
    ['__interval', duration(intervalMs)],
    ['interval', duration(intervalMs)],
    ['__interval_ms', String(intervalMs)],
    ['__from', String(range.from)],
    ['__to', String(range.to)],
    ['__range', duration(rangeMs)],
    ['__range_ms', String(rangeMs)],
    ['__range_s', String(Math.round(rangeMs / 1000))],
  ]);
}

function escapeRegex(value: string): string {
  // Grafana's set, plus the slash that would end an InfluxQL regex literal.
  return value.replace(/[\\^$*+?.()|[\]{}/']/g, '\\$&');
}

function escapeString(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

function formatInRegex(value: VariableValue): string {
  if (value.kind === 'single') return escapeRegex(value.value);
  if (value.kind === 'all' && value.allValue !== undefined) return value.allValue;
  const values = value.values.map(escapeRegex);
  return values.length === 1 ? (values[0] as string) : `(${values.join('|')})`;
}

/** Thrown for a `$name` that is neither a dashboard variable nor a built-in. */
export class UnknownVariableError extends Error {}

/** The names of the variables a query refers to (built-ins included). */
export function referencedVariables(query: string): string[] {
  return [...query.matchAll(TOKEN)].map((m) => (m[1] ?? m[2] ?? m[3]) as string);
}

/** Whether each `$variable` of the query sits inside a regex literal, by variable name. */
export function variableContexts(query: string): { name: string; inRegex: boolean }[] {
  const spans = [...query.matchAll(REGEX_LITERAL)].map((m) => {
    const start = (m.index ?? 0) + m[0].indexOf('/') + 1;
    return { start, end: start + (m[1] ?? '').length };
  });
  return [...query.matchAll(TOKEN)].map((m) => ({
    name: (m[1] ?? m[2] ?? m[3]) as string,
    inRegex: spans.some((s) => (m.index ?? 0) >= s.start && (m.index ?? 0) < s.end),
  }));
}

/**
 * Substitutes every variable and macro of an InfluxQL query. Throws
 * {@link UnknownVariableError} for an unknown name, and for a multi-value variable used outside a
 * regex literal (Grafana would render it as `{a,b}`, which InfluxQL cannot read).
 */
export function interpolate(
  query: string,
  variables: Variables,
  range: TimeRange,
  intervalMs: number,
): string {
  const builtIns = builtInVariables(range, intervalMs);
  const contexts = variableContexts(query);
  let index = 0;
  return query.replace(TOKEN, (...match: unknown[]) => {
    const name = (match[1] ?? match[2] ?? match[3]) as string;
    const inRegex = contexts[index++]?.inRegex ?? false;
    const builtIn = builtIns.get(name);
    if (builtIn !== undefined) return builtIn;
    const value = variables.get(name);
    if (value === undefined) throw new UnknownVariableError(`unknown variable $${name}`);
    if (inRegex) return formatInRegex(value);
    if (value.kind !== 'single') {
      throw new UnknownVariableError(`multi-value variable $${name} used outside a regex`);
    }
    return escapeString(value.value);
  });
}
