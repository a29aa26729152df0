/**
 * One benchmark server, run by bench/http.js as a child process pinned to one core:
 * `node bench/http/server.js <kind>` with kind one of bare, teller-memory, teller-sqlite, express, fastify,
 * teller-redis, teller-postgres, express-redis, express-pg, teller-sealed (Teller's sealed mode, cookie-only,
 * no store), iron-session (iron-session 8, cookie-only), and the frameworks' own hello worlds and Teller
 * adapters on them (issue 9: express-hello, express-teller, fastify-hello, fastify-teller, hono-hello,
 * hono-teller; the Teller ones on the memory store) (and, for diagnostics, bare-async, bare-burn,
 * teller-untouched, teller-direct).
 *
 * Routes: `GET /` is the counter route (reads the session's counter `n`, adds one, answers the new value;
 * the bare server and the frameworks' hello worlds answer "hello world"); `GET /read` answers the counter
 * without changing it.
 * Talks to its parent over IPC only: sends `{ type: 'ready', port, tempDir? }`; answers `{ type: 'mark' }` with its own
 * CPU time, wall clock, memory and the number of requests it received (the bench takes deltas between two
 * marks, so the admin traffic is never counted); `{ type: 'exit' }` closes it (so --cpu-prof is written).
 * Teller is taken from the built package: TELLER_DIST (default ../../dist from this file). BENCH_SLOW=1: the
 * server runs under a tool that slows it down (lock and store timeouts of a minute).
 *
 * The store kinds get their namespace from the parent, which made it unique to this server and removes it
 * after (bench/http/services.js), even when this process is killed: BENCH_REDIS_URL and BENCH_REDIS_PREFIX
 * (every key starts with it); BENCH_PG_URL and BENCH_PG_TABLE (a table of its own, made here before listening:
 * Teller's `migrate()`, or connect-pg-simple's table.sql with index names of its own); BENCH_PG_IDLE_MS (the
 * pool's idle timeout; the round-trip count sets it short so the connections close, and their backends flush
 * their statistics, when a counted batch ends). Both sides get the same clients: a node-redis 5 client (one
 * connection), a pg Pool of at most PG_POOL_MAX connections.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL('.', import.meta.url));
const dist = resolve(process.env.TELLER_DIST ?? resolve(here, '../../dist'));
const teller = (path) => import(pathToFileURL(join(dist, path)).href);

const kind = process.argv[2];
const SECRET = 'a benchmark secret of at least thirty-two characters';
/** pg's own default, said out loud: both PostgreSQL servers get the same pool. */
const PG_POOL_MAX = 10;
let requests = 0;
const events = {};
const cleanups = [];
/** The SQLite server's temp directory, told to the parent so it can remove it even if this process is killed. */
let tempDir;

