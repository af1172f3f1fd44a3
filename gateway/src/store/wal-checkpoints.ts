import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';

/** How often the WAL is copied back into the database file. */
export const WAL_CHECKPOINT_INTERVAL_MS = 200;

// The checkpointer thread: its own connection to the same file, a PASSIVE checkpoint on a timer
// (it never waits for a reader or a writer), closed when told to stop. Plain CommonJS, so it
// runs the same under tsx and in a plain Node.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Retried at the next tick; the writes themselves report what is wrong with the disk.
  }
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Takes a SQLite database's WAL checkpoints off the event loop. Left to itself, SQLite
 * checkpoints inside the commit that grows the WAL past 1,000 pages, and that commit's caller
 * waits for the copy and its fsyncs: 4 to 10 ms on the development machine, in about one command
 * round trip of a hundred, which set the idle p99. On a timer in the main thread the copies
 * grow with the interval and stall everything at once. So a worker thread checkpoints, on a
 * connection of its own, every `intervalMs`, and once it runs the connection's automatic
 * checkpoints are turned off; should the thread fail, they are turned back on. Returns the stop
 * function, which resolves once the thread has closed its connection.
 */
export function checkpointInBackground(
  db: Database,
  intervalMs = WAL_CHECKPOINT_INTERVAL_MS,
): () => Promise<void> {
  const automatic = (on: boolean) => {
    if (db.open) db.pragma(`wal_autocheckpoint = ${on ? 1000 : 0}`);
  };
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { driver, file: db.name, intervalMs },
  });
  worker.unref();
  worker.once('online', () => automatic(false));
  worker.on('error', () => automatic(true));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= (async () => {
      // SQLite's own checkpoints again for whatever the connection still writes.
      automatic(true);
      // Held by the thread until it has closed its connection.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    })();
    return stopped;
  };
}
