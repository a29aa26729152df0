/**
 * The Redis and PostgreSQL of the http suite's store rows: REDIS_URL (default redis://127.0.0.1:6379) and
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). They are shared with other users, so the
 * bench works in namespaces of its own and leaves nothing behind: each server gets keys under
 * `teller-bench:<run>:<n>:` or a table `teller_bench_<run>_<n>`, removed once that server stopped (SCAN + DEL,
 * DROP TABLE), and the run's whole namespace is swept at the end. Never FLUSHALL/FLUSHDB, never a server
 * stopped.
 *
 * Also: why a store's rows must be skipped (unreachable, with the address and the client's message), and the
 * CPU time the store server spent, read at each mark (Redis: `INFO cpu`, the whole server; PostgreSQL: /proc of
 * the backends this server's pool opened, found by application_name), so its work on the Node server's core is
 * not taken for another process's. Only for a server on this machine (loopback); undefined otherwise.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Which service each store kind uses. */
export const STORE_OF = {
  'teller-redis': 'redis',
  'express-redis': 'redis',
  'teller-postgres': 'postgres',
  'express-pg': 'postgres',
};

/** Every call on a shared server is bounded: a hung server fails the run, never the whole bench. */
const CALL_MS = 10_000;
const CLOCK_TICK_US = 10_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** An address without its password, for messages. */
export function shown(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return '(an unparsable URL)';
  }
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A glob pattern matching `text` literally (for SCAN MATCH). */
const globEscape = (text) => text.replace(/[*?[\]\\]/g, '\\$&');

/** A connected node-redis client for the bench itself (fails at once, never reconnects). */
export async function redisAdmin(url) {
  const { createClient } = require('redis');
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 3_000, reconnectStrategy: false },
  });
  client.on('error', () => {
    // Reported by the command that fails.
  });
  await within(client.connect(), 5_000, `connecting to Redis at ${shown(url)}`);
  return client;
}

/** A small pg Pool for the bench itself (statements bounded by statement_timeout). */
export function pgAdmin(url, database) {
  const pg = require('pg');
  const pool = new pg.Pool({
    connectionString: url,
    ...(database === undefined ? {} : { database }),
    application_name: 'teller-bench-admin',
    max: 2,
    connectionTimeoutMillis: 3_000,
    statement_timeout: CALL_MS,
  });
  pool.on('error', () => {
    // An idle connection dropped: the next query reports it.
  });
  return pool;
}

/** Deletes every key starting with `prefix` (SCAN + DEL, a batch at a time). */
export async function deleteKeys(client, prefix) {
  let deleted = 0;
  for await (const keys of client.scanIterator({ MATCH: `${globEscape(prefix)}*`, COUNT: 1000 })) {
    if (keys.length > 0) deleted += await client.del(keys);
  }
  return deleted;
}

/** CPU time (us) of processes by pid, from /proc/<pid>/stat (utime + stime); unreadable ones are left out. */
function procCpu(pids) {
  const cpu = new Map();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // After the command name (in parentheses, which may hold spaces): fields 3.. ; utime, stime are 14, 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_US);
    } catch {}
  }
  return cpu;
}

const isLocal = (url) => {
  try {
    return LOOPBACK.has(new URL(url).hostname);
  } catch {
    return false;
  }
};

/** The services of one bench run: `run` names its namespaces (random, so two runs at once never meet). */
export function createServices() {
  const run = randomBytes(4).toString('hex');
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const pgUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const redisPrefix = `teller-bench:${run}:`;
  const tablePrefix = `teller_bench_${run}_`;
  let made = 0;
  /** service -> Promise<{ client } | { why }>, probed once. */
  const probes = new Map();

  function connect(service) {
    if (!probes.has(service)) {
      const probe =
        service === 'redis'
          ? redisAdmin(redisUrl).then(
              async (client) => {
                await within(client.ping(), CALL_MS, 'Redis PING');
                return { client };
              },
              (error) => ({ why: `Redis unreachable at ${shown(redisUrl)}: ${error?.message ?? error}` }),
            )
          : (async () => {
              const pool = pgAdmin(pgUrl);
              try {
                await pool.query('SELECT 1');
                return { pool };
              } catch (error) {
                await pool.end().catch(() => {});
                return { why: `PostgreSQL unreachable at ${shown(pgUrl)}: ${error?.message ?? error}` };
              }
            })();
      probes.set(service, probe);
    }
    return probes.get(service);
  }

  return {
    run,
    redisUrl,
    pgUrl,
    /** Undefined when the kind's service answers; else why its rows are skipped. */
    async unavailable(kind) {
      return (await connect(STORE_OF[kind])).why;
    },
    /**
     * A namespace for one server of a store kind: `env` for the server, `cpu()` the store server's CPU time so
     * far (us; undefined when not measurable), `cleanup()` removes what the server made.
     */
    async namespace(kind) {
      const n = ++made;
      if (STORE_OF[kind] === 'redis') {
        const { client } = await connect('redis');
        const prefix = `${redisPrefix}${n}:`;
        return {
          env: { BENCH_REDIS_URL: redisUrl, BENCH_REDIS_PREFIX: prefix },
          async cpu() {
            if (!isLocal(redisUrl)) return undefined;
            const info = await within(client.info('cpu'), CALL_MS, 'Redis INFO cpu');
            const seconds = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
            return (seconds('used_cpu_sys') + seconds('used_cpu_user')) * 1e6;
          },
          cleanup: () => within(deleteKeys(client, prefix), 60_000, `deleting the keys ${prefix}*`),
        };
      }
      const { pool } = await connect('postgres');
      const table = `${tablePrefix}${n}`;
      return {
        env: { BENCH_PG_URL: pgUrl, BENCH_PG_TABLE: table },
        /** Per backend pid, so a backend that started during the run counts from zero. */
        async cpu() {
          if (!isLocal(pgUrl)) return undefined;
          const { rows } = await pool.query(
            'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
            [table],
          );
          return procCpu(rows.map((row) => row.pid));
        },
        cleanup: () => pool.query(`DROP TABLE IF EXISTS "${table}"`),
      };
    },
    /** Sweeps the run's whole namespace (what a failed cleanup left) and closes the bench's own clients. */
    async close() {
      const left = [];
      const opened = [...probes];
      probes.clear();
      for (const [service, probe] of opened) {
        const { client, pool } = await probe;
        if (client === undefined && pool === undefined) continue;
        try {
          if (service === 'redis') {
            const n = await within(deleteKeys(client, redisPrefix), 60_000, 'sweeping the keys');
            if (n > 0) left.push(`${n} Redis keys`);
          } else {
            const { rows } = await pool.query(
              `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)`,
              [tablePrefix],
            );
            for (const { tablename } of rows) await pool.query(`DROP TABLE IF EXISTS "${tablename}"`);
            if (rows.length > 0) left.push(`${rows.length} tables`);
          }
        } catch (error) {
          console.log(`  (could not sweep the bench's ${service} namespace: ${error?.message ?? error})`);
        } finally {
          if (client) client.destroy();
          if (pool) await pool.end().catch(() => {});
        }
      }
      if (left.length > 0) console.log(`  (swept what a cleanup left: ${left.join(', ')})`);
    },
  };
}

/** Store-server CPU (us) between two `cpu()` readings: a number, or per-pid maps (new pids count from zero). */
export function cpuBetween(before, after) {
  if (before === undefined || after === undefined) return undefined;
  if (typeof before === 'number') return after - before;
  let sum = 0;
  for (const [pid, us] of after) sum += us - (before.get(pid) ?? 0);
  return sum;
}
