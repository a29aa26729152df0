/**
 * `teller/stores/postgres`: sessions in one PostgreSQL table through a `pg` Pool you created (`{ pool }`).
 *
 * `store.migrate()` creates the table and its indexes (idempotent; processes migrating at once are serialized
 * by a transaction-scoped advisory lock). Before its first query the store also runs it when the table is
 * missing (and only then: a role without the right to create tables works on a table made by another), so
 * calling it is optional; call it at start-up to fail fast.
 *
 * Compare-and-set is one statement: `UPDATE ... WHERE key = $1 AND version = $expected`, or for a first write
 * `INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE <the old row is dead>`. `expires_at` is this store's drop
 * time (its clock + `ttlMs` at the write), never the record's `expiresAt`: a row is kept at least `ttlMs`,
 * treated as absent after it, and deleted in batches by `purgeExpired` and an unref'd cleanup timer.
 * Every failure rejects with a `SessionStoreError` whose `cause` is pg's error; the pool stays yours:
 * `close()` never ends it.
 */

import { hash } from 'node:crypto';
import { SessionStoreError, tellerMessage } from '../session/errors.js';
import {
  assertRetireArguments,
  assertScanArguments,
  assertSetArguments,
  retiredRecordOf,
  type SessionStore,
} from '../session/store.js';
import { OneAtATime } from './_batches.js';
import { assertTableName, type RecordRow as Row, restOf, toRecord } from './_record.js';

/** The name used in this store's error messages. */
export const POSTGRES_STORE_NAME = 'postgres-store';

/** The part of a `pg` query result the store uses. */
export interface PostgresQueryResult {
  rows: unknown[];
  rowCount: number | null;
}

/** One statement as `pg` takes it: with a `name`, prepared once per connection and run by that name after. */
export interface PostgresQuery {
  name?: string;
  text: string;
  values?: unknown[];
}

/** The part of a `pg` Pool the store uses (any compatible client will do). */
export interface PostgresPool {
  query(query: PostgresQuery): Promise<PostgresQueryResult>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** When present, `close()` removes the store's own `'error'` listener with it. */
  off?(event: 'error', listener: (error: Error) => void): unknown;
}

export interface PostgresStoreOptions {
  /** A `pg` Pool you created; `close()` leaves it open (end it yourself). */
  pool: PostgresPool;
  /**
   * The table's name (letters, digits, `_`; at most 48 characters, so its index names fit). Created by
   * `migrate()` (or before the first query) when missing, with its indexes.
   * @default 'teller_sessions'
   */
  table?: string;
  /**
   * How often (ms) an unref'd timer deletes rows whose lifetime ended; `0` disables it (call `purgeExpired`).
   * @default 300_000
   */
  cleanupInterval?: number;
  /**
   * Called with an error of an idle pool client (the pool's `'error'` event, e.g. the server restarted), which
   * would otherwise crash the process when nobody listens. Your own listeners on the pool are kept.
   * @default a console.error line
   */
  onError?: (error: Error) => void;
  /**
   * Names the request-path statements, so each connection has PostgreSQL parse and plan each of them once
   * instead of at every call. Set `false` behind a pooler in transaction mode that does not track prepared
   * statements (PgBouncer before 1.21).
   * @default true
   */
  prepared?: boolean;
  /**
   * This store's clock (epoch ms), used only to turn `ttlMs` into a drop time. A parameter so tests need no sleep.
   * @default Date.now
   */
  clock?: () => number;
}

/** The PostgreSQL store: the contract plus its optional abilities, all present, and `migrate()`. */
export interface PostgresStore
  extends Required<Omit<SessionStore, 'migrateLegacy' | 'getNow' | 'setNow' | 'deleteNow'>> {
  /** Creates the table and its indexes when missing; safe to run from several processes at once. */
  migrate(): Promise<void>;
}

/** Rows deleted per statement by `purgeExpired`: short statements, so requests never wait on a purge. */
const PURGE_BATCH = 1_000;

