#!/usr/bin/env node
// The simulator / load generator: `npm run sim -- --help`. docs/simulator.md is the reference.
import { parseSimArgs } from './sim/cli-options.ts';
import { HELP } from './sim/help.ts';
import { runSimulation, StartError } from './sim/run-simulation.ts';
import { runWorker } from './sim/worker-main.ts';
import { WORKER_ENV } from './sim/worker-protocol.ts';

async function main(): Promise<number> {
  const parsed = parseSimArgs(process.argv.slice(2));
  if (parsed.kind === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (parsed.kind === 'invalid') {
    process.stderr.write(
      `Invalid options (${parsed.problems.length} problem${parsed.problems.length === 1 ? '' : 's'}):\n${parsed.problems.map((p) => `  - ${p}`).join('\n')}\nSee --help.\n`,
    );
    return 2;
  }
  try {
    return await runSimulation(parsed.options, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
    });
  } catch (error) {
    if (error instanceof StartError || (error instanceof Error && error.message.startsWith('--'))) {
      process.stderr.write(`Cannot start: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

// `npm run sim -- --help | head` closes the pipe early; that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

if (process.env[WORKER_ENV] === '1' && process.send) {
  runWorker();
} else {
  main().then(
    (code) => {
      process.exitCode = code;
      // Sockets still closing must not hold the summary's exit back.
      setTimeout(() => process.exit(code), 1000).unref();
    },
    (error: unknown) => {
      process.stderr.write(
        `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(2);
    },
  );
}
