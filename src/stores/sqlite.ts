/**
 * `teller/stores/sqlite`: sessions in one SQLite table through better-sqlite3, the embedded persistent default.
 *
 * Pass a better-sqlite3 `Database` you opened (`{ database }`), or a file name (`{ filename }`): then the
 * factory loads better-sqlite3 (an optional peer dependency), opens the file in WAL mode with
 * `synchronous=NORMAL` and a `busy_timeout` (`busyTimeout`: several processes may share the file) and creates
 * the table, so a missing package, a bad path or a file that is not a database fails at creation, not at the
 * first request; `close()` closes it. With a `Database` passed in, the table is created at first use.
 *
 * Calls are queued and run together at the end of the event-loop turn: the turn's reads in one read
 * transaction, then its writes in one write transaction (group commit), each call keeping its own result.
 * One transaction's file locks and one WAL commit serve all the requests of the turn, rather than a read
 * transaction for each request (two or more `fcntl` locks each) and a commit for each write. The calls that
 * the answers set off (the handlers, the next request of a session let through by its lock) are run as soon
 * as that work is done, in the same turn. So every call is settled by the store itself within the turn
 * (`settlesInTurn`); the only wait is for another process's write lock, and better-sqlite3 waits
 * synchronously, where no timer could end it: the manager's `storeTimeout` does not apply, `busyTimeout`
 * bounds it (then the call fails with a SessionStoreError, 503).
 *
 * Compare-and-set is one statement: `UPDATE ... WHERE key = ? AND version = ?`, or for a first write
 * `INSERT ... ON CONFLICT(key) DO UPDATE ... WHERE <the old row is dead>`. `expires_at` is this store's drop
 * time (its clock + `ttlMs` at the write), never the record's `expiresAt`: a row is kept at least `ttlMs`,
 * treated as absent after it, and deleted by `purgeExpired` and an unref'd cleanup timer.
 *
 * A store that opened its file keeps a copy of the records it updated in its last two event-loop turns
 * (`cacheSize`) and answers a read from it when no other connection has committed to the file since: `PRAGMA
 * data_version`, read once in each batch's transaction, changes when another connection (in this process or
 * another) commits, and then the copies are dropped. A copy spares the row's lookup and decoding (the next
 * request of a session that keeps writing), not the transaction.
 *
 * Statements bind their parameters by position and read rows as arrays: better-sqlite3 looks named
 * parameters up on an object and sets every column name on a row object, which cost about as much as
 * SQLite's own work for these one-row statements (callgrind, per statement: the UPDATE with 10 named
 * parameters 29,600 instructions, by position 18,000; a one-row SELECT as an object 20,100, as an array
 * 14,900).
 */

import { createRequire } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { SessionStoreError, tellerMessage } from '../session/errors.js';
import {
  assertRetireArguments,
  assertScanArguments,
  assertSetArguments,
  retiredRecordOf,
  type SessionRecord,
  type SessionStore,
} from '../session/store.js';
import { BatchSizer, OneAtATime } from './_batches.js';
import { assertTableName, type RecordRow as Row, recordOf, restOf, toRecord } from './_record.js';
import { RecordCache } from './_record-cache.js';
import { type Checkpointer, startCheckpointer } from './_sqlite-checkpointer.js';

/** The name used in this store's error messages. */
export const SQLITE_STORE_NAME = 'sqlite-store';

/** The part of a better-sqlite3 statement the store uses. */
export interface SqliteStatement {
  run(...params: never[]): { changes: number };
  get(...params: never[]): unknown;
  all(...params: never[]): unknown[];
  /** Rows as arrays of column values (better-sqlite3's raw mode). */
  raw(toggle?: boolean): this;
  /** Only the first column's value (better-sqlite3's pluck mode). */
  pluck(toggle?: boolean): this;
}

