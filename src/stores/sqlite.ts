/**
 * `teller/stores/sqlite`: sessions in one SQLite table through better-sqlite3, the embedded persistent default.
 *
 * Pass a better-sqlite3 `Database` you opened (`{ database }`), or a file name (`{ filename }`): then the
 * factory loads better-sqlite3 (an optional peer dependency), opens the file in WAL mode with
 * `synchronous=NORMAL` and a 1 s `busy_timeout` (several processes may share the file) and creates the table,
 * so a missing package, a bad path or a file that is not a database fails at creation, not at the first
 * request; `close()` closes it. With a `Database` passed in, the table is created at first use.
 *
 * Compare-and-set is one statement: `UPDATE ... WHERE key = ? AND version = ?`, or for a first write
 * `INSERT ... ON CONFLICT(key) DO UPDATE ... WHERE <the old row is dead>`. Writes made in one event-loop turn
 * share one transaction (group commit), each keeping its own result. `expires_at` is this store's drop time
 * (its clock + `ttlMs` at the write), never the record's `expiresAt`: a row is kept at least `ttlMs`,
 * treated as absent after it, and deleted by `purgeExpired` and an unref'd cleanup timer.
 */

import { createRequire } from 'node:module';
import { SessionStoreError, tellerMessage } from '../session/errors.js';
import { assertSetArguments, type SessionStore } from '../session/store.js';
import { assertTableName, type RecordRow as Row, restOf, toRecord } from './_record.js';

/** The name used in this store's error messages. */
export const SQLITE_STORE_NAME = 'sqlite-store';

/** The part of a better-sqlite3 statement the store uses. */
export interface SqliteStatement {
  run(...params: never[]): { changes: number };
  get(...params: never[]): unknown;
  all(...params: never[]): unknown[];
}

