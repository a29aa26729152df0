/**
 * The PostgreSQL store against the real server at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test):
 * the shared contract suite, then its own behaviour. Every run uses tables of its own (teller_test_<random>...)
 * and an application_name of its own, so it only ever terminates its own backends; the tables are dropped at
 * the end. Without a server the file is skipped with a line saying so, except in CI (CI set), where it fails.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { SessionStoreError } from '../../src/session/errors.js';
import { createPostgresStore, type PostgresQuery, type PostgresStore } from '../../src/stores/postgres.js';
import {
  Browser,
  freshnessScenario,
  passiveScenario,
  reuseScenario,
  sealedReuseScenario,
  T0,
  visit,
} from '../session/helpers.js';
import { fullRecord, minimalRecord, runStoreContract } from './contract.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = randomBytes(4).toString('hex');
const app = `teller_test_${run}`;
const newPool = (name = app, max = 4) =>
  new pg.Pool({ connectionString: url, application_name: name, max, connectionTimeoutMillis: 3_000 });

const admin = newPool(`${app}_admin`, 2);
admin.on('error', () => {});
const reachable = await admin.query('SELECT 1').then(
  () => true,
  (error: Error) => {
    if (process.env.CI) throw new Error(`PostgreSQL at ${url} is unreachable in CI`, { cause: error });
    console.info(`[postgres-store] skipped: no PostgreSQL at ${url} (${error.message}); set DATABASE_URL`);
    return false;
  },
);

const tables: string[] = [];
let tableSeq = 0;
const newTable = () => {
  const name = `${app}_${++tableSeq}`;
  tables.push(name);
  return name;
};
const pools: pg.Pool[] = [];
const pool = newPool();
pools.push(pool);

afterAll(async () => {
  if (reachable) for (const table of tables) await admin.query(`DROP TABLE IF EXISTS "${table}"`);
  for (const p of pools) if (!p.ended) await p.end();
  await admin.end();
});

/** A pool that records every statement it is given, then runs it on the shared pool. */
const spyPool = () => {
  const statements: string[] = [];
  const spy = {
    query: (query: PostgresQuery) => {
      statements.push(query.text);
      return pool.query(query);
    },
    on: () => {},
  };
  return { spy, statements };
};

/** Writes `n` rows whose drop time (1,000) has passed by the tests' purge times, straight into `table`. */
const insertDead = (table: string, n: number) =>
  admin.query(
    `INSERT INTO "${table}" (key, version, user_id, expires_at, data, created_at, last_seen_at, meta)
     SELECT 'k' || i, 1, NULL, 1000, '{}', 0, 0, '{"format":1,"expiresAt":1}' FROM generate_series(1, $1::int) i`,
    [n],
  );

const rowsIn = async (table: string) =>
  Number((await admin.query(`SELECT count(*) AS n FROM "${table}"`)).rows[0].n);

if (reachable) {
  const contractTable = newTable();
  runStoreContract(
    'postgres',
    async ({ clock }) => {
      const store = createPostgresStore({ pool, table: contractTable, clock, cleanupInterval: 0 });
      await store.migrate();
      return {
        store,
        cleanup: async () => {
          await store.close();
          await admin.query(`TRUNCATE "${contractTable}"`);
        },
      };
    },
    {
      abilities: {
        userIndex: true,
        retireByUser: true,
        purgeExpired: true,
        count: true,
        scan: true,
        clock: 'fake',
      },
    },
  );
}

