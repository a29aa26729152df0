/**
 * One benchmark server, run by bench/http.js as a child process pinned to one core:
 * `node bench/http/server.js <kind>` with kind one of bare, teller-memory, teller-sqlite, express, fastify
 * (and, for diagnostics, bare-async, bare-burn, teller-untouched, teller-direct).
 *
 * Routes: `GET /` is the counter route (reads the session's counter `n`, adds one, answers the new value;
 * the bare server answers "hello world"); `GET /read` answers the counter without changing it.
 * Talks to its parent over IPC only: sends `{ type: 'ready', port, tempDir? }`; answers `{ type: 'mark' }` with its own
 * CPU time, wall clock, memory and the number of requests it received (the bench takes deltas between two
 * marks, so the admin traffic is never counted); `{ type: 'exit' }` closes it (so --cpu-prof is written).
 * Teller is taken from the built package: TELLER_DIST (default ../../dist from this file). BENCH_SLOW=1: the
 * server runs under a tool that slows it down (lock and store timeouts of a minute).
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
 * Teller on node:http. `touch: false`: the handler never uses the session. `direct`: no adapter, the handler
 * calls `manager.load` and `manager.commit` itself and writes the headers the adapter would (what the adapter costs).
 */
async function tellerServer(storeKind, { touch = true, direct = false } = {}) {
  const { createSessionManager } = await teller('index.js');
  const { createNodeSessions } = await teller('adapters/node.js');
  let store;
  if (storeKind === 'memory') {
    const { createMemoryStore } = await teller('stores/memory.js');
    // Above the default cap (100,000): a first-visits run makes more sessions than that, and measures the
    // session path, not a full store's refusals.
    store = createMemoryStore({ maxEntries: 5_000_000 });
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
  const sessions = createNodeSessions(manager);
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

function expressServer() {
  const express = require('express');
  const session = require('express-session');
  const app = express();
  app.disable('x-powered-by');
  // With NODE_ENV=production express-session warns that its MemoryStore is not for production: known, muted.
  const warn = console.warn;
  console.warn = () => {};
  try {
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false }));
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
    case 'express':
      return expressServer();
    case 'fastify':
      return fastifyServer();
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

const server = await build();
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