/** The part of a better-sqlite3 `Database` the store uses (any compatible client will do). */
export interface SqliteDatabase {
  prepare(source: string): SqliteStatement;
  exec(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
  /** True inside a transaction (better-sqlite3 has it); then queued writes join it instead of opening their own. */
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
  database?: never;
}

export interface SqliteStoreDatabaseOptions extends CommonOptions {
  /**
   * A better-sqlite3 `Database` you opened. Its settings are left as they are (use
   * `db.pragma('journal_mode = WAL')` and `db.pragma('synchronous = NORMAL')`), and `close()` leaves it open.
   */
  database: SqliteDatabase;
  filename?: never;
}

export type SqliteStoreOptions = SqliteStoreFileOptions | SqliteStoreDatabaseOptions;

/** The SQLite store: the contract plus its optional abilities, all present. */
export interface SqliteStore extends Required<SessionStore> {}

const PURGE_BATCH = 500;

/**
 * Opens `filename` with better-sqlite3, loaded only now (an optional peer dependency), and runs `setUp` on it.
 * Throws a plain Error (the options are right; no request is being answered): the install hint, or the file
 * and SQLite's reason (a missing directory, no permission, not a database).
 */
function openFile<T>(filename: string, setUp: (db: SqliteDatabase) => T): { db: SqliteDatabase; setUp: T } {
  let Database: new (filename: string) => SqliteDatabase;
  try {
    const require = createRequire(import.meta.url);
    Database = require('better-sqlite3') as typeof Database;
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
    // better-sqlite3 waits for a lock synchronously, blocking the event loop: wait no longer than the
    // manager's default store timeout (another process's write transactions last microseconds).
    db.pragma('busy_timeout = 1000');
    return { db, setUp: setUp(db) };
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
  if (owned && (typeof options.filename !== 'string' || options.filename === '')) {
    throw new TypeError(tellerMessage(SQLITE_STORE_NAME, `give either { filename } or { database }`));
  }

  let db: SqliteDatabase | undefined = options.database;
  let statements: ReturnType<typeof prepare> | undefined;
  let closed = false;
  // A file is opened now: whatever stops it from working fails here, before a server starts (fail fast).
  if (owned) {
    const opened = openFile(options.filename as string, prepare);
    db = opened.db;
    statements = opened.setUp;
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
    const values = '@version, @user_id, @data, @created_at, @last_seen_at, @meta';
    return {
      get: database.prepare(`SELECT ${columns} FROM ${t} WHERE key = ? AND expires_at >= ?`),
      // A first write: takes the key when absent, or when the row under it is past its drop time (dead).
      insert: database.prepare(
        `INSERT INTO ${t} (key, expires_at, ${columns}) VALUES (@key, @expires_at, ${values})
         ON CONFLICT(key) DO UPDATE SET version = excluded.version, user_id = excluded.user_id,
           expires_at = excluded.expires_at, data = excluded.data, created_at = excluded.created_at,
           last_seen_at = excluded.last_seen_at, meta = excluded.meta
         WHERE ${t}.expires_at < @now`,
      ),
      update: database.prepare(
        `UPDATE ${t} SET version = @version, user_id = @user_id, expires_at = @expires_at, data = @data,
           created_at = @created_at, last_seen_at = @last_seen_at, meta = @meta
         WHERE key = @key AND version = @expected AND expires_at >= @now`,
      ),
      delete: database.prepare(`DELETE FROM ${t} WHERE key = ?`),
      listByUser: database.prepare(`SELECT key, ${columns} FROM ${t} WHERE user_id = ? AND expires_at >= ?`),
      deleteByUser: database.prepare(
        `DELETE FROM ${t} WHERE user_id = @user_id AND key IS NOT @except AND expires_at >= @now`,
      ),
      purge: database.prepare(
        `DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} WHERE expires_at < ? LIMIT ${PURGE_BATCH})`,
      ),
      count: database.prepare(`SELECT count(*) AS n FROM ${t} WHERE expires_at >= ?`),
      begin: database.prepare('BEGIN IMMEDIATE'),
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

  // Writes are queued and run together, in order, in one transaction at the end of this event-loop turn:
  // one WAL commit for all the requests that committed meanwhile instead of one each (group commit).
  // Each statement keeps its own compare-and-set; a caller learns its result once the transaction committed.
  interface Pending {
    operation: string;
    fn: (s: NonNullable<typeof statements>) => unknown;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }
  let pending: Pending[] = [];
  let scheduled: ReturnType<typeof setImmediate> | undefined;

  function write<T>(operation: string, fn: (s: NonNullable<typeof statements>) => T): Promise<T> {
    ready();
    return new Promise<T>((resolve, reject) => {
      pending.push({ operation, fn, resolve: resolve as (value: unknown) => void, reject });
      scheduled ??= setImmediate(flush);
    });
  }

  function flush(): void {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    const s = statements;
    const fail = (op: Pending, error: unknown) =>
      op.reject(
        new SessionStoreError(tellerMessage(SQLITE_STORE_NAME, `${op.operation} failed`), { cause: error }),
      );
    if (s === undefined) {
      for (const op of batch) fail(op, new Error('the store was closed before the write ran'));
      return;
    }
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const own = batch.length > 1 && db?.inTransaction !== true;
    try {
      if (own) s.begin.run();
      for (const op of batch) {
        try {
          results.push({ ok: true, value: op.fn(s) });
        } catch (error) {
          // The statement alone was undone, unless SQLite rolled back the whole transaction.
          if (own && db?.inTransaction !== true) throw error;
          results.push({ ok: false, error });
        }
      }
      if (own) s.commit.run();
    } catch (error) {
      if (own && db?.inTransaction === true) s.rollback.run();
      for (const op of batch) fail(op, error);
      return;
    }
    batch.forEach((op, i) => {
      const result = results[i]!;
      if (result.ok) op.resolve(result.value);
      else fail(op, result.error);
    });
  }

  const purge = (s: NonNullable<typeof statements>, now: number): number => {
    let removed = 0;
    for (;;) {
      const { changes } = s.purge.run(now as never);
      removed += changes;
      if (changes < PURGE_BATCH) return removed;
    }
  };

  const timer =
    cleanupInterval > 0
      ? setInterval(() => {
          // Only once the store is in use: the timer never creates the table in a Database passed in.
          if (statements !== undefined && !closed) {
            try {
              purge(statements, clock());
            } catch {
              // A busy or failing database is retried at the next tick; the next request reports real failures.
            }
          }
        }, cleanupInterval)
      : undefined;
  timer?.unref();

  return {
    immediate: false,
    // Reads answer at once, writes in the setImmediate callback that commits the turn's writes.
    settlesInTurn: true,
    lockOnly: false,
    get(key) {
      return run('get', (s) => {
        const row = s.get.get(key as never, clock() as never) as Row | undefined;
        return row === undefined ? null : toRecord(row);
      });
    },

    async set(key, record, expected, ttlMs) {
      assertSetArguments(SQLITE_STORE_NAME, key, record, expected, ttlMs);
      const now = clock();
      return write('set', (s) => {
        const params = {
          key,
          version: record.version,
          user_id: record.userId ?? null,
          expires_at: Math.ceil(now + ttlMs),
          data: record.data,
          created_at: record.createdAt,
          last_seen_at: record.lastSeenAt,
          meta: restOf(record),
          now,
        };
        const result =
          expected === null ? s.insert.run(params as never) : s.update.run({ ...params, expected } as never);
        return result.changes === 1;
      });
    },

    async delete(key) {
      await write('delete', (s) => s.delete.run(key as never));
    },

    listByUser(userId) {
      return run('listByUser', (s) =>
        (s.listByUser.all(userId as never, clock() as never) as Row[]).map((row) => ({
          key: row.key as string,
          record: toRecord(row),
        })),
      );
    },

    async deleteByUser(userId, deleteOptions = {}) {
      const now = clock();
      return write(
        'deleteByUser',
        (s) =>
          s.deleteByUser.run({
            user_id: userId,
            except: deleteOptions.exceptKey ?? null,
            now,
          } as never).changes,
      );
    },

    async purgeExpired(now) {
      return write('purgeExpired', (s) => purge(s, now));
    },

    count() {
      return run('count', (s) => Number((s.count.get(clock() as never) as { n: number }).n));
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      flush();
      statements = undefined;
      if (owned && db !== undefined) db.close();
      db = undefined;
    },
  };
}