/** The part of a better-sqlite3 `Database` the store uses (any compatible client will do). */
export interface SqliteDatabase {
  prepare(source: string): SqliteStatement;
  exec(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
  /** True inside a transaction (better-sqlite3 has it); then queued calls join it instead of opening their own. */
  readonly inTransaction?: boolean;
}

interface CommonOptions {
  /**
   * The table's name (letters, digits, `_`). Created when missing, with its indexes.
   * @default 'teller_sessions'
   */
  table?: string;
  /**
   * How often (ms) an unref'd timer deletes rows whose lifetime ended; `0` disables it (call `purgeExpired`).
   * @default 300_000
   */
  cleanupInterval?: number;
  /**
   * This store's clock (epoch ms), used only to turn `ttlMs` into a drop time. A parameter so tests need no sleep.
   * @default Date.now
   */
  clock?: () => number;
}

export interface SqliteStoreFileOptions extends CommonOptions {
  /** The database file (created when missing). The factory opens it with better-sqlite3; `close()` closes it. */
  filename: string;
  /**
   * How long (ms) a call waits for another process's write lock on the file before failing with a
   * SessionStoreError (503). The wait blocks the event loop (better-sqlite3 is synchronous), and the
   * manager's `storeTimeout` cannot shorten it. Another process's session writes hold the lock for
   * microseconds; a long wait means a long transaction elsewhere.
   * @default 1_000
   */
  busyTimeout?: number;
  /**
   * At most how many records the store keeps in memory to answer reads without looking the row up: those it
   * updated in its last two event-loop turns, used while no other connection (another process, or another
   * store on the same file) has written to the file since (SQLite is asked once for each batch of reads).
   * `0` turns it off.
   * @default 10_000
   */
  cacheSize?: number;
  /**
   * Who runs the WAL checkpoints (copying the WAL's pages into the file): `'background'`, a worker thread with
   * a connection of its own, as soon as the WAL has grown (every 10 ms while it grows, every 200 ms when
   * idle), so no request's write waits for one (started once the store has written 1,000 records; the
   * store's connection still checkpoints past 1 GB of WAL, should the worker stall); `'inline'`, SQLite's
   * default, inside the commit that takes the WAL past 1,000 pages.
   * @default 'background'
   */
  checkpoints?: 'background' | 'inline';
  database?: never;
}

export interface SqliteStoreDatabaseOptions extends CommonOptions {
  /**
   * A better-sqlite3 `Database` you opened. Its settings are left as they are (use
   * `db.pragma('journal_mode = WAL')` and `db.pragma('synchronous = NORMAL')`), and `close()` leaves it open.
   * Every read queries it: your code may write to the table through this connection, which SQLite does not
   * report as a change, so the store keeps no copies.
   */
  database: SqliteDatabase;
  filename?: never;
  busyTimeout?: never;
  cacheSize?: never;
  checkpoints?: never;
}

export type SqliteStoreOptions = SqliteStoreFileOptions | SqliteStoreDatabaseOptions;

/** The SQLite store: the contract plus its optional abilities, all present. */
export interface SqliteStore
  extends Required<Omit<SessionStore, 'migrateLegacy' | 'getNow' | 'setNow' | 'deleteNow'>> {}

/** Rows in the first batch of a purge or a revocation; later batches are sized by time (`_batches.ts`). */
const FIRST_BATCH = 200;

/** The writes after which a store with `checkpoints: 'background'` starts its checkpoint worker. */
const START_CHECKPOINTER_AFTER = 1_000;

/** Flushes in a row for the calls made by the answers of the previous one, before waiting for a loop turn. */
const MAX_CHAINED = 64;

/** The columns `get` selects, in order: a row read as an array. */
type Columns = [
  version: number,
  userId: string | null,
  data: string,
  createdAt: number,
  lastSeenAt: number,
  meta: string,
];

/**
 * Opens `filename` with better-sqlite3, loaded only now (an optional peer dependency), and runs `setUp` on it.
 * Throws a plain Error (the options are right; no request is being answered): the install hint, or the file
 * and SQLite's reason (a missing directory, no permission, not a database).
 */
function openFile<T>(
  filename: string,
  busyTimeout: number,
  setUp: (db: SqliteDatabase) => T,
): { db: SqliteDatabase; setUp: T; module: string } {
  let Database: new (filename: string) => SqliteDatabase;
  let module: string;
  try {
    const require = createRequire(import.meta.url);
    module = require.resolve('better-sqlite3');
    Database = require(module) as typeof Database;
  } catch (error) {
    throw new Error(
      tellerMessage(
        SQLITE_STORE_NAME,
        `install better-sqlite3 to use a SQLite file: npm install better-sqlite3`,
      ),
      { cause: error },
    );
  }
  let db: SqliteDatabase | undefined;
  try {
    db = new Database(filename);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // better-sqlite3 waits for a lock synchronously, blocking the event loop (see `busyTimeout`).
    db.pragma(`busy_timeout = ${busyTimeout}`);
    return { db, setUp: setUp(db), module };
  } catch (error) {
    db?.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      tellerMessage(SQLITE_STORE_NAME, `cannot open the SQLite file ${JSON.stringify(filename)}: ${reason}`),
      { cause: error },
    );
  }
}