describe.skipIf(!reachable)('postgres store: its own behaviour', () => {
  it('migrates twice, and concurrently from two pools, without error; the table and indexes exist', async () => {
    const table = newTable();
    const other = newPool();
    pools.push(other);
    const a = createPostgresStore({ pool, table, cleanupInterval: 0 });
    const b = createPostgresStore({ pool: other, table, cleanupInterval: 0 });
    const c = createPostgresStore({ pool: other, table, cleanupInterval: 0 });
    await Promise.all([a.migrate(), b.migrate(), c.migrate(), a.migrate()]);
    await a.migrate();
    const indexes = await admin.query('SELECT indexname FROM pg_indexes WHERE tablename = $1', [table]);
    expect(indexes.rows.map((r: { indexname: string }) => r.indexname).sort()).toEqual(
      [`${table}_expires_at`, `${table}_pkey`, `${table}_user_id`].sort(),
    );
    expect(await a.set('k', minimalRecord(), null, 60_000)).toBe(true);
    expect(await b.set('k', minimalRecord(), null, 60_000)).toBe(false);
    expect(await b.set('k', minimalRecord({ version: 2 }), 1, 60_000)).toBe(true);
    expect(await a.set('k', minimalRecord({ version: 2 }), 1, 60_000)).toBe(false);
    for (const s of [a, b, c]) await s.close();
  });

  it('creates its table before the first query when migrate() was not called', async () => {
    const table = newTable();
    const store = createPostgresStore({ pool, table, cleanupInterval: 0 });
    expect(await store.get('k')).toBeNull();
    expect(await store.set('k', fullRecord(), null, 60_000)).toBe(true);
    expect(await rowsIn(table)).toBe(1);
    await store.close();
    // On a table that exists, no DDL: a role without the right to create tables works.
    const { spy, statements } = spyPool();
    const again = createPostgresStore({ pool: spy, table, cleanupInterval: 0 });
    expect((await again.get('k'))?.version).toBe(1);
    expect(await again.count()).toBe(1);
    expect(statements).toHaveLength(3);
    expect(statements.some((text) => /CREATE (TABLE|INDEX)|advisory_xact_lock/.test(text))).toBe(false);
    await again.close();
  });

  it('keeps a row through its ttl by its clock, then treats it as absent; a first write takes it over', async () => {
    let now = 10_000;
    const table = newTable();
    const store = createPostgresStore({ pool, table, clock: () => now, cleanupInterval: 0 });
    await store.set('k', minimalRecord({ userId: 'u' }), null, 2_000);
    now = 12_000;
    expect(await store.get('k')).not.toBeNull();
    now = 12_001;
    expect(await store.get('k')).toBeNull();
    expect(await store.listByUser('u')).toEqual([]);
    expect(await store.count()).toBe(0);
    expect(await store.set('k', minimalRecord({ version: 2 }), 1, 2_000)).toBe(false);
    expect(await rowsIn(table)).toBe(1);
    expect(await store.set('k', minimalRecord({ data: '"new"' }), null, 2_000)).toBe(true);
    expect((await store.get('k'))?.data).toBe('"new"');
    expect(await store.purgeExpired(20_000)).toBe(1);
    expect(await rowsIn(table)).toBe(0);
    await store.close();
  });

  it('purges in batches of 1,000 statements, yielding between them', async () => {
    const table = newTable();
    const store = createPostgresStore({ pool, table, clock: () => 0, cleanupInterval: 0 });
    await store.migrate();
    await insertDead(table, 2_345);
    await store.set('alive', minimalRecord(), null, 60_000);
    const { spy, statements } = spyPool();
    const counted = createPostgresStore({ pool: spy, table, clock: () => 0, cleanupInterval: 0 });
    expect(await counted.purgeExpired(5_000)).toBe(2_345);
    expect(statements.filter((s) => s.includes('SKIP LOCKED'))).toHaveLength(3);
    expect(await rowsIn(table)).toBe(1);
    await counted.close();
    await store.close();
  });

  it('runs one purge at a time: a second call waits for the first, then finds nothing left', async () => {
    const table = newTable();
    const store = createPostgresStore({ pool, table, clock: () => 0, cleanupInterval: 0 });
    await store.migrate();
    await insertDead(table, 2_345);
    // The purge statements in flight at once, at most.
    let inFlight = 0;
    let most = 0;
    const spy = {
      query: async (query: PostgresQuery) => {
        const purging = query.text.includes('SKIP LOCKED');
        if (purging) most = Math.max(most, ++inFlight);
        try {
          return await pool.query(query);
        } finally {
          if (purging) inFlight--;
        }
      },
      on: () => {},
    };
    const watched = createPostgresStore({ pool: spy, table, clock: () => 0, cleanupInterval: 0 });
    expect(await Promise.all([watched.purgeExpired(5_000), watched.purgeExpired(5_000)])).toEqual([2_345, 0]);
    expect(most).toBe(1);
    expect(await rowsIn(table)).toBe(0);
    await watched.close();
    await store.close();
  });

  it('deletes dead rows on its cleanup timer once it is in use', async () => {
    let now = 0;
    const table = newTable();
    const store = createPostgresStore({ pool, table, clock: () => now, cleanupInterval: 10 });
    await store.set('dead', minimalRecord(), null, 1_000);
    await store.set('alive', minimalRecord(), null, 60_000);
    now = 5_000;
    for (let i = 0; i < 200 && (await rowsIn(table)) > 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await rowsIn(table)).toBe(1);
    expect(await store.get('alive')).not.toBeNull();
    await store.close();
  });

  it('a query on a closed pool rejects with a SessionStoreError (503) carrying pg error', async () => {
    const own = newPool();
    pools.push(own);
    const store = createPostgresStore({ pool: own, table: newTable(), cleanupInterval: 0 });
    await store.migrate();
    await own.end();
    const error = await store.get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).status).toBe(503);
    expect((error as Error).message).toBe('[teller] [postgres-store] get failed');
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(((error as Error).cause as Error).message).toMatch(/pool/i);
    await expect(store.set('k', minimalRecord(), null, 1_000)).rejects.toBeInstanceOf(SessionStoreError);
    await store.close();
  });

  it("with the pool's statement_timeout (the README's advice), a write stuck behind a row lock fails and never lands later", async () => {
    const table = newTable();
    const own = new pg.Pool({ connectionString: url, application_name: app, max: 2, statement_timeout: 300 });
    own.on('error', () => {});
    pools.push(own);
    const store = createPostgresStore({ pool: own, table, cleanupInterval: 0 });
    await store.migrate();
    await store.set('k', minimalRecord({ data: '{"n":1}' }), null, 60_000);
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${table}" WHERE key = 'k' FOR UPDATE`);
      const started = performance.now();
      const error = await store
        .set('k', minimalRecord({ data: '{"n":2}', version: 2 }), 1, 60_000)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect(((error as Error).cause as Error).message).toMatch(/statement timeout/);
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    // The lock is gone: the cancelled write did not run after it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await store.get('k'))?.data).toBe('{"n":1}');
    await store.close();
  });

  it('a backend terminated mid-write rejects with a SessionStoreError; idle ones emit pool errors that crash nothing', async () => {
    const name = `${app}_victim`;
    const own = new pg.Pool({ connectionString: url, application_name: name, max: 3 });
    pools.push(own);
    const reported: Error[] = [];
    const userSaw: Error[] = [];
    own.on('error', (error) => userSaw.push(error));
    const table = newTable();
    const store = createPostgresStore({
      pool: own,
      table,
      cleanupInterval: 0,
      onError: (e) => reported.push(e),
    });
    await store.set('k', minimalRecord(), null, 60_000);

    // Another session holds the row, so the store's UPDATE waits on it; then its backend is terminated.
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${table}" WHERE key = 'k' FOR UPDATE`);
      const write = store.set('k', minimalRecord({ version: 2 }), 1, 60_000).catch((e: unknown) => e);
      for (let i = 0; i < 100; i++) {
        const waiting = await admin.query(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [name],
        );
        if (Number(waiting.rows[0].n) > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Only this test's own backends: filtered by its application_name, never another session's.
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [name],
      );
      const error = await write;
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as Error).message).toBe('[teller] [postgres-store] set failed');
      expect(((error as Error).cause as { code?: string }).code).toBe('57P01');
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }

    // Idle clients of the pool: terminating them makes the pool emit 'error'; both listeners hear it.
    await Promise.all([store.get('k'), store.get('k'), store.count()]);
    const idle = own.idleCount;
    expect(idle).toBeGreaterThan(0);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      name,
    ]);
    for (let i = 0; i < 100 && own.totalCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(reported.length).toBe(idle);
    expect(reported.every((e) => e instanceof Error)).toBe(true);
    expect(userSaw.length).toBe(reported.length);
    // The pool connects again: the store works without being recreated.
    expect((await store.get('k'))?.version).toBe(1);
    await store.close();
    expect(own.listenerCount('error')).toBe(1);
  });

  it('reports pool errors on console.error by default, and never crashes on its own', async () => {
    const own = newPool();
    pools.push(own);
    const store = createPostgresStore({ pool: own, table: newTable(), cleanupInterval: 0 });
    const lines: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => lines.push(args[0]);
    try {
      own.emit('error', new Error('Connection terminated unexpectedly'));
    } finally {
      console.error = original;
    }
    expect(lines).toEqual([
      '[teller] [postgres-store] idle pool client error: Connection terminated unexpectedly',
    ]);
    await store.close();
  });

  it('validates the table name and the options: no SQL is built from unchecked input', () => {
    for (const table of ['x; DROP TABLE y', 'a"b', 'a-b', '1abc', '', 'ä', `t${'x'.repeat(48)}`]) {
      expect(() => createPostgresStore({ pool, table }), table).toThrow(
        /^\[teller\] \[postgres-store\] table must be letters, digits and _/,
      );
    }
    expect(() => createPostgresStore({ pool: {} as never })).toThrow(TypeError);
    expect(() => createPostgresStore({ pool, cleanupInterval: -1 })).toThrow(/cleanupInterval/);
    const ok = createPostgresStore({ pool, table: 'Good_Name_1', cleanupInterval: 0 });
    return ok.close();
  });

  it('rejects bad arguments with a TypeError; after close every operation rejects; close leaves the pool open', async () => {
    const store = createPostgresStore({ pool, table: newTable(), cleanupInterval: 0 });
    await expect(store.set('k', minimalRecord(), null, Number.POSITIVE_INFINITY)).rejects.toThrow(TypeError);
    await expect(store.set('k', minimalRecord(), 1.5, 1)).rejects.toThrow(/expected/);
    await store.close();
    await store.close();
    await expect(store.get('k')).rejects.toThrow(/\[teller\] \[postgres-store\] the store is closed/);
    await expect(store.migrate()).rejects.toBeInstanceOf(SessionStoreError);
    expect(pool.ended).toBe(false);
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });

  it('keeps fields it does not know, and fractional timestamps, so a later record format loses nothing', async () => {
    const store: PostgresStore = createPostgresStore({ pool, table: newTable(), cleanupInterval: 0 });
    const record = { ...minimalRecord({ createdAt: T0 + 0.5 }), notBefore: 42, nested: { a: [1, 'b'] } };
    await store.set('k', record, null, 1_000);
    expect(await store.get('k')).toStrictEqual(record);
    await store.close();
  });
});