function text(res, body) {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Teller on node:http (`storeKind` 'sealed': sealed mode, the session in the cookie and no store). `touch: false`:
 * the handler never uses the session. `direct`: no adapter, the handler calls `manager.load` and
 * `manager.commit` itself and writes the headers the adapter would (what the adapter costs).
 */
async function tellerServer(storeKind, { touch = true, direct = false } = {}) {
  const { createSessionManager } = await teller('index.js');
  const { createNodeSessions } = await teller('adapters/node.js');
  let store;
  if (storeKind === 'sealed') {
    // Cookie-only: nothing on the server (with a store beside it, logout would also refuse old copies).
    store = undefined;
  } else if (storeKind === 'memory') {
    const { createMemoryStore } = await teller('stores/memory.js');
    // Above the default cap (100,000): a first-visits run makes more sessions than that, and measures the
    // session path, not a full store's refusals.
    store = createMemoryStore({ maxEntries: 5_000_000 });
  } else if (storeKind === 'redis') {
    const { createRedisStore } = await teller('stores/redis.js');
    // The store refuses a client that would queue commands while Redis is down and replay them later.
    const client = await redisClient({ disableOfflineQueue: true });
    store = createRedisStore({ client, prefix: env('BENCH_REDIS_PREFIX') });
  } else if (storeKind === 'postgres') {
    const { createPostgresStore } = await teller('stores/postgres.js');
    const table = env('BENCH_PG_TABLE');
    store = createPostgresStore({ pool: pgPool(table), table });
    await store.migrate();
  } else {
    const { createSqliteStore } = await teller('stores/sqlite.js');
    const dir = mkdtempSync(join(tmpdir(), 'teller-bench-'));
    tempDir = dir;
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    store = createSqliteStore({ filename: join(dir, 'sessions.db') });
  }
  // Counts the manager's events (merged writes, conflicts, store errors...), reported with each mark.
  const manager = createSessionManager({
    store,
    ...(storeKind === 'sealed' ? { seal: { secrets: [SECRET] } } : {}),
    // Under valgrind or strace (bench/http-instructions.js) the server is many times slower: lock waits and
    // store calls then get a minute, so that the slowness does not turn them into conflicts and timeouts.
    ...(process.env.BENCH_SLOW === '1' ? { lockTimeout: 60_000, storeTimeout: 60_000 } : {}),
    onEvent: (event) => {
      events[event.type] = (events[event.type] ?? 0) + 1;
    },
  });
  cleanups.unshift(() => manager.close());
  if (direct) {
    return createServer(async (req, res) => {
      const session = await manager.load(req.headers.cookie, {
        secure: false,
        host: req.headers.host,
        userAgent: req.headers['user-agent'],
        ip: req.socket.remoteAddress,
      });
      const n = session.get('n') ?? 0;
      if (req.url !== '/read') session.set('n', n + 1);
      const { setCookie } = await manager.commit(session, { status: 200 });
      const body = String(req.url === '/read' ? n : n + 1);
      const headers = { 'Content-Type': 'text/plain', 'Content-Length': body.length, Vary: 'Cookie' };
      if (setCookie.length > 0) {
        headers['Set-Cookie'] = setCookie;
        headers['Cache-Control'] = 'no-store';
      }
      res.writeHead(200, headers);
      res.end(body);
    });
  }
  // An error answer (a 409 conflict, a 503 from a store) is counted with the events, not logged line by line:
  // a contended shared-session run would flood the output. Anything else (a bug) is still printed.
  const sessions = createNodeSessions(manager, {
    onError: (error) => {
      if (typeof error?.status !== 'number') return console.error(error);
      const type = `answered ${error.status}`;
      events[type] = (events[type] ?? 0) + 1;
    },
  });
  return createServer(
    sessions.wrap((req, res) => {
      if (!touch) return text(res, 'hello world');
      const n = req.session.get('n') ?? 0;
      if (req.url === '/read') return text(res, String(n));
      req.session.set('n', n + 1);
      text(res, String(n + 1));
    }),
  );
}

/** An environment variable the parent must set for this kind. */
function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${kind}: ${name} is not set (the bench sets it)`);
  return value;
}

/** A connected node-redis 5 client on BENCH_REDIS_URL (one connection), closed at exit; errors are counted. */
async function redisClient(options = {}) {
  const { createClient } = require('redis');
  const client = createClient({
    url: env('BENCH_REDIS_URL'),
    socket: { connectTimeout: 3_000 },
    ...options,
  });
  client.on('error', () => {
    events['redis-error'] = (events['redis-error'] ?? 0) + 1;
  });
  await client.connect();
  cleanups.push(() => client.destroy());
  return client;
}

/** A pg Pool on BENCH_PG_URL, ended at exit; idle-client errors are counted. */
function pgPool(table) {
  const pg = require('pg');
  const idle = Number(process.env.BENCH_PG_IDLE_MS);
  const pool = new pg.Pool({
    connectionString: env('BENCH_PG_URL'),
    // Names this server's connections (to find them in pg_stat_activity), and nothing else's.
    application_name: table,
    max: PG_POOL_MAX,
    connectionTimeoutMillis: 3_000,
    ...(idle > 0 ? { idleTimeoutMillis: idle } : {}),
  });
  pool.on('error', () => {
    events['pg-error'] = (events['pg-error'] ?? 0) + 1;
  });
  cleanups.push(() => pool.end());
  return pool;
}

/**
 * express-session's store for the `express-*` kinds: connect-redis 9 over a node-redis client (as its README
 * makes it), or connect-pg-simple 10 on a table of its own; undefined for `express` (its MemoryStore).
 */
async function expressStore(session) {
  if (kind === 'express-redis') {
    const { RedisStore } = require('connect-redis');
    return new RedisStore({ client: await redisClient(), prefix: env('BENCH_REDIS_PREFIX') });
  }
  if (kind === 'express-pg') {
    const table = env('BENCH_PG_TABLE');
    const pool = pgPool(table);
    // connect-pg-simple's table.sql, with index names of this table's own (its createTableIfMissing names
    // them session_pkey and IDX_session_expire, one per schema: two runs at once would collide).
    await pool.query(
      `CREATE TABLE "${table}" ("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL,
         "expire" timestamp(6) NOT NULL, CONSTRAINT "${table}_pkey" PRIMARY KEY ("sid"));
       CREATE INDEX "${table}_expire" ON "${table}" ("expire")`,
    );
    const PgStore = require('connect-pg-simple')(session);
    return new PgStore({ pool, tableName: table });
  }
  return undefined;
}

/** express-session with `resave: false, saveUninitialized: false` (its README's advice), on every store. */
async function expressServer() {
  const express = require('express');
  const session = require('express-session');
  const app = express();
  app.disable('x-powered-by');
  const store = await expressStore(session);
  // With NODE_ENV=production express-session warns that its MemoryStore is not for production: known, muted.
  const warn = console.warn;
  console.warn = () => {};
  try {
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store }));
  } finally {
    console.warn = warn;
  }
  app.get('/read', (req, res) => {
    res.type('text/plain').send(String(req.session.n ?? 0));
  });
  app.get('/', (req, res) => {
    req.session.n = (req.session.n ?? 0) + 1;
    res.type('text/plain').send(String(req.session.n));
  });
  // As for Teller: an error (a store failing, or closed while a request was in flight at exit) is counted
  // with the events and answered 500, not logged with its stack by express's default handler.
  app.use((_error, _req, res, _next) => {
    events['answered 500'] = (events['answered 500'] ?? 0) + 1;
    if (!res.headersSent) res.status(500).type('text/plain').send('error');
  });
  return createServer(app);
}

async function fastifyServer() {
  const Fastify = require('fastify');
  let server;
  const app = Fastify({
    logger: false,
    serverFactory: (handler) => {
      server = createServer(handler);
      return server;
    },
  });
  await app.register(require('@fastify/cookie'));
  await app.register(require('@fastify/session'), {
    secret: SECRET,
    saveUninitialized: false,
    cookie: { secure: false },
  });
  app.get('/read', async (request, reply) => {
    reply.type('text/plain');
    return String(request.session.get('n') ?? 0);
  });
  app.get('/', async (request, reply) => {
    const n = (request.session.get('n') ?? 0) + 1;
    request.session.set('n', n);
    reply.type('text/plain');
    return String(n);
  });
  await app.ready();
  cleanups.unshift(() => app.close());
  return server;
}

/**
 * iron-session 8 on node:http (`getIronSession(req, res, options)`, its README's way), on the counter route:
 * the session is sealed into the cookie on every write (`save()`), as Teller's sealed mode does. Not Secure, as
 * Teller's cookie over http; its other cookie options are its defaults.
 */
async function ironSessionServer() {
  const { getIronSession } = await import('iron-session');
  const options = { password: SECRET, cookieName: 'sid', cookieOptions: { secure: false } };
  return createServer(async (req, res) => {
    try {
      const session = await getIronSession(req, res, options);
      const n = session.n ?? 0;
      if (req.url === '/read') return text(res, String(n));
      session.n = n + 1;
      await session.save();
      text(res, String(n + 1));
    } catch {
      // Counted with the events, as for the other servers; answered 500 without a stack trace.
      events['answered 500'] = (events['answered 500'] ?? 0) + 1;
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('error');
      }
    }
  });
}

/** A Teller manager on the memory store, its events counted (the framework rows of issue 9). */
async function memoryManager() {
  const { createSessionManager } = await teller('index.js');
  const { createMemoryStore } = await teller('stores/memory.js');
  const manager = createSessionManager({
    store: createMemoryStore({ maxEntries: 5_000_000 }),
    onEvent: (event) => {
      events[event.type] = (events[event.type] ?? 0) + 1;
    },
  });
  cleanups.unshift(() => manager.close());
  return manager;
}

/** An error answer (409, 503) is counted with the events, as tellerServer does; anything else is printed. */
function countError(error) {
  if (typeof error?.status !== 'number') return console.error(error);
  const type = `answered ${error.status}`;
  events[type] = (events[type] ?? 0) + 1;
}

/** Issue 9: Express's hello world, or Express with teller/adapters/express. */
async function expressTellerServer(withTeller) {
  const express = require('express');
  const app = express();
  app.disable('x-powered-by');
  if (!withTeller) {
    app.get('/', (_req, res) => {
      res.type('text/plain').send('hello world');
    });
    return createServer(app);
  }
  const { expressSessions } = await teller('adapters/express.js');
  app.use(expressSessions(await memoryManager(), { onError: countError }));
  app.get('/read', (req, res) => {
    res.type('text/plain').send(String(req.session.get('n') ?? 0));
  });
  app.get('/', (req, res) => {
    const n = (req.session.get('n') ?? 0) + 1;
    req.session.set('n', n);
    res.type('text/plain').send(String(n));
  });
  app.use((error, _req, res, _next) => {
    countError(error);
    if (!res.headersSent)
      res
        .status(error?.status ?? 500)
        .type('text/plain')
        .send('error');
  });
  return createServer(app);
}

/** Issue 9: Fastify's hello world, or Fastify with teller/adapters/fastify. */
async function fastifyTellerServer(withTeller) {
  const Fastify = require('fastify');
  let server;
  const app = Fastify({
    logger: false,
    serverFactory: (handler) => {
      server = createServer(handler);
      return server;
    },
  });
  if (!withTeller) {
    app.get('/', async (_request, reply) => {
      reply.type('text/plain');
      return 'hello world';
    });
  } else {
    const { fastifySessions } = await teller('adapters/fastify.js');
    await app.register(fastifySessions, { manager: await memoryManager(), onError: countError });
    app.get('/read', async (request, reply) => {
      reply.type('text/plain');
      return String(request.session.get('n') ?? 0);
    });
    app.get('/', async (request, reply) => {
      const n = (request.session.get('n') ?? 0) + 1;
      request.session.set('n', n);
      reply.type('text/plain');
      return String(n);
    });
  }
  await app.ready();
  cleanups.unshift(() => app.close());
  return server;
}

/** Issue 9: Hono's hello world on @hono/node-server, or Hono with teller/adapters/hono. */
async function honoTellerServer(withTeller) {
  const { Hono } = await import('hono');
  const { getRequestListener } = await import('@hono/node-server');
  const app = new Hono();
  if (!withTeller) {
    app.get('/', (c) => c.text('hello world'));
  } else {
    const { honoSessions } = await teller('adapters/hono.js');
    app.use(honoSessions(await memoryManager(), { onError: countError }));
    app.get('/read', (c) => c.text(String(c.get('session').get('n') ?? 0)));
    app.get('/', (c) => {
      const session = c.get('session');
      const n = (session.get('n') ?? 0) + 1;
      session.set('n', n);
      return c.text(String(n));
    });
  }
  return createServer(getRequestListener(app.fetch));
}

async function build() {
  switch (kind) {
    case 'bare':
      return createServer((_req, res) => text(res, 'hello world'));
    // Diagnostics (BENCH_HTTP_DIAG=1): the ceiling answering after a few promise hops, as an async
    // middleware does; and Teller's adapter around a handler that never touches the session.
    case 'bare-async':
      return createServer(async (_req, res) => {
        await null;
        await null;
        await null;
        text(res, 'hello world');
      });
    // The ceiling plus 25 us of pure computation per request: how the kernel's share (writev, wake-ups of
    // a less busy client) changes when the server is slower, with no session work at all.
    case 'bare-burn':
      return createServer((_req, res) => {
        const until = performance.now() + 0.025;
        while (performance.now() < until);
        text(res, 'hello world');
      });
    case 'teller-untouched':
      return tellerServer('memory', { touch: false });
    case 'teller-direct':
      return tellerServer('memory', { direct: true });
    case 'teller-memory':
      return tellerServer('memory');
    case 'teller-sqlite':
      return tellerServer('sqlite');
    case 'teller-redis':
      return tellerServer('redis');
    case 'teller-postgres':
      return tellerServer('postgres');
    case 'teller-sealed':
      return tellerServer('sealed');
    case 'iron-session':
      return ironSessionServer();
    case 'express':
    case 'express-redis':
    case 'express-pg':
      return expressServer();
    case 'fastify':
      return fastifyServer();
    case 'express-hello':
    case 'express-teller':
      return expressTellerServer(kind === 'express-teller');
    case 'fastify-hello':
    case 'fastify-teller':
      return fastifyTellerServer(kind === 'fastify-teller');
    case 'hono-hello':
    case 'hono-teller':
      return honoTellerServer(kind === 'hono-teller');
    default:
      throw new TypeError(`unknown server kind ${kind}`);
  }
}

async function shutdown(code) {
  for (const fn of cleanups.splice(0)) {
    try {
      await fn();
    } catch {}
  }
  process.exit(code);
}

let server;
try {
  server = await build();
} catch (error) {
  // A store that cannot be reached or set up: one line for the parent (which shows it), no stack trace.
  await new Promise((sent) => process.send({ type: 'failed', message: `${error?.message ?? error}` }, sent));
  await shutdown(1);
}
server.on('request', () => {
  requests++;
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', port: server.address().port, pid: process.pid, tempDir });
});
process.on('message', (message) => {
  if (message?.type === 'mark') {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    process.send({
      type: 'mark',
      id: message.id,
      cpuUs: cpu.user + cpu.system,
      wallNs: process.hrtime.bigint().toString(),
      requests,
      events: { ...events },
      rss: mem.rss,
      heapUsed: mem.heapUsed,
    });
  } else if (message?.type === 'exit') {
    server.closeAllConnections();
    server.close();
    void shutdown(0);
  }
});
// The parent went away (crash, Ctrl-C): never outlive it.
process.on('disconnect', () => void shutdown(0));
