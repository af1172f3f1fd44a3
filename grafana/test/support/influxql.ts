/** One series of an InfluxDB 1.x `/query` answer. */
export interface Series {
  readonly name?: string;
  readonly tags?: Record<string, string>;
  readonly columns: string[];
  readonly values?: unknown[][];
}

/**
 * Runs one InfluxQL statement the way Grafana's data source does (POST, epoch ms) and returns
 * its series. Throws with InfluxDB's message when the statement fails.
 */
export async function queryInfluxQL(
  baseUrl: string,
  database: string,
  query: string,
): Promise<Series[]> {
  const response = await fetch(`${baseUrl}/query`, {
    method: 'POST',
    body: new URLSearchParams({ db: database, q: query, epoch: 'ms' }),
  });
  const text = await response.text();
  let body: { error?: string; results?: { error?: string; series?: Series[] }[] };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`InfluxDB answered ${response.status}: ${text}`);
  }
  const error = body.error ?? body.results?.find((r) => r.error)?.error;
  if (!response.ok || error) throw new Error(`InfluxDB: ${error ?? response.status}`);
  return body.results?.flatMap((r) => r.series ?? []) ?? [];
}

/**
 * The columns (time excluded) of a result that hold at least one non-null value in some series,
 * and those that hold none.
 */
export function columnData(series: readonly Series[]): { filled: string[]; empty: string[] } {
  const filled = new Set<string>();
  const all = new Set<string>();
  for (const s of series) {
    s.columns.forEach((column, i) => {
      if (column === 'time') return;
      all.add(column);
      if (s.values?.some((row) => row[i] !== null && row[i] !== undefined)) filled.add(column);
    });
  }
  return { filled: [...filled], empty: [...all].filter((c) => !filled.has(c)) };
}

/**
 * The values a template variable query yields, as Grafana's InfluxDB data source reads them:
 * the first column of `SHOW FIELD KEYS`, otherwise the second column (the value of `SHOW TAG
 * VALUES`, the first field of a `SELECT`) or the first when there is only one.
 */
export function variableValues(query: string, series: readonly Series[]): string[] {
  const valueFirst = /show (field keys|retention policies)/i.test(query);
  const values = new Set<string>();
  for (const s of series) {
    for (const row of s.values ?? []) {
      const value = valueFirst ? row[0] : row.length > 1 ? row[1] : row[0];
      if (value !== null && value !== undefined) values.add(String(value));
    }
  }
  return [...values];
}