const reportPoolError = (error: Error) =>
  console.error(tellerMessage(POSTGRES_STORE_NAME, `idle pool client error: ${error.message}`));

/**
 * Creates a PostgreSQL store over a `pg` Pool.
 *
 * @example
 * import pg from 'pg';
 * const store = createPostgresStore({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
 * await store.migrate();
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStore {
  const {
    pool,
    table = 'teller_sessions',
    cleanupInterval = 300_000,
    onError = reportPoolError,
    prepared = true,
    clock = Date.now,
  } = options;
  if (pool === null || typeof pool !== 'object' || typeof pool.query !== 'function') {
    throw new TypeError(tellerMessage(POSTGRES_STORE_NAME, `pool must be a pg Pool (with query())`));
  }
  // At most 48, so the index names (table + _expires_at) fit in PostgreSQL's 63 bytes.
  assertTableName(POSTGRES_STORE_NAME, table, 48);
  if (!(cleanupInterval >= 0))
    throw new TypeError(tellerMessage(POSTGRES_STORE_NAME, `cleanupInterval must be >= 0`));
  if (typeof onError !== 'function')
    throw new TypeError(tellerMessage(POSTGRES_STORE_NAME, `onError must be a function`));
  if (typeof prepared !== 'boolean')
    throw new TypeError(tellerMessage(POSTGRES_STORE_NAME, `prepared must be a boolean`));

  // The only name put in SQL: checked above, and quoted (case kept as given).
  const t = `"${table}"`;
  const columns = 'version, user_id, data, created_at, last_seen_at, meta::text AS meta';
  const write = 'version, user_id, expires_at, data, created_at, last_seen_at, meta';
  const sql = {
    // One simple-protocol message without BEGIN: one implicit transaction, rolled back whole on an error,
    // holding the advisory lock (keyed by the table's name) until it ends.
    migrate: `
      SELECT pg_advisory_xact_lock(hashtext('teller-sessions-migrate'), hashtext('${table}'));
      CREATE TABLE IF NOT EXISTS ${t} (
        key text PRIMARY KEY,
        version bigint NOT NULL,
        user_id text,
        expires_at bigint NOT NULL,
        data text NOT NULL,
        created_at double precision NOT NULL,
        last_seen_at double precision NOT NULL,
        meta json NOT NULL
      );
      CREATE INDEX IF NOT EXISTS "${table}_user_id" ON ${t} (user_id) WHERE user_id IS NOT NULL;
      CREATE INDEX IF NOT EXISTS "${table}_expires_at" ON ${t} (expires_at);`,
    exists: 'SELECT to_regclass($1) IS NOT NULL AS present',
    get: `SELECT ${columns} FROM ${t} WHERE key = $1 AND expires_at >= $2`,
    // A first write: takes the key when absent, or when the row under it is past its drop time (dead).
    insert: `INSERT INTO ${t} (key, ${write}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
      ON CONFLICT (key) DO UPDATE SET version = EXCLUDED.version, user_id = EXCLUDED.user_id,
        expires_at = EXCLUDED.expires_at, data = EXCLUDED.data, created_at = EXCLUDED.created_at,
        last_seen_at = EXCLUDED.last_seen_at, meta = EXCLUDED.meta
      WHERE ${t}.expires_at < $9`,
    update: `UPDATE ${t} SET version = $2, user_id = $3, expires_at = $4, data = $5, created_at = $6,
        last_seen_at = $7, meta = $8
      WHERE key = $1 AND version = $10 AND expires_at >= $9`,
    delete: `DELETE FROM ${t} WHERE key = $1`,
    listByUser: `SELECT key, ${columns} FROM ${t} WHERE user_id = $1 AND expires_at >= $2`,
    // Keyset pagination on the primary key (its index gives the order): after the last key returned ('' first).
    scan: `SELECT key, ${columns} FROM ${t} WHERE key > $1 AND expires_at >= $2 ORDER BY key LIMIT $3`,
    deleteByUser: `DELETE FROM ${t} WHERE user_id = $1 AND key IS DISTINCT FROM $2 AND expires_at >= $3`,
    // The rows deleteByUser would delete, each turned into its retirement record (retiredRecordOf: the next
    // version, out of the user index, empty, never live; its meta column the same for every row, $4) kept
    // retiredTtlOf ms. SET reads the old row. Parameters: the user, the key kept (or null), now, the meta
    // column, at, absoluteMs, rememberMeAbsoluteMs, minMs, maxMs, slackMs.
    retireByUser: `UPDATE ${t} SET version = version + 1, user_id = NULL, data = '', created_at = 0,
        last_seen_at = 0, meta = $4::json,
        expires_at = $3::bigint + ceil(least(greatest($8::float8, created_at
          + CASE WHEN (meta->>'persistent') = 'true' THEN $7::float8 ELSE $6::float8 END - $5::float8),
          $9::float8) + $10::float8)::bigint
      WHERE user_id = $1 AND key IS DISTINCT FROM $2 AND expires_at >= $3`,
    // SKIP LOCKED: a row a request is writing is left for the next purge instead of waited for. The rows are
    // deleted by their ctid (a TID scan: the heap page straight away), not looked up again through the index
    // on the random keys; the ctids hold, the rows being locked by the same statement.
    purge: `DELETE FROM ${t} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${t} WHERE expires_at < $1 LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED))`,
    count: `SELECT count(*) AS n FROM ${t} WHERE expires_at >= $1`,
  };

  let closed = false;
  let migrated: Promise<void> | undefined;

  const failure = (operation: string, error: unknown) =>
    error instanceof SessionStoreError
      ? error
      : new SessionStoreError(tellerMessage(POSTGRES_STORE_NAME, `${operation} failed`), { cause: error });

  /** Creates the table and its indexes when missing; a failed attempt is retried by the next call. */
  function migrate(): Promise<void> {
    const attempt = pool.query({ text: sql.migrate }).then(
      () => undefined,
      (error: unknown) => {
        if (migrated === attempt) migrated = undefined;
        throw failure('migrate', error);
      },
    );
    migrated = attempt;
    return attempt;
  }

  /**
   * Before the first query: runs the migration only when the table is missing, so a role without the right
   * to create tables works on a table migrated by someone else.
   */
  function ensureTable(): Promise<void> {
    migrated ??= pool.query({ text: sql.exists, values: [t] }).then(
      ({ rows }) => ((rows[0] as { present: boolean } | undefined)?.present === true ? undefined : migrate()),
      (error: unknown) => {
        migrated = undefined;
        throw failure('migrate', error);
      },
    );
    return migrated;
  }

  /**
   * The names of the statements, when prepared: one per statement text (a hash of it, so two stores on two
   * tables, or two versions of this code, never share a name for different texts on one connection).
   */
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined) names.set(text, (name = `teller_${hash('sha256', text, 'hex').slice(0, 24)}`));
    return name;
  };

  /** Runs one statement (after the migration); a pg failure becomes a SessionStoreError with the cause. */
  async function run(operation: string, text: string, values: unknown[]): Promise<PostgresQueryResult> {
    if (closed) throw new SessionStoreError(tellerMessage(POSTGRES_STORE_NAME, `the store is closed`));
    try {
      await ensureTable();
      return await pool.query(prepared ? { name: nameOf(text), text, values } : { text, values });
    } catch (error) {
      throw failure(operation, error);
    }
  }

  /** Drop times are whole milliseconds (a bigint column); a fractional clock is rounded down. */
  const nowMs = () => Math.floor(clock());

  async function purgeNow(now: number, onProgress?: (removed: number) => void): Promise<number> {
    let removed = 0;
    for (;;) {
      const { rowCount } = await run('purgeExpired', sql.purge, [Math.floor(now)]);
      removed += rowCount ?? 0;
      if ((rowCount ?? 0) < PURGE_BATCH) return removed;
      onProgress?.(removed);
      // Between batches, let the requests queued on this process run first.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * One purge at a time in this process: a call while one runs waits for it, then purges what is left by its
   * own `now` (the timer skips its tick instead).
   */
  const purges = new OneAtATime();
  const purge = (now: number, onProgress?: (removed: number) => void): Promise<number> =>
    purges.run(() => purgeNow(now, onProgress));

  const listener = (error: Error) => {
    try {
      onError(error);
    } catch {
      // A reporter that throws must not turn an idle client's error into a crash.
    }
  };
  pool.on('error', listener);

  const timer =
    cleanupInterval > 0
      ? setInterval(() => {
          // Only once the table exists (a migration ran), and never while a purge runs.
          if (migrated === undefined || closed || purges.busy) return;
          purge(nowMs()).catch(() => {
            // A failing database is retried at the next tick; the next request reports real failures.
          });
        }, cleanupInterval)
      : undefined;
  timer?.unref();

  return {
    immediate: false,
    settlesInTurn: false,
    lockOnly: false,
    migrate() {
      if (closed)
        return Promise.reject(
          new SessionStoreError(tellerMessage(POSTGRES_STORE_NAME, `the store is closed`)),
        );
      return migrate();
    },

    async get(key) {
      const { rows } = await run('get', sql.get, [key, nowMs()]);
      return rows.length === 0 ? null : toRecord(rows[0] as Row);
    },

    async set(key, record, expected, ttlMs) {
      assertSetArguments(POSTGRES_STORE_NAME, key, record, expected, ttlMs);
      const now = nowMs();
      const values: unknown[] = [
        key,
        record.version,
        record.userId ?? null,
        Math.ceil(now + ttlMs),
        record.data,
        record.createdAt,
        record.lastSeenAt,
        restOf(record),
        now,
      ];
      const { rowCount } =
        expected === null
          ? await run('set', sql.insert, values)
          : await run('set', sql.update, [...values, expected]);
      return rowCount === 1;
    },

    async delete(key) {
      await run('delete', sql.delete, [key]);
    },

    async listByUser(userId) {
      const { rows } = await run('listByUser', sql.listByUser, [userId, nowMs()]);
      return (rows as Row[]).map((row) => ({ key: row.key as string, record: toRecord(row) }));
    },

    async scan(cursor, limit) {
      assertScanArguments(POSTGRES_STORE_NAME, cursor, limit);
      const { rows } = await run('scan', sql.scan, [cursor ?? '', nowMs(), limit]);
      const page = rows as Row[];
      return {
        entries: page.map((row) => ({ key: row.key as string, record: toRecord(row) })),
        cursor: page.length < limit ? null : (page[page.length - 1]!.key as string),
      };
    },

    async deleteByUser(userId, deleteOptions = {}) {
      const { rowCount } = await run('deleteByUser', sql.deleteByUser, [
        userId,
        deleteOptions.exceptKey ?? null,
        nowMs(),
      ]);
      return rowCount ?? 0;
    },

    async retireByUser(userId, retireOptions) {
      assertRetireArguments(POSTGRES_STORE_NAME, userId, retireOptions);
      const { rowCount } = await run('retireByUser', sql.retireByUser, [
        userId,
        retireOptions.exceptKey ?? null,
        nowMs(),
        restOf(retiredRecordOf({ version: 0 }, userId, retireOptions)),
        retireOptions.at,
        retireOptions.absoluteMs,
        retireOptions.rememberMeAbsoluteMs,
        retireOptions.minMs,
        retireOptions.maxMs,
        retireOptions.slackMs,
      ]);
      return rowCount ?? 0;
    },

    purgeExpired(now, purgeOptions) {
      return purge(now, purgeOptions?.onProgress);
    },

    async count() {
      const { rows } = await run('count', sql.count, [nowMs()]);
      return Number((rows[0] as { n: number | string }).n);
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      pool.off?.('error', listener);
    },
  };
}
