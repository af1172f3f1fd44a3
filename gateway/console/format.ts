/** "12 s ago", "3 min ago", or a date for older times. */
export function ago(ts: number | undefined, now = Date.now()): string {
  if (ts === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ts).toLocaleDateString();
}

export function time(ts: number | string): string {
  return new Date(ts).toLocaleTimeString();
}

export function dateTime(ts: number | string): string {
  return new Date(ts).toLocaleString();
}

/** A metric value, short: numbers with at most 2 decimals. */
export function value(v: unknown): string {
  if (typeof v === 'number') return String(Math.round(v * 100) / 100);
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return String(v);
}

/** The first few metrics of a reading, one line. */
export function readingLine(metrics: Record<string, unknown> | undefined, max = 3): string {
  if (!metrics) return '';
  return Object.entries(metrics)
    .slice(0, max)
    .map(([k, v]) => `${k} ${value(v)}`)
    .join(' · ');
}

/** `site=lab,floor=2` → `{site: 'lab', floor: '2'}`; undefined when malformed. */
export function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 1) return undefined;
    labels[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return labels;
}
