/**
 * The store kinds of `npm run bench:scale`, each: `open(ns)` (the store, its options, and how to load it), run
 * in the child process of one (store, size) run. Namespaces come from the parent (bench/scale.js), which
 * removes them after each run, even when the child was killed: a SQLite file in a temp directory of its own,
 * a Redis key prefix (`teller-bench:<run>:<n>:`), a PostgreSQL table (`teller_bench_<run>_<n>`).
 *
 * `clock: 'fake'`: the store takes a `clock`, and the run gives it the manager's fake clock (expiry without
 * waiting). `'real'`: the backend keeps its own time (Redis PEXPIRE): the expired 10% get ttls of a second at
 * most and Redis drops them itself; there is no purge to measure.
 *
 * Loading: memory and SQLite through the store's own `set` (SQLite commits the writes of one event-loop turn
 * in one transaction), Redis through `set` too (a few thousand concurrent calls at a time, pipelined by the
 * client), PostgreSQL by a direct bulk insert of the rows `set` would write (same columns, same `meta` JSON,
 * the same drop time: its clock + ttl), 5,000 rows per statement, then ANALYZE (as autovacuum would).
 *
 * Redis Cluster: three masters the bench starts for the whole run (bench/scale/cluster.js), emptied after each
 * run; the store on a node-redis cluster client, loaded through `set` as standalone Redis is.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const LOAD_BATCH = 5_000;
const yieldNow = () => new Promise((resolve) => setImmediate(resolve));

export const STORE_KINDS = {
  memory: { service: undefined, clock: 'fake', label: 'memory store (in process)' },
  sqlite: { service: undefined, clock: 'fake', label: 'SQLite (better-sqlite3, temp file, WAL)' },
  redis: { service: 'redis', clock: 'real', label: 'Redis standalone (node-redis 5)' },
  postgres: { service: 'postgres', clock: 'fake', label: 'PostgreSQL (pg Pool, 10 connections)' },
  'redis-cluster': {
    service: 'redis-cluster',
    clock: 'real',
    label: "Redis Cluster (node-redis 5 createCluster, the bench's own 3 masters)",
  },
};

/**
 * Loads every session through `store.set`, {@link LOAD_BATCH} at a time (each batch at the clock's time when it
 * starts), a turn of the event loop between batches.
 */
async function loadThroughSet(store, population, clock) {
  for (let from = 0; from < population.size; from += LOAD_BATCH) {
    const loadAt = clock();
    const pending = [];
    for (let i = from; i < Math.min(population.size, from + LOAD_BATCH); i++) {
      const { record, ttlMs } = population.recordOf(i, loadAt);
      pending.push(store.set(population.keyOf(i), record, null, ttlMs));
    }
    const written = await Promise.all(pending);
    if (written.some((ok) => ok !== true))
      throw new Error('a bulk-loaded session was not written (key taken?)');
    await yieldNow();
  }
}

/**
 * Opens the store of `kind` on the namespace `ns` (from the parent). Returns `{ store, load(population), close() }`
 * (and the client, pool, file or table the run measures): `load` writes every session at the times of `clock`.
 */
export async function openStore(kind, { dist, ns, clock }) {
  const teller = (path) => import(pathToFileURL(join(dist, path)).href);
  if (kind === 'memory') {
    const { createMemoryStore } = await teller('stores/memory.js');
    // maxEntries above the largest run (the write phase adds a new session per one it deletes).
    const store = createMemoryStore({ maxEntries: 5_000_000, cleanupInterval: 0, clock });
    return {
      store,
      load: (population) => loadThroughSet(store, population, clock),
      close: () => store.close(),
    };
  }
  if (kind === 'sqlite') {
    const { createSqliteStore } = await teller('stores/sqlite.js');
    const filename = join(ns.dir, 'sessions.db');
    // BENCH_SQLITE_CHECKPOINTS=inline: SQLite's own checkpoints, in the commits (the store's option).
    const checkpoints = process.env.BENCH_SQLITE_CHECKPOINTS;
    const store = createSqliteStore({
      filename,
      cleanupInterval: 0,
      clock,
      ...(checkpoints ? { checkpoints } : {}),
    });
    return {
      store,
      filename,
      load: (population) => loadThroughSet(store, population, clock),
      close: () => store.close(),
    };
  }
  if (kind === 'redis' || kind === 'redis-cluster') {
    const { createRedisStore } = await teller('stores/redis.js');
    const { createClient, createCluster } = require('redis');
    const socket = { connectTimeout: 3_000, reconnectStrategy: false };
    const client =
      kind === 'redis'
        ? createClient({ url: ns.redisUrl, disableOfflineQueue: true, socket })
        : createCluster({
            rootNodes: ns.clusterPorts.map((port) => ({ url: `redis://127.0.0.1:${port}` })),
            defaults: { disableOfflineQueue: true, socket },
          });
    client.on('error', () => {
      // Reported by the command that fails.
    });
    await client.connect();
    const store = createRedisStore({ client, prefix: ns.redisPrefix });
    return {
      store,
      client,
      load: (population) => loadThroughSet(store, population, clock),
      async close() {
        await store.close();
        client.destroy();
      },
    };
  }
  if (kind === 'postgres') {
    const { createPostgresStore } = await teller('stores/postgres.js');
    const { restOf } = await teller('stores/_record.js');
    const pg = require('pg');
    const pool = new pg.Pool({
      connectionString: ns.pgUrl,
      // Names this run's connections, and nothing else's (pg_stat_activity).
      application_name: ns.pgTable,
      max: 10,
      connectionTimeoutMillis: 3_000,
    });
    pool.on('error', () => {
      // An idle connection dropped: the next query reports it.
    });
    const table = ns.pgTable;
    const store = createPostgresStore({ pool, table, cleanupInterval: 0, clock });
    await store.migrate();
    return {
      store,
      pool,
      table,
      async load(population) {
        for (let from = 0; from < population.size; from += LOAD_BATCH) {
          const loadAt = clock();
          const now = Math.floor(loadAt);
          const columns = [[], [], [], [], [], [], [], []];
          for (let i = from; i < Math.min(population.size, from + LOAD_BATCH); i++) {
            const { record, ttlMs } = population.recordOf(i, loadAt);
            const row = [
              population.keyOf(i),
              record.version,
              record.userId ?? null,
              Math.ceil(now + ttlMs),
              record.data,
              record.createdAt,
              record.lastSeenAt,
              restOf(record),
            ];
            for (let c = 0; c < row.length; c++) columns[c].push(row[c]);
          }
          await pool.query(
            `INSERT INTO "${table}" (key, version, user_id, expires_at, data, created_at, last_seen_at, meta)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],
               $6::float8[], $7::float8[], $8::json[])`,
            columns,
          );
        }
        await pool.query(`ANALYZE "${table}"`);
      },
      async close() {
        await store.close();
        await pool.end();
      },
    };
  }
  throw new TypeError(`unknown store kind ${kind}`);
}
