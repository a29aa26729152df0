/**
 * WAL checkpoints of a SQLite file off the event loop: a worker thread with a connection of its own runs
 * `PRAGMA wal_checkpoint(PASSIVE)`, again after {@link BUSY_EVERY_MS} while the WAL keeps growing, else every
 * {@link IDLE_EVERY_MS}. A checkpoint copies the pages the WAL holds into the database file and syncs it; run
 * by SQLite's auto-checkpoint, it happens inside the commit that crosses 1,000 pages, so one request's write
 * waited for it (issue 17: write p99.9 7 -> 17 ms from 10,000 to 1,000,000 sessions, single writes of 74 ms).
 * A PASSIVE checkpoint takes no lock that a writer or reader waits for: the store's connection goes on
 * writing to the WAL meanwhile, and SQLite starts the WAL over at the first write after a checkpoint that
 * reached its end.
 *
 * The WAL can grow fast: a purge dirties some four pages per deleted row (the table and three indexes, on
 * random keys), 16 KB of WAL a row, and a batch of a few hundred rows every few milliseconds. So the store's
 * own connection keeps an auto-checkpoint only as a backstop far above what the worker lets pile up
 * ({@link BACKSTOP_PAGES}: a worker that stalled or died). The WAL file keeps the size it reached until the
 * store closes (no `journal_size_limit`: cutting back a WAL of hundreds of megabytes when SQLite starts it
 * over would be done by a request's commit). A worker that fails (better-sqlite3 that cannot load in a worker, say) restores
 * SQLite's default on the connection.
 */
import { Worker } from 'node:worker_threads';

/** The pause after a checkpoint that found the WAL grown since the last (ms). */
export const BUSY_EVERY_MS = 10;
/** The pause after a checkpoint that found nothing new (ms). */
export const IDLE_EVERY_MS = 200;
/** The store's connection checkpoints itself only past this many WAL pages (1 GB of 4 KB pages). */
export const BACKSTOP_PAGES = 262_144;
/** SQLite's own auto-checkpoint threshold, restored when the worker fails. */
const SQLITE_DEFAULT_PAGES = 1_000;

// CommonJS, as `eval` workers are. Loads better-sqlite3 from the path the store resolved.
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.filename, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
let frames = -1;
let timer;
function checkpoint() {
  let grew = false;
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    grew = result.log !== frames;
    frames = result.log;
  } catch (error) {
    // SQLITE_BUSY: another checkpoint runs (another process's). Tried again at the next tick.
  }
  timer = setTimeout(checkpoint, grew ? workerData.busyMs : workerData.idleMs);
}
timer = setTimeout(checkpoint, workerData.busyMs);
parentPort.on('message', (message) => {
  if (message === 'close') {
    clearTimeout(timer);
    db.close();
    parentPort.close();
  }
});
`;

export interface Checkpointer {
  /** Stops the worker and closes its connection; the store's connection then does the last checkpoint. */
  close(): Promise<void>;
}

interface PragmaConnection {
  pragma(source: string, options?: { simple?: boolean }): unknown;
}

/**
 * Starts the worker for `filename` (a file, not `:memory:`), and moves the auto-checkpoint of `db` (the
 * store's connection) to the backstop. `module` is better-sqlite3's resolved path.
 */
export function startCheckpointer(db: PragmaConnection, filename: string, module: string): Checkpointer {
  let worker: Worker | undefined;
  let exited: Promise<void> = Promise.resolve();
  const fallBack = () => {
    worker = undefined;
    try {
      db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_PAGES}`);
    } catch {
      // The connection is closed: nothing to restore.
    }
  };
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  try {
    const started = new Worker(SOURCE, {
      eval: true,
      workerData: { filename, module, busyMs: BUSY_EVERY_MS, idleMs: IDLE_EVERY_MS },
      // A checkpointer needs little: a small heap, no stdin.
      resourceLimits: { maxOldGenerationSizeMb: 32 },
    });
    worker = started;
    started.unref();
    exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    started.on('error', fallBack);
    started.once('exit', () => {
      if (worker === started) fallBack();
    });
  } catch {
    fallBack();
  }

  return {
    async close() {
      const running = worker;
      worker = undefined;
      if (running === undefined) return;
      running.postMessage('close');
      // A worker that does not end by itself within a second is stopped.
      const timer = setTimeout(() => void running.terminate(), 1_000);
      timer.unref();
      await exited;
      clearTimeout(timer);
    },
  };
}
