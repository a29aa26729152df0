/**
 * Store round trips per request, counted by the store servers themselves, in a pass of its own (never inside a
 * timed run). For each store kind: a fresh server, 50 sessions made through the counter route, then COUNT
 * requests of each kind, 50 at a time, each connection with its own session (as the `own` runs), every one
 * answered 2xx and received by the server (its own count, over IPC):
 * - read-only, `GET /read`: reads the session and changes nothing; the sessions are seconds old, so no touch is
 *   due (Teller touches at most once a minute, its default touchInterval);
 * - write, `GET /`: the counter route.
 *
 * Redis: a redis-server of the bench's own (a free loopback port, no persistence, stopped at the end), so no
 * other client's command is counted. Redis counts the commands a script runs as commands (`INFO commandstats`
 * lists them beside the EVALSHA), so the round trips come from MONITOR, which tells a client's command from a
 * script's (`[0 lua]`): round trips = commands the bench server's connections sent between two `INFO
 * commandstats` the bench sends as markers. The commandstats delta (less the first marker) must equal those
 * commands plus the scripts', or the count fails.
 *
 * PostgreSQL: a database of the bench's own on the DATABASE_URL server, `teller_bench_<run>_count` (created
 * here, dropped at the end), read from its pg_stat_database row over a connection to the DATABASE_URL database:
 * round trips = xact_commit + xact_rollback - sessions x (the transactions of a connection's start-up, measured
 * here first: 1 on PostgreSQL 15). Both stores send each statement on its own, without BEGIN, so each is one
 * implicit transaction and one round trip. A backend flushes its statistics when it exits: the server's pool
 * closes idle connections after PG_IDLE_MS, and a reading is taken once the database has no backend and the
 * figures hold still. Autovacuum is off on the counted table; an autovacuum worker visiting the database could
 * still add a transaction or two to a batch (under 0.01 per request).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgAdmin, redisAdmin, STORE_OF, within } from './services.js';

/** Requests counted per request kind. */
export const COUNT = 1_000;
const SESSIONS = 50;
const PG_IDLE_MS = 200;
/** How long the PostgreSQL statistics may take to settle after a batch. */
const SETTLE_MS = 15_000;
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** A TCP port free on loopback now. */
function freePort() {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

/** Per-request figures from a count map: `{ name: count / COUNT }`, largest first. */
function perRequest(counts) {
  return Object.fromEntries(
    Object.entries(counts)
      .filter(([, n]) => n !== 0)
      .sort(([, a], [, b]) => b - a)
      .map(([name, n]) => [name, n / COUNT]),
  );
}

/** `hget 1.00, evalsha 1.00` */
export const breakdown = (parts) =>
  Object.entries(parts)
    .map(([name, n]) => `${name} ${n.toFixed(2)}`)
    .join(', ') || 'none';

// --- Redis ------------------------------------------------------------------------------------------------

/** A redis-server of the bench's own; `stop()` ends it and removes its directory. */
async function startRedis(track) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'teller-bench-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  track(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((done) => child.once('exit', done));
  let admin;
  const stop = async () => {
    admin?.destroy();
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise((done, fail) => {
      child.once('spawn', done);
      child.once('error', (error) =>
        fail(
          error.code === 'ENOENT'
            ? new Error('no redis-server on PATH (the count needs a Redis of its own)')
            : error,
        ),
      );
    });
    const url = `redis://127.0.0.1:${port}`;
    for (const deadline = Date.now() + 5_000; admin === undefined; ) {
      try {
        admin = await redisAdmin(url);
      } catch (error) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`redis-server did not start: ${stderr.trim() || error.message}`);
        await sleep(100);
      }
    }
    const addr = /addr=(\S+)/.exec(await admin.sendCommand(['CLIENT', 'INFO']))?.[1];
    return { url, port, admin, addr, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `cmdstat_hget:calls=3,...` lines as `{ hget: 3 }`. */
function commandstats(info) {
  const calls = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]] = Number(m[2]);
  return calls;
}

