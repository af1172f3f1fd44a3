#!/usr/bin/env -S node --import tsx
// `npm run bench [-- <scenario>...] [--quick] [--profile]`: the gateway measured side by side with
// a raw ws sink and Socket.IO, in one run on one machine. See BENCHMARKS.md.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchContext } from './src/bench-context.ts';
import { formatProfile, type ProfileSummary, summarizeProfile } from './src/cpu-profile.ts';
import { machineInfo, versions } from './src/machine.ts';
import { parseOptions, USAGE } from './src/options.ts';
import { provisionDevices } from './src/provision.ts';
import {
  ABUSE_SECTION,
  type BenchResults,
  CLUSTER_SECTION,
  checkTargets,
  renderMarkdown,
  updateBenchmarksMd,
  updateScenarioSection,
  writeResults,
} from './src/report.ts';
import { type AbuseResult, renderAbuse, runAbuse } from './src/scenarios/abuse.ts';
import {
  type ClusterResult,
  clusterTargets,
  renderCluster,
  runCluster,
} from './src/scenarios/cluster.ts';
import { type LivenessResult, runLiveness } from './src/scenarios/liveness.ts';
import { type ReconnectResult, runReconnect } from './src/scenarios/reconnect.ts';
import { runSessions, type SessionsResult } from './src/scenarios/sessions.ts';
import { runThroughput, type ThroughputResult } from './src/scenarios/throughput.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(BENCH_DIR, '..');
const RESULTS_DIR = join(BENCH_DIR, 'results');

