const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
const OMITTED = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s="]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/**
 * One of pino's JSON lines as a line for people: `12:00:01.234 WARN  message key=value`. Used on
 * a terminal; pipes and files keep the JSON, which log collectors read. Redaction happened
 * before the line got here.
 */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time =
    typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = LEVELS[entry.level as number] ?? String(entry.level);
  const fields = Object.entries(entry)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, v]) => `${key}=${value(v)}`)
    .join(' ');
  return `${time} ${level} ${String(entry.msg ?? '')}${fields ? `  ${fields}` : ''}\n`;
}

/** A pino destination that writes {@link prettyLine}s to `out`. */
export function prettyDestination(out: { write(text: string): unknown }): {
  write(line: string): void;
} {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(prettyLine(line));
    },
  };
}
