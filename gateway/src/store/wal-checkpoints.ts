import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';

/** How often the WAL is copied back into the database file. */
export const WAL_CHECKPOINT_INTERVAL_MS = 200;

/**
 * Once the WAL is this many frames long (16 MiB of 4 KiB pages), the commit that grew it
 * checkpoints what the thread has not copied yet, itself. SQLite's own default is 1,000.
 */
export const WAL_RESTART_FRAMES = 4096;

// The checkpointer thread: its own connection to the same file, PASSIVE checkpoints on a timer
// (they never wait for a reader or a writer), closed when told to stop. A pass leaves the frames
// committed while it ran, and a writer starts the WAL over from its beginning only when it finds
// every frame copied back; so a pass that left some is followed by a few more, each shorter,
// which catch up in the first pause between commits. Plain CommonJS, so it runs the same under
// tsx and in a plain Node.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const checkpoint = () => db.pragma('wal_checkpoint(PASSIVE)')[0];
const timer = setInterval(() => {
  try {
    let pass = checkpoint();
    for (let i = 0; i < 4 && pass.checkpointed < pass.log; i++) pass = checkpoint();
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
 * checkpoints wait for {@link WAL_RESTART_FRAMES}; should the thread fail, they are back at
 * SQLite's default. Returns the stop function, which resolves once the thread has closed its
 * connection.
 *
 * They are not turned off: under commits that never pause (back-to-back commands) no pass of
 * the thread ever caught up, the WAL was never started over and grew without end, 1.4 GB in a
 * minute, every commit that extended it costing more system time than the last. A commit past
 * WAL_RESTART_FRAMES copies what the thread has not copied yet and has the next one start the
 * file over; while a pass holds the checkpoint lock it skips, and the next commit tries again.
 * That commit waits for the copy and its fsyncs, of the frames since the thread's last pass:
 * command round trips back to back kept their p99 (2.8 ms) and max; a loop of nothing but
 * single-page commits saw commits of up to 28 ms, and a 16 MiB burst within one interval one
 * of 10–15 ms on an idle disk, more on a busy one. The price of a bounded file.
 */
export function checkpointInBackground(
  db: Database,
  intervalMs = WAL_CHECKPOINT_INTERVAL_MS,
): () => Promise<void> {
  const automatic = (on: boolean) => {
    if (db.open) db.pragma(`wal_autocheckpoint = ${on ? 1000 : WAL_RESTART_FRAMES}`);
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