/** The command as the user typed it, for the record. */
function commandLine(argv: readonly string[]): string {
  const event = process.env.npm_lifecycle_event;
  const script = process.env.npm_lifecycle_script;
  if (event && script?.includes('bench/run.ts')) {
    const baked = script.split('bench/run.ts')[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
    const extra = argv.slice(baked.length);
    return `npm run ${event}${extra.length > 0 ? ` -- ${extra.join(' ')}` : ''}`;
  }
  return `node --import tsx bench/run.ts${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`;
}

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
let options: ReturnType<typeof parseOptions>;
try {
  options = parseOptions(argv);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(64);
}

const started = new Date();
const startedMs = Date.now();
const ctx = new BenchContext(options, join(RESULTS_DIR, 'profiles'));
const want = options.scenarios;
const failures: string[] = [];
let throughput: ThroughputResult | undefined;
let sessions: SessionsResult | undefined;
let liveness: LivenessResult | undefined;
let reconnect: ReconnectResult | undefined;
let abuse: AbuseResult | undefined;
let cluster: ClusterResult | undefined;

async function scenario<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    ctx.log(`${name} FAILED: ${message}`);
    failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

try {
  ctx.log(`scenarios: ${[...want].join(', ')}${options.quick ? ' (quick)' : ''}`);
  const t = options.throughput;
  const registryDir = join(ctx.dir, 'registry');
  const mostDevices = Math.max(...t.shapes.map((shape) => shape.devices));
  const groups = await provisionDevices(registryDir, {
    ...Object.fromEntries(t.shapes.map((shape, i) => [`tp${i}`, shape.devices])),
    half: mostDevices,
    commands: options.commands.devices,
    ...(want.has('sessions') ? { sessions: options.sessions.count } : {}),
    ...(want.has('reconnect') ? { storm: options.reconnect.devices } : {}),
    ...(want.has('liveness')
      ? { zombies: options.liveness.zombies, healthy: options.liveness.healthy }
      : {}),
    ...(want.has('abuse')
      ? {
          abuseHealthy: options.abuse.healthy,
          abuseFlooders: options.abuse.flooders,
          abuseNonReaders: options.abuse.nonReaders,
        }
      : {}),
  });
  ctx.log(`provisioned ${Object.values(groups).reduce((a, g) => a + g.ids.length, 0)} devices`);
  // Started first, so their start-up is over before anything is measured.
  await ctx.services();

  if (want.has('throughput') || want.has('commands')) {
    throughput = await scenario('throughput', () =>
      runThroughput(
        ctx,
        registryDir,
        {
          shapes: t.shapes.map((_, i) => groups[`tp${i}`]!),
          half: groups.half!,
          commands: groups.commands!,
        },
        { baselines: want.has('throughput'), commands: want.has('commands') },
      ),
    );
  }
  if (want.has('sessions')) {
    sessions = await scenario('sessions', () => runSessions(ctx, registryDir, groups.sessions!));
  }
  if (want.has('liveness')) {
    liveness = await scenario('liveness', () =>
      runLiveness(ctx, registryDir, { zombies: groups.zombies!, healthy: groups.healthy! }),
    );
  }

  if (want.has('reconnect')) {
    reconnect = await scenario('reconnect', () => runReconnect(ctx, registryDir, groups.storm!));
  }

  if (want.has('abuse')) {
    abuse = await scenario('abuse', () =>
      runAbuse(ctx, registryDir, {
        healthy: groups.abuseHealthy!,
        flooders: groups.abuseFlooders!,
        nonReaders: groups.abuseNonReaders!,
      }),
    );
  }

  if (want.has('cluster')) cluster = await scenario('cluster', () => runCluster(ctx));

  let profiles: ProfileSummary[] | undefined;
  if (options.profile) {
    profiles = [];
    for (const name of readdirSync(ctx.profileDir).sort()) {
      // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread (the
      // others are tsx's loader thread, idle once the modules are loaded).
      const match = /^CPU\.\d+\.\d+\.(\d+)\.0\.\d+\.cpuprofile$/.exec(name);
      const file = join(ctx.profileDir, name);
      if (!match || statSync(file).mtimeMs < startedMs) continue;
      const label = ctx.profiled.get(Number(match[1])) ?? `pid ${match[1]}`;
      const summary = { ...summarizeProfile(file, 25), file: `${label}: ${relative(ROOT, file)}` };
      profiles.push(summary);
      process.stderr.write(`\n${formatProfile(summary)}\n`);
    }
  }

  const { influx } = await ctx.services();
  const results: BenchResults = {
    startedAt: started.toISOString(),
    durationS: (Date.now() - startedMs) / 1000,
    command: commandLine(argv),
    quick: options.quick,
    profiled: options.profile,
    machine: machineInfo(),
    versions: await versions(influx.url),
    ...(throughput ? { throughput } : {}),
    ...(sessions ? { sessions } : {}),
    ...(liveness ? { liveness } : {}),
    ...(reconnect ? { reconnect } : {}),
    ...(cluster ? { cluster } : {}),
    targets: [
      ...checkTargets(throughput, sessions, liveness, reconnect),
      ...(cluster ? clusterTargets(cluster) : []),
    ],
    ...(profiles ? { profiles } : {}),
    ...(failures.length > 0 ? { failures } : {}),
  };
  const file = writeResults(RESULTS_DIR, abuse ? { ...results, abuse } : results);
  if (abuse) {
    const section = renderAbuse(abuse);
    process.stdout.write(`\n${section}\n`);
    if (!options.quick && !argv.includes('--no-md') && failures.length === 0) {
      updateScenarioSection(
        join(ROOT, 'BENCHMARKS.md'),
        ABUSE_SECTION,
        results,
        section,
        relative(ROOT, file),
      );
      ctx.log('BENCHMARKS.md abuse section updated');
    }
  }
  if (cluster) {
    const section = renderCluster(cluster);
    process.stdout.write(`\n${section}\n`);
    if (!options.quick && !argv.includes('--no-md') && failures.length === 0) {
      updateScenarioSection(
        join(ROOT, 'BENCHMARKS.md'),
        CLUSTER_SECTION,
        results,
        section,
        relative(ROOT, file),
      );
      ctx.log('BENCHMARKS.md cluster section updated');
    }
  }
  const markdown = renderMarkdown(results);
  if (want.size > 1 || (!abuse && !cluster)) process.stdout.write(`\n${markdown}\n`);
  const resultsPath = relative(ROOT, file);
  ctx.log(`results: ${resultsPath} and ${relative(ROOT, join(RESULTS_DIR, 'latest.json'))}`);
  if (options.writeMarkdown && failures.length === 0) {
    updateBenchmarksMd(join(ROOT, 'BENCHMARKS.md'), markdown, resultsPath);
    ctx.log('BENCHMARKS.md updated');
  }
} finally {
  await ctx.close();
}
if (failures.length > 0) {
  process.stderr.write(`\n${failures.length} scenario(s) failed:\n  ${failures.join('\n  ')}\n`);
  process.exitCode = 1;
}
// Keep-alive sockets of fetch() would otherwise hold the process a few seconds.
process.exit();
