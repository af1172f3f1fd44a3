import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

// Every child process and temp dir the bench makes is registered here, so a bench that fails,
// times out or is interrupted with Ctrl-C leaves no server running and no directory behind.
// 'exit' listeners may only do synchronous work: SIGKILL and rmSync.
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

function cleanUpNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Best effort: the process is going away.
    }
  }
  dirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  process.stderr.write(`\n[bench] ${signal}: stopping every child process\n`);
  cleanUpNow();
  process.exit(130);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanUpNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}

/** Kills `child` with SIGKILL if it is still running when the bench exits. */
export function killOnExit(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Removes `dir` when the bench exits. */
export function removeOnExit(dir: string): void {
  install();
  dirs.add(dir);
}