/** A MONITOR connection: `lines` (origin, command) as they come; `until(test)` waits for one that passes. */
async function openMonitor(port) {
  const socket = createConnection(port, '127.0.0.1');
  socket.setEncoding('utf8');
  const lines = [];
  let buffer = '';
  let wake = () => {};
  socket.on('data', (chunk) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      // +1796184168.491888 [0 lua] "HGET" "k" "v"   or   [0 127.0.0.1:40112] "evalsha" ...
      const m = /^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]*)"/.exec(line);
      if (m) lines.push({ origin: m[1], command: m[2].toLowerCase() });
      else if (line === '+OK') lines.push({ ok: true });
    }
    wake();
  });
  socket.on('error', () => wake());
  const until = (test, what) =>
    within(
      new Promise((done) => {
        const check = () => {
          if (lines.some(test)) done();
          else wake = check;
        };
        check();
      }),
      10_000,
      what,
    );
  socket.write('MONITOR\r\n');
  await until((line) => line.ok, 'MONITOR');
  return { lines, until, close: () => socket.destroy() };
}

/** One counted batch on Redis: round trips and the breakdowns. */
async function redisBatch(redis, monitor, load) {
  const marker = (line) => line.origin === redis.addr && line.command === 'info';
  const from = monitor.lines.length;
  const before = commandstats(await redis.admin.info('commandstats'));
  await load();
  const after = commandstats(await redis.admin.info('commandstats'));
  await monitor.until(
    (line, i) => i > from && marker(line) && monitor.lines.slice(from, i).some(marker),
    'the second INFO marker in MONITOR',
  );
  const window = monitor.lines.slice(from);
  const start = window.findIndex(marker);
  const end = window.findIndex((line, i) => i > start && marker(line));
  const client = {};
  const scripts = {};
  for (const { origin, command } of window.slice(start + 1, end)) {
    const into = origin === 'lua' ? scripts : client;
    into[command] = (into[command] ?? 0) + 1;
  }
  const stats = {};
  for (const [name, n] of Object.entries(after)) stats[name] = n - (before[name] ?? 0);
  stats.info -= 1;
  const sum = (counts) => Object.values(counts).reduce((a, b) => a + b, 0);
  if (sum(stats) !== sum(client) + sum(scripts)) {
    throw new Error(
      `INFO commandstats counted ${sum(stats)} commands (${breakdown(stats)}), MONITOR ${sum(client)} + ${sum(scripts)} in scripts`,
    );
  }
  return {
    trips: sum(client) / COUNT,
    parts: perRequest(client),
    inScripts: perRequest(scripts),
  };
}

// --- PostgreSQL -------------------------------------------------------------------------------------------

const STAT_COLUMNS = [
  'numbackends',
  'xact_commit',
  'xact_rollback',
  'sessions',
  'tup_inserted',
  'tup_updated',
  'tup_deleted',
];