describe.skipIf(!reachable)('the session manager over the postgres store', () => {
  for (const [what, scenario] of [
    ['step-up freshness (authenticatedAt, isFresh)', freshnessScenario],
    ['passive requests end at the idle timeout, their writes land', passiveScenario],
  ] as const) {
    it(what, async () => {
      const store = createPostgresStore({ pool, table: newTable(), cleanupInterval: 0 });
      await store.migrate();
      try {
        await scenario(store);
      } finally {
        await store.close();
      }
    });
  }

  it('stolen-id detection, two processes (two pools) on one table: reuse events, the revoke policy', async () => {
    const table = newTable();
    const second = newPool(`${app}_second`);
    pools.push(second);
    const store = createPostgresStore({ pool, table, cleanupInterval: 0 });
    await store.migrate();
    const other = createPostgresStore({ pool: second, table, cleanupInterval: 0 });
    try {
      await reuseScenario(store, other);
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('stolen-id detection of sealed sessions, two processes (two pools) on one table', async () => {
    const table = newTable();
    const second = newPool(`${app}_second_sealed`);
    pools.push(second);
    const store = createPostgresStore({ pool, table, cleanupInterval: 0 });
    await store.migrate();
    const other = createPostgresStore({ pool: second, table, cleanupInterval: 0 });
    try {
      await sealedReuseScenario(store, other);
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('login, cart, logout', async () => {
    const store = createPostgresStore({ pool, table: newTable(), cleanupInterval: 0 });
    await store.migrate();
    const manager = createSessionManager<{ cart: string[] }>({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']), { now: T0 });
    await visit(manager, browser, (s) => s.login('alice'), { now: T0 + 1_000 });
    await visit(manager, browser, (s) => s.update('cart', (cart = []) => [...cart, 'pear']), {
      now: T0 + 2_000,
    });
    const read = await visit(manager, browser, (s) => [s.userId, s.get('cart')], { now: T0 + 3_000 });
    expect(read.result).toEqual(['alice', ['apple', 'pear']]);
    expect((await manager.listSessions('alice', { now: T0 + 3_000 })).length).toBe(1);
    const stolen = new Browser();
    stolen.cookies.set('sid', browser.value()!);
    await visit(manager, browser, (s) => s.logout(), { now: T0 + 4_000 });
    expect(browser.cookies.size).toBe(0);
    const replay = await visit(manager, stolen, (s) => [s.userId, s.get('cart')], { now: T0 + 5_000 });
    expect(replay.result).toEqual([undefined, undefined]);
    expect(await manager.listSessions('alice', { now: T0 + 5_000 })).toEqual([]);
    await store.close();
  });
});
