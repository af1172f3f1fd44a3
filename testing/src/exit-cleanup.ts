import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

// A test file that throws, times out or forgets `stop()` must not leave servers running or
// temp dirs behind, and 'exit' listeners may only do synchronous work: SIGKILL and rmSync.
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function cleanUpNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of dirs) {
    try {
      // Retries cover files a just-killed child may still be closing.
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Best effort: the process is going away and has no one left to report to.
    }
  }
  dirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanUpNow();
  // Listening for a signal cancels Node's default of dying from it. When nobody else (such
  // as node:test) handles it, stop listening and re-raise so the process still dies.
  if (process.listenerCount(signal) === 1) {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanUpNow);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

/** Kills `child` with SIGKILL if it is still running when this process exits. */
export function killOnExit(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Removes `dir` when this process exits, unless {@link keepOnExit} is called first. */
export function removeOnExit(dir: string): void {
  install();
  dirs.add(dir);
}

/** Undoes {@link removeOnExit} once the directory has been removed properly. */
export function keepOnExit(dir: string): void {
  dirs.delete(dir);
}
