/**
 * A fixed in-process workload for instruction counts (valgrind --tool=callgrind), which do not depend on
 * what else runs on the machine, unlike the CPU times of bench/http.js:
 *
 *   node bench/session-cost.js <memory|memory-async|sqlite> <own|shared|first> <requests> [connections=50]
 *
 * Runs the counter route of bench/http/server.js through the manager, with the calls the node adapter makes
 * (load with the request's facts, get, set, commit with status 200), over `connections` concurrent clients:
 * `own` (each its own session), `shared` (all on one session), `first` (no cookie: every request creates a
 * session). A client sends its next request one event-loop turn after its answer, as a socket read would.
 * The store is a SQLite file in a temp directory (WAL, synchronous=NORMAL: the store's own settings), the
 * memory store, or the memory store answering a turn later (`memory-async`, as a store doing I/O would).
 * Prints the requests answered, the counter and the manager's events.
 *
 * Instructions per request: bench/session-instructions.js runs it under callgrind with N and 3N requests and
 * divides the difference by 2N (start-up, warm-up and compilation cancel out); by hand:
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded bench/session-cost.js sqlite own 4000
 * The timeouts are raised so that valgrind's slowness never turns a lock wait or a store call into a timeout.
 * Env: TELLER_DIST (the built package, default ../dist from here).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = resolve(process.env.TELLER_DIST ?? resolve(here, '../dist'));
const teller = (path) => import(pathToFileURL(join(dist, path)).href);

const [kind, mode, requestsText, connectionsText = '50'] = process.argv.slice(2);
const requests = Number(requestsText);
const connections = Number(connectionsText);
const KINDS = ['memory', 'memory-async', 'sqlite'];
if (!KINDS.includes(kind) || !['own', 'shared', 'first'].includes(mode) || !(requests > 0)) {
  console.error(
    `usage: node bench/session-cost.js <${KINDS.join('|')}> <own|shared|first> <requests> [connections]`,
  );
  process.exit(2);
}

const { createSessionManager } = await teller('index.js');
let store;
let dir;
if (kind === 'memory') {
  const { createMemoryStore } = await teller('stores/memory.js');
  store = createMemoryStore({ maxEntries: 5_000_000 });
} else if (kind === 'memory-async') {
  // The memory store answering one turn later, as a store doing I/O does (neither immediate nor settling in
  // its turn): what the manager's handling of such a store costs.
  const { createMemoryStore } = await teller('stores/memory.js');
  const memory = createMemoryStore({ maxEntries: 5_000_000 });
  const later =
    (name) =>
    (...args) =>
      new Promise((resolve, reject) => setImmediate(() => memory[name](...args).then(resolve, reject)));
  store = { ...memory, immediate: false, settlesInTurn: false, get: later('get'), set: later('set') };
} else {
  const { createSqliteStore } = await teller('stores/sqlite.js');
  dir = mkdtempSync(join(tmpdir(), 'teller-cost-'));
  store = createSqliteStore({ filename: join(dir, 'sessions.db') });
}
const events = {};
const manager = createSessionManager({
  store,
  storeTimeout: 60_000,
  lockTimeout: 60_000,
  onEvent: (event) => {
    events[event.type] = (events[event.type] ?? 0) + 1;
  },
});
const context = {
  secure: false,
  host: '127.0.0.1:3000',
  userAgent: 'session-cost',
  ip: '127.0.0.1',
  route: 'GET /',
};
const turn = () => new Promise((done) => setImmediate(done));

/** One request of the counter route; the Cookie header the client keeps. */
async function request(cookie) {
  const session = await manager.load(cookie, context);
  const n = session.get('n') ?? 0;
  session.set('n', n + 1);
  const { setCookie } = await manager.commit(session, { status: 200 });
  return setCookie.length > 0 ? setCookie[0].split(';')[0] : cookie;
}

try {
  const cookies = [];
  if (mode !== 'first') {
    for (let i = 0; i < (mode === 'own' ? connections : 1); i++) cookies.push(await request(undefined));
  }
  let left = requests;
  let answered = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, i) => {
      let cookie = mode === 'own' ? cookies[i] : cookies[0];
      while (left > 0) {
        left--;
        await turn();
        const next = await request(mode === 'first' ? undefined : cookie);
        if (mode !== 'first') cookie = next;
        answered++;
      }
    }),
  );
  const counter = mode === 'shared' ? (await manager.load(cookies[0], context)).get('n') : undefined;
  console.log(JSON.stringify({ kind, mode, connections, answered, counter, events }));
} finally {
  await manager.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}