/** A database of the bench's own, its statistics reader, and the start-up transactions of a connection. */
async function startPostgres(services) {
  const admin = pgAdmin(services.pgUrl);
  const database = `teller_bench_${services.run}_count`;
  let created = false;
  let reader;
  const stop = async () => {
    reader?.release(true);
    if (created) await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end().catch(() => {});
  };
  try {
    try {
      await admin.query(`CREATE DATABASE "${database}"`);
      created = true;
    } catch (error) {
      throw new Error(`cannot create a database of its own (${error?.message ?? error})`);
    }
    const url = new URL(services.pgUrl);
    url.pathname = `/${database}`;
    reader = await admin.connect();
    /** The database's pg_stat_database row, as numbers (a fresh snapshot each time). */
    const read = async () => {
      await reader.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await reader.query(
        `SELECT ${STAT_COLUMNS.join(', ')} FROM pg_stat_database WHERE datname = $1`,
        [database],
      );
      return Object.fromEntries(STAT_COLUMNS.map((name) => [name, Number(rows[0][name])]));
    };
    /** The row once no backend is connected and it held still for 3 readings 100 ms apart. */
    const settle = async () => {
      const deadline = Date.now() + SETTLE_MS;
      let last;
      let still = 0;
      for (;;) {
        const now = await read();
        const same = last !== undefined && STAT_COLUMNS.every((name) => now[name] === last[name]);
        still = now.numbackends === 0 && same ? still + 1 : 0;
        if (still >= 2) return now;
        if (Date.now() > deadline)
          throw new Error(`PostgreSQL's statistics did not settle in ${SETTLE_MS / 1000} s`);
        last = now;
        await sleep(100);
      }
    };
    // What a connection's start-up costs in transactions: two connections that send nothing.
    const before = await settle();
    const empty = pgAdmin(url.href);
    try {
      for (let i = 0; i < 2; i++) (await empty.connect()).release(true);
    } finally {
      await empty.end();
    }
    const after = await settle();
    const opened = after.sessions - before.sessions;
    const xacts = (row) => row.xact_commit + row.xact_rollback;
    const startupXacts = (xacts(after) - xacts(before)) / opened;
    if (opened !== 2 || !Number.isInteger(startupXacts))
      throw new Error(`could not measure a connection's start-up (${opened} sessions, ${startupXacts})`);
    return { url: url.href, settle, startupXacts, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** One counted batch on PostgreSQL: round trips and the rows changed. */
async function postgresBatch(postgres, load) {
  const before = await postgres.settle();
  await load();
  const after = await postgres.settle();
  const d = Object.fromEntries(STAT_COLUMNS.map((name) => [name, after[name] - before[name]]));
  const statements = d.xact_commit + d.xact_rollback - d.sessions * postgres.startupXacts;
  return {
    trips: statements / COUNT,
    parts: perRequest({
      inserted: d.tup_inserted,
      updated: d.tup_updated,
      deleted: d.tup_deleted,
    }),
    connections: d.sessions,
    rollbacks: d.xact_rollback,
  };
}

// --- the pass ---------------------------------------------------------------------------------------------

/** A count that cannot be set up (no redis-server, no right to create a database) is skipped, not failed. */
const unusable = (error) => {
  throw Object.assign(new Error(error?.message ?? String(error)), { skip: true });
};

/**
 * The counting pass. `tools`: the suite's `startServer(kind, mode, env)`, `runLoad(config)`,
 * `createSession(port)`, `track(child)` (so the suite's exit handler kills it too), and its `services`.
 * `count(kind)` resolves with `{ read, write }`, each `{ trips, parts, inScripts?, connections? }` per request.
 */
export function createCounter(tools) {
  let redis;
  let postgres;
  let made = 0;

  async function batch(server, cookies, path, counted) {
    const url = `http://127.0.0.1:${server.port}${path}`;
    let load;
    const before = await server.mark();
    const figures = await counted(async () => {
      load = await tools.runLoad({ url, cookies, amount: COUNT, timeoutSec: 60 });
    });
    const after = await server.mark();
    const served = after.requests - before.requests;
    if (load.ok !== COUNT || served !== COUNT)
      throw new Error(
        `GET ${path}: ${load.ok} of ${COUNT} answered 2xx (non-2xx ${load.non2xx}, errors ${load.errors}), ${served} received`,
      );
    const events = Object.entries(after.events)
      .map(([type, n]) => [type, n - (before.events[type] ?? 0)])
      .filter(([type, n]) => n > 0 && type !== 'created');
    return events.length > 0 ? { ...figures, events: Object.fromEntries(events) } : figures;
  }

  return {
    async count(kind) {
      const store = STORE_OF[kind];
      let env;
      let counted;
      if (store === 'redis') {
        redis ??= startRedis(tools.track).catch(unusable);
        const r = await redis;
        env = { BENCH_REDIS_URL: r.url, BENCH_REDIS_PREFIX: `teller-bench:count:${++made}:` };
      } else {
        postgres ??= startPostgres(tools.services).catch(unusable);
        const p = await postgres;
        env = {
          BENCH_PG_URL: p.url,
          BENCH_PG_TABLE: `teller_bench_${tools.services.run}_count_${++made}`,
          BENCH_PG_IDLE_MS: String(PG_IDLE_MS),
        };
      }
      const server = await tools.startServer(kind, 'trips', env);
      let monitor;
      try {
        const cookies = [];
        for (let i = 0; i < SESSIONS; i++) cookies.push(await tools.createSession(server.port));
        if (store === 'redis') {
          const r = await redis;
          monitor = await openMonitor(r.port);
          counted = (load) => redisBatch(r, monitor, load);
        } else {
          const p = await postgres;
          const pool = pgAdmin(p.url);
          try {
            await pool.query(`ALTER TABLE "${env.BENCH_PG_TABLE}" SET (autovacuum_enabled = false)`);
          } finally {
            await pool.end();
          }
          counted = (load) => postgresBatch(p, load);
        }
        const read = await batch(server, cookies, '/read', counted);
        const write = await batch(server, cookies, '/', counted);
        return { kind, store, read, write };
      } finally {
        monitor?.close();
        await server.stop();
      }
    },
    /** Stops the bench's redis-server and drops its database (also after a failure). */
    async close() {
      const started = [redis, postgres].filter(Boolean);
      redis = undefined;
      postgres = undefined;
      const results = await Promise.allSettled(
        started.map(async (starting) => {
          const service = await starting.catch(() => undefined);
          await service?.stop();
        }),
      );
      for (const r of results)
        if (r.status === 'rejected')
          console.log(`  (could not clean up after the count: ${r.reason?.message ?? r.reason})`);
    },
  };
}