/**
 * Creates a SQLite store.
 *
 * @example
 * const store = createSqliteStore({ filename: 'sessions.db' });
 * // or, with a database you manage:
 * const store = createSqliteStore({ database: new Database('app.db') });
 */
export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const { table = 'teller_sessions', cleanupInterval = 300_000, clock = Date.now } = options;
  assertTableName(SQLITE_STORE_NAME, table);
  if (!(cleanupInterval >= 0))
    throw new TypeError(tellerMessage(SQLITE_STORE_NAME, `cleanupInterval must be >= 0`));
  const owned = options.database === undefined;
  if (
    !owned &&
    (options.busyTimeout !== undefined ||
      options.cacheSize !== undefined ||
      options.checkpoints !== undefined)
  ) {
    throw new TypeError(
      tellerMessage(
        SQLITE_STORE_NAME,
        `busyTimeout, cacheSize and checkpoints are for a file the store opens ({ filename }); a Database passed in keeps its own settings`,
      ),
    );
  }
  const {
    busyTimeout = 1_000,
    cacheSize = owned ? 10_000 : 0,
    checkpoints = 'background',
  } = owned ? options : {};
  if (checkpoints !== 'background' && checkpoints !== 'inline')
    throw new TypeError(tellerMessage(SQLITE_STORE_NAME, `checkpoints must be 'background' or 'inline'`));
  for (const [name, value] of [
    ['busyTimeout', busyTimeout],
    ['cacheSize', cacheSize],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new TypeError(tellerMessage(SQLITE_STORE_NAME, `${name} must be an integer >= 0`));
  }
  if (owned && (typeof options.filename !== 'string' || options.filename === '')) {
    throw new TypeError(tellerMessage(SQLITE_STORE_NAME, `give either { filename } or { database }`));
  }

  let db: SqliteDatabase | undefined = options.database;
  let statements: ReturnType<typeof prepare> | undefined;
  let closed = false;
  const cache = cacheSize > 0 ? new RecordCache(cacheSize) : undefined;
  /** `PRAGMA data_version` when the copies were last known to match the file. */
  let seenVersion: number | undefined;
  let checkpointer: Checkpointer | undefined;
  /** Starts the checkpoint worker (once); `writesBefore` counts down the writes until it is due. */
  let startLater: (() => void) | undefined;
  let writesBefore = START_CHECKPOINTER_AFTER;
  // A file is opened now: whatever stops it from working fails here, before a server starts (fail fast).
  if (owned) {
    const opened = openFile(options.filename as string, busyTimeout, prepare);
    db = opened.db;
    statements = opened.setUp;
    seenVersion = statements.dataVersion.get() as number;
    // Only a file in WAL mode has checkpoints (an in-memory database reports 'memory'). The worker starts once
    // the store has written START_CHECKPOINTER_AFTER records: a store that writes little never needs a thread.
    if (checkpoints === 'background' && db.pragma('journal_mode', { simple: true }) === 'wal') {
      // Resolved now: the worker opens the same file though the process's directory changed meanwhile.
      const filename = resolvePath(options.filename as string);
      startLater = () => {
        if (!closed && db !== undefined) checkpointer = startCheckpointer(db, filename, opened.module);
      };
    }
  }

  function prepare(database: SqliteDatabase) {
    const t = `"${table}"`;
    database.exec(`
      CREATE TABLE IF NOT EXISTS ${t} (
        key TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL,
        user_id TEXT,
        expires_at INTEGER NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        meta TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS "${table}_user_id" ON ${t} (user_id) WHERE user_id IS NOT NULL;
      CREATE INDEX IF NOT EXISTS "${table}_expires_at" ON ${t} (expires_at);
    `);
    const columns = 'version, user_id, data, created_at, last_seen_at, meta';
    // Parameters by position (see the module's doc): the record's columns, in this order, in both writes.
    const set =
      'expires_at = ?, version = ?, user_id = ?, data = ?, created_at = ?, last_seen_at = ?, meta = ?';
    return {
      get: database.prepare(`SELECT ${columns} FROM ${t} WHERE key = ? AND expires_at >= ?`).raw(true),
      // A first write: takes the key when absent, or when the row under it is past its drop time (dead).
      // Parameters: the columns, the key, now.
      insert: database.prepare(
        `INSERT INTO ${t} (expires_at, ${columns}, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET version = excluded.version, user_id = excluded.user_id,
           expires_at = excluded.expires_at, data = excluded.data, created_at = excluded.created_at,
           last_seen_at = excluded.last_seen_at, meta = excluded.meta
         WHERE ${t}.expires_at < ?`,
      ),
      // Parameters: the columns, the key, now, the expected version.
      update: database.prepare(`UPDATE ${t} SET ${set} WHERE key = ? AND expires_at >= ? AND version = ?`),
      dataVersion: database.prepare('PRAGMA data_version').pluck(true),
      delete: database.prepare(`DELETE FROM ${t} WHERE key = ?`),
      listByUser: database.prepare(`SELECT key, ${columns} FROM ${t} WHERE user_id = ? AND expires_at >= ?`),
      // Keyset pagination on the primary key: parameters the last key returned ('' first), now, the page size.
      scan: database.prepare(
        `SELECT key, ${columns} FROM ${t} WHERE key > ? AND expires_at >= ? ORDER BY key LIMIT ?`,
      ),
      // One batch of a revocation. Parameters: the user, the key kept (or null), now, the batch's size.
      deleteByUser: database.prepare(
        `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t}
           WHERE user_id = ? AND key IS NOT ? AND expires_at >= ? LIMIT ?)`,
      ),
      // One batch of a revocation that leaves retirement records: the rows deleteByUser's batch would delete,
      // each turned into its retirement record (retiredRecordOf: the next version, out of the user index, so
      // out of the next batch; empty; never live; its meta column the same for every row) kept retiredTtlOf
      // ms, its drop time rounded up. SET reads the old row. Parameters: now, minMs, rememberMeAbsoluteMs,
      // absoluteMs, at, maxMs, slackMs, the meta column; then the user, the key kept (or null), now, the
      // batch's size.
      retireByUser: database.prepare(
        `UPDATE ${t} SET expires_at = ceil(? + min(max(?, created_at
             + (CASE WHEN json_extract(meta, '$.persistent') IS 1 THEN ? ELSE ? END) - ?), ?) + ?),
           version = version + 1, user_id = NULL, data = '', created_at = 0, last_seen_at = 0, meta = ?
         WHERE rowid IN (SELECT rowid FROM ${t} WHERE user_id = ? AND key IS NOT ? AND expires_at >= ? LIMIT ?)`,
      ),
      // One batch of a purge. Parameters: now, the batch's size.
      purge: database.prepare(
        `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE expires_at < ? LIMIT ?)`,
      ),
      // count() walks the expires_at index in chunks, in the index's own order (expires_at, then rowid), each
      // chunk entering it right after the last entry counted: the rest of that drop time's entries (an index
      // seek on expires_at = ? AND rowid > ?), then the later drop times, merged in order. (A row value,
      // `(expires_at, rowid) > (?, ?)`, let SQLite walk every entry of a drop time again at each chunk: 24 s for
      // a million sessions that shared one.) Parameters: the last entry (expires_at, rowid), its expires_at
      // again, now, the chunk's size - 1.
      countSkip: database
        .prepare(
          `SELECT expires_at, rowid FROM (
             SELECT expires_at, rowid FROM ${t} WHERE expires_at = ? AND rowid > ?
             UNION ALL
             SELECT expires_at, rowid FROM ${t} WHERE expires_at > ? AND expires_at >= ?
           ) ORDER BY expires_at, rowid LIMIT 1 OFFSET ?`,
        )
        .raw(true),
      // Parameters: as countSkip's, without the chunk's size.
      countRest: database
        .prepare(
          `SELECT (SELECT count(*) FROM ${t} WHERE expires_at = ? AND rowid > ?)
                + (SELECT count(*) FROM ${t} WHERE expires_at > ? AND expires_at >= ?)`,
        )
        .pluck(true),
      begin: database.prepare('BEGIN'),
      beginImmediate: database.prepare('BEGIN IMMEDIATE'),
      commit: database.prepare('COMMIT'),
      rollback: database.prepare('ROLLBACK'),
    };
  }

  /** The prepared statements; with a Database passed in, the table is created at first use. */
  function ready(): NonNullable<typeof statements> {
    if (closed) throw new SessionStoreError(tellerMessage(SQLITE_STORE_NAME, `the store is closed`));
    statements ??= prepare(db as SqliteDatabase);
    return statements;
  }

  /** Runs one read now; a SQLite failure becomes a SessionStoreError with the cause attached. */
  async function run<T>(operation: string, fn: (s: NonNullable<typeof statements>) => T): Promise<T> {
    const s = ready();
    try {
      return fn(s);
    } catch (error) {
      throw new SessionStoreError(tellerMessage(SQLITE_STORE_NAME, `${operation} failed`), { cause: error });
    }
  }

  // Calls are queued and run together at the end of this event-loop turn: the reads in one read transaction,
  // then the writes in one write transaction (group commit), each call keeping its own result (a write its
  // own compare-and-set). One transaction's locks and one WAL commit for all the requests of the turn,
  // instead of a read transaction per request and a commit per write (strace, the http bench's 50 clients on
  // their own sessions: 2.1 fcntl calls per request with a read transaction each, 0.16 batched). Every call
  // of a batch was made before it ran and is answered after it, so running its reads before its writes is a
  // valid order.
  interface Queued {
    operation: string;
    fn: (s: NonNullable<typeof statements>) => unknown;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }
  let reads: Queued[] = [];
  let writes: Queued[] = [];
  let scheduled: ReturnType<typeof setImmediate> | undefined;
  // After a flush, the work its answers set off (responses, handlers, the next request of a session let
  // through by the lock) runs before anything else: the calls it makes are flushed as soon as it is done, in
  // this turn, rather than one loop turn later each (50 clients on one session: an epoll_wait and a loop
  // turn per request before). `chained` counts such flushes in a row: past MAX_CHAINED, the next waits for
  // the next turn, so I/O is never held off for long.
  let afterFlush = false;
  let chained = 0;

  function queue<T>(
    into: 'read' | 'write',
    operation: string,
    fn: (s: NonNullable<typeof statements>) => T,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      ready(); // a closed store: rejects
      const call = { operation, fn, resolve: resolve as (value: unknown) => void, reject };
      (into === 'read' ? reads : writes).push(call);
      if (!afterFlush) scheduled ??= setImmediate(flushTurn);
    });
  }

  /** Runs once the work set off by a flush's answers is done (a tick queued after their promise jobs). */
  function flushChained(): void {
    afterFlush = false;
    if (reads.length === 0 && writes.length === 0) {
      chained = 0;
    } else if (chained < MAX_CHAINED) {
      chained++;
      flush();
    } else {
      chained = 0;
      scheduled ??= setImmediate(flushTurn);
    }
  }

  /** A flush at the end of a loop turn (after I/O): the copies of the turn before last are dropped. */
  function flushTurn(): void {
    cache?.turn();
    flush();
  }

  function flush(): void {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    const readBatch = reads;
    const writeBatch = writes;
    reads = [];
    writes = [];
    if (readBatch.length === 0 && writeBatch.length === 0) return;
    if (!afterFlush && !closed) {
      afterFlush = true;
      // A microtask queues the tick: it then runs once the microtasks the answers set off are done.
      queueMicrotask(() => process.nextTick(flushChained));
    }
    const s = statements;
    if (s === undefined) {
      const error = new Error('the store was closed before the call ran');
      for (const call of [...readBatch, ...writeBatch]) fail(call, error);
      return;
    }
    checked = false;
    if (readBatch.length > 0) runBatch(s, readBatch, s.begin);
    if (writeBatch.length > 0) {
      runBatch(s, writeBatch, s.beginImmediate);
      if (startLater !== undefined && (writesBefore -= writeBatch.length) <= 0) {
        const start = startLater;
        startLater = undefined;
        start();
      }
    }
  }

  const fail = (call: Queued, error: unknown) =>
    call.reject(
      new SessionStoreError(tellerMessage(SQLITE_STORE_NAME, `${call.operation} failed`), { cause: error }),
    );

  /** Runs the calls in order, in one transaction when there are several; then answers them. */
  function runBatch(s: NonNullable<typeof statements>, batch: Queued[], begin: SqliteStatement): void {
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    // Inside a transaction the application holds open (a Database passed in), the calls join it.
    const own = batch.length > 1 && db?.inTransaction !== true;
    try {
      if (own) begin.run();
      for (const call of batch) {
        try {
          results.push({ ok: true, value: call.fn(s) });
        } catch (error) {
          // The statement alone was undone, unless SQLite rolled back the whole transaction.
          if (own && db?.inTransaction !== true) throw error;
          results.push({ ok: false, error });
        }
      }
      if (own) s.commit.run();
    } catch (error) {
      if (own && db?.inTransaction === true) s.rollback.run();
      // The copies taken by the statements that ran were rolled back with them.
      cache?.clear();
      for (const call of batch) fail(call, error);
      return;
    }
    batch.forEach((call, i) => {
      const result = results[i]!;
      if (result.ok) call.resolve(result.value);
      else fail(call, result.error);
    });
  }

  /** Whether this batch has checked that the copies still match the file (once, in its transaction). */
  let checked = false;

  /**
   * The record under `key` from the copies (null: past its drop time), when no other connection has
   * committed to the file since they were known to match it; undefined: read the row.
   */
  function fromCache(
    s: NonNullable<typeof statements>,
    held: RecordCache,
    key: string,
    now: number,
  ): SessionRecord | null | undefined {
    if (!held.has(key)) return undefined;
    if (!checked) {
      checked = true;
      const version = s.dataVersion.get() as number;
      // Another connection wrote: any copy may be stale. Start again from this version.
      if (version !== seenVersion) {
        held.clear();
        seenVersion = version;
        return undefined;
      }
    }
    return held.get(key, now);
  }

  /**
   * Deletes rows in batches, one per event-loop turn, each in that turn's write transaction with the requests'
   * writes, each sized to take about 4 ms by the cost of the rows before (`_batches.ts`): any number of rows
   * blocks the loop for one batch at a time (issue 17 measured one block of 3 s for a purge of 100,000 rows at
   * a million sessions when it was one statement, and a revocation of 1,000 sessions in one of up to 45 ms).
   * Returns how many rows it deleted.
   */
  async function inBatches(
    operation: string,
    sizer: BatchSizer,
    batch: (s: NonNullable<typeof statements>, size: number) => number,
    onProgress?: (removed: number) => void,
  ): Promise<number> {
    let removed = 0;
    for (;;) {
      const size = sizer.size;
      const changes = await queue('write', operation, (s) => {
        // The copies do not know their rows' drop times or users: all are dropped (a rare call).
        cache?.clear();
        const started = performance.now();
        const deleted = batch(s, size);
        sizer.took(deleted, performance.now() - started);
        return deleted;
      });
      removed += changes;
      if (changes < size) return removed;
      onProgress?.(removed);
      // A turn of the loop between batches (a batch queued from its predecessor's answer would otherwise
      // join the chained flushes of this turn).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const purgeSizer = new BatchSizer(FIRST_BATCH);
  const revokeSizer = new BatchSizer(FIRST_BATCH);
  // Counting an index entry costs some 20 ns, deleting a row tens of µs.
  const countSizer = new BatchSizer(50_000, 1_000, 1_000_000);

  /**
   * One purge at a time: a call while one runs waits for it, then purges what is left by its own `now` (which
   * may be any time, unlike the store's clock by which the copies expire).
   */
  const purges = new OneAtATime();
  const purge = (now: number, onProgress?: (removed: number) => void): Promise<number> =>
    purges.run(() =>
      inBatches(
        'purgeExpired',
        purgeSizer,
        (s, size) => s.purge.run(now as never, size as never).changes,
        onProgress,
      ),
    );

  const timer =
    cleanupInterval > 0
      ? setInterval(() => {
          // Only once the store is in use (the timer never creates the table in a Database passed in), and
          // never while a purge runs.
          if (statements !== undefined && !closed && !purges.busy) {
            purge(clock()).catch(() => {
              // A busy or failing database is retried at the next tick; the next request reports real failures.
            });
          }
        }, cleanupInterval)
      : undefined;
  timer?.unref();

  return {
    immediate: false,
    settlesInTurn: true,
    lockOnly: false,
    get(key) {
      return queue('read', 'get', (s) => {
        const now = clock();
        if (cache !== undefined) {
          const held = fromCache(s, cache, key, now);
          if (held !== undefined) return held;
        }
        const row = s.get.get(key as never, now as never) as Columns | undefined;
        return row === undefined ? null : recordOf(row[0], row[1], row[2], row[3], row[4], row[5]);
      });
    },

    async set(key, record, expected, ttlMs) {
      assertSetArguments(SQLITE_STORE_NAME, key, record, expected, ttlMs);
      const now = clock();
      const dropAt = Math.ceil(now + ttlMs);
      // Taken now: the caller may change its record before the write runs.
      const params = [
        dropAt,
        record.version,
        record.userId ?? null,
        record.data,
        record.createdAt,
        record.lastSeenAt,
        restOf(record),
        key,
        now,
      ];
      // Only updates are held: a first write is mostly of a session never seen again (see _record-cache.ts).
      const held = expected === null ? undefined : cache?.hold(record);
      return queue('write', 'set', (s) => {
        const written =
          (expected === null
            ? s.insert.run(...(params as never[]))
            : s.update.run(...(params as never[]), expected as never)
          ).changes === 1;
        cache?.set(key, written ? held : undefined, dropAt);
        return written;
      });
    },

    async delete(key) {
      await queue('write', 'delete', (s) => {
        s.delete.run(key as never);
        cache?.delete(key);
      });
    },

    listByUser(userId) {
      return run('listByUser', (s) =>
        (s.listByUser.all(userId as never, clock() as never) as Row[]).map((row) => ({
          key: row.key as string,
          record: toRecord(row),
        })),
      );
    },

    scan(cursor, limit) {
      assertScanArguments(SQLITE_STORE_NAME, cursor, limit);
      return run('scan', (s) => {
        const rows = s.scan.all((cursor ?? '') as never, clock() as never, limit as never) as Row[];
        return {
          entries: rows.map((row) => ({ key: row.key as string, record: toRecord(row) })),
          cursor: rows.length < limit ? null : (rows[rows.length - 1]!.key as string),
        };
      });
    },

    async deleteByUser(userId, deleteOptions = {}) {
      const now = clock();
      const except = deleteOptions.exceptKey ?? null;
      // In batches (see inBatches): a session of the user written meanwhile may be deleted too, as if it had
      // been written just before the call.
      return inBatches(
        'deleteByUser',
        revokeSizer,
        (s, size) =>
          s.deleteByUser.run(userId as never, except as never, now as never, size as never).changes,
      );
    },

    async retireByUser(userId, retireOptions) {
      assertRetireArguments(SQLITE_STORE_NAME, userId, retireOptions);
      const now = clock();
      const { at, minMs, maxMs, slackMs, rememberMeAbsoluteMs, absoluteMs } = retireOptions;
      const except = retireOptions.exceptKey ?? null;
      const meta = restOf(retiredRecordOf({ version: 0 }, userId, retireOptions));
      const params = [now, minMs, rememberMeAbsoluteMs, absoluteMs, at, maxMs, slackMs, meta];
      const where = [userId, except, now];
      // In batches of one UPDATE each, as deleteByUser (no row passes through JavaScript).
      return inBatches(
        'retireByUser',
        revokeSizer,
        (s, size) => s.retireByUser.run(...(params as never[]), ...(where as never[]), size as never).changes,
      );
    },

    purgeExpired(now, purgeOptions) {
      return purge(now, purgeOptions?.onProgress);
    },

    async count() {
      // In chunks, one read per turn of the loop, each sized by time like a purge's batches: a million rows
      // took one block of 21-30 ms as one statement (issue 17). Rows written or purged meanwhile may be counted
      // or not, as with any count of a table in use.
      const now = clock();
      let counted = 0;
      // Nothing counted yet: a last entry before every live one (no row has a rowid past the largest integer).
      let after: [number, number] = [now - 1, Number.MAX_SAFE_INTEGER];
      for (;;) {
        const size = countSizer.size;
        const last = await queue('read', 'count', (s) => {
          const started = performance.now();
          const [dropAt, rowid] = after;
          const found = s.countSkip.get(
            dropAt as never,
            rowid as never,
            dropAt as never,
            now as never,
            (size - 1) as never,
          );
          if (found !== undefined) {
            countSizer.took(size, performance.now() - started);
            return found as [number, number];
          }
          const rest = Number(
            s.countRest.get(dropAt as never, rowid as never, dropAt as never, now as never),
          );
          countSizer.took(rest, performance.now() - started);
          return rest;
        });
        if (typeof last === 'number') return counted + last;
        counted += size;
        after = last;
        await new Promise((resolve) => setImmediate(resolve));
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      // The worker's connection first: the store's, the last one, then checkpoints and removes the WAL.
      await checkpointer?.close();
      flush();
      cache?.clear();
      statements = undefined;
      if (owned && db !== undefined) db.close();
      db = undefined;
    },
  };
}
