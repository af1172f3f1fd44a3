#!/usr/bin/env -S node --import tsx
// Summarises a V8 .cpuprofile (`node --cpu-prof`): the functions with the most self time, and
// self time by source (gateway file, schemas file, npm package, Node internals).
// CLI: node --import tsx bench/src/cpu-profile.ts <file.cpuprofile> [top]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileRow {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  /** Of the busy (non-idle) time. */
  readonly percent: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly busyMs: number;
  readonly idleMs: number;
  readonly functions: readonly ProfileRow[];
  readonly sources: readonly ProfileRow[];
  /**
   * Self time charged to the innermost project function (gateway/src, schemas/src) on the stack,
   * so library and syscall time lands on the project code that asked for it.
   */
  readonly projectCallers: readonly ProfileRow[];
}

/** Project code, as opposed to npm packages, Node internals and the bench itself. */
const PROJECT = /\/(gateway|schemas|device-sim)\/src\//;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where a function lives, short: `gateway/src/x.ts:12`, `zod`, `node:internal/...`. */
function sourceOf(url: string): string {
  if (url === '') return '(native)';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  if (path.startsWith(ROOT)) return path.slice(ROOT.length);
  return path;
}

const sources = new Map<string, readonly string[]>();

/**
 * `name  file:line` of a project function. tsx compiles each file to very few lines, so the
 * profile's line numbers are useless; the line is found by the function's name in the source.
 */
function describe(functionName: string, url: string): string {
  const source = sourceOf(url);
  const name = functionName || '(anonymous)';
  if (!functionName || functionName.includes('.')) return `${name}  ${source}`;
  let lines = sources.get(url);
  if (!lines) {
    try {
      lines = readFileSync(fileURLToPath(url), 'utf8').split('\n');
    } catch {
      lines = [];
    }
    sources.set(url, lines);
  }
  const escaped = functionName.replace(/[#$]/g, '\\$&');
  const definition = new RegExp(
    `(function\\s*\\*?\\s*${escaped}\\b|^\\s*(?:(?:static|async|get|set|readonly|private|public)\\s+)*${escaped}\\s*[(<]|\\b${escaped}\\s*[:=]\\s*(?:async\\s*)?(?:\\(|function|[A-Za-z_$][\\w$]*\\s*=>))`,
  );
  const index = lines.findIndex((line) => definition.test(line));
  return index === -1 ? `${name}  ${source}` : `${name}  ${source}:${index + 1}`;
}

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    // A sample's time is the delta to the next sample.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const callerCache = new Map<number, string>();
  const projectCaller = (id: number): string => {
    const cached = callerCache.get(id);
    if (cached !== undefined) return cached;
    const node = byId.get(id);
    let found: string;
    if (!node) found = '';
    else if (PROJECT.test(node.callFrame.url)) {
      found = describe(node.callFrame.functionName, node.callFrame.url);
    } else {
      const up = parent.get(id);
      found = up === undefined ? '' : projectCaller(up);
    }
    callerCache.set(id, found);
    return found;
  };
  // Without project code on the stack (socket reads, broker and InfluxDB answers, timers), the
  // time goes to the innermost npm package instead: `ws`, `mqtt`, ...
  const packageCaller = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)?.callFrame.url ?? '';
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
      if (pkg) return `(no project caller) in ${pkg[1]}`;
    }
    return '(no project caller) Node internals';
  };
  const callers = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; us: number }>();
  const sources = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const source = sourceOf(url);
    const name = functionName || '(anonymous)';
    const where = PROJECT.test(url)
      ? describe(functionName, url).split('  ')[1]!
      : url === '' || !source.includes('/')
        ? source === '(native)'
          ? ''
          : source
        : `${source}:${lineNumber + 1}`;
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    const bucket = url === '' ? name : source;
    sources.set(bucket, (sources.get(bucket) ?? 0) + us);
    const caller =
      functionName === '(garbage collector)'
        ? '(garbage collector)'
        : projectCaller(id) || packageCaller(id);
    callers.set(caller, (callers.get(caller) ?? 0) + us);
  }
  const row = (name: string, where: string, us: number): ProfileRow => ({
    name,
    where,
    selfMs: Math.round(us / 100) / 10,
    percent: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0,
  });
  return {
    file,
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => row(f.name, f.where, f.us)),
    sources: [...sources.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => row(name, '', us)),
    projectCallers: [...callers.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => row(name, '', us)),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const lines = [
    `${summary.file}: ${summary.busyMs} ms busy, ${summary.idleMs} ms idle`,
    '  self %   self ms  function',
    ...summary.functions.map(
      (f) =>
        `  ${f.percent.toFixed(1).padStart(6)} ${f.selfMs.toFixed(0).padStart(9)}  ${f.name}${f.where ? `  ${f.where}` : ''}`,
    ),
    '  by source:',
    ...summary.sources.map(
      (s) => `  ${s.percent.toFixed(1).padStart(6)} ${s.selfMs.toFixed(0).padStart(9)}  ${s.name}`,
    ),
    '  by innermost project function on the stack (its library and syscall time included):',
    ...summary.projectCallers.map(
      (s) => `  ${s.percent.toFixed(1).padStart(6)} ${s.selfMs.toFixed(0).padStart(9)}  ${s.name}`,
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write(
      'usage: node --import tsx bench/src/cpu-profile.ts <file.cpuprofile> [top]\n',
    );
    process.exit(64);
  }
  process.stdout.write(`${formatProfile(summarizeProfile(file, Number(top ?? 25)))}\n`);
}
