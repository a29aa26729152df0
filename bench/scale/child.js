/**
 * One scale run: `node --expose-gc bench/scale/child.js '<json>'` with `{ kind, size, ci, dist, ns, seed }`,
 * started by bench/scale.js, which reads the one JSON line it prints last and removes its namespace after.
 *
 * 1. Loads `size` sessions (bench/scale/population.js; how each store is loaded: bench/scale/stores.js) and
 *    measures what they take: heap bytes per session (memory store, after full collections), bytes on disk
 *    (SQLite: file + WAL after a TRUNCATE checkpoint; PostgreSQL: pg_total_relation_size), or Redis's MEMORY
 *    USAGE of a sample of records.
 * 2. Moves the fake clock past the drop time of the expired 10% (Redis: waits until their ttl of at most a
 *    second passed; Redis drops them itself).
 * 3. Starts the request stream: 2,000 requests a second, each a manager-level request in this process
 *    (`manager.load` with the cookie of a random live session, then `commit`; one in ten changes the session,
 *    so its commit writes); its latency is the time from `load` to `commit` settled (service time: a request
 *    that could not start during a stall is not timed, the event-loop delay shows the stall).
 * 4. Phases, one after another with the stream running, each watched by `monitorEventLoopDelay` (1 ms):
 *    requests alone (the baseline: request p50/p99, and the noise floor of the delay); `purgeExpired` (the
 *    10%); `purgeExpired` again (nothing expired: a cleanup timer's usual tick); `count`; `revokeSessions` of
 *    three users of 1,000 sessions each, one after another; then the write phase: new sessions (first visits
 *    through the manager: load without a cookie, set, commit) at a fixed rate (see WRITES), each paired with
 *    the delete of an existing one, so the store stays at `size`. For the memory store, 50,000 new keys take a
 *    store of 1,000,000 past 2^20 = 1,048,576 keys, where one `Map` would double its table; for SQLite they
 *    write tens of megabytes of WAL, so the phase spans several auto-checkpoints (one per 1,000 pages).
 *
 * Every wait is bounded: a watchdog ends the process after `deadlineMs` with a JSON error line.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Latencies, sleep, startRate, watched } from './drive.js';
import { createPopulation, EXPIRE_AFTER_MS, SESSIONS_PER_REVOKED_USER } from './population.js';
import { openStore, STORE_KINDS } from './stores.js';

const args = JSON.parse(process.argv[2] ?? '{}');
const { kind, size, ci = false, ns = {}, seed = 'scale', deadlineMs = 600_000 } = args;
const dist = resolve(args.dist);
const teller = (path) => import(pathToFileURL(join(dist, path)).href);
const info = STORE_KINDS[kind];
const network = info.service !== undefined;

const REQUEST_RATE = 2_000;
const BASELINE_MS = ci ? 1_000 : 2_000;
/**
 * New sessions in the write phase, and their rate (beside the 2,000 requests a second). In process: 50,000 at
 * 10,000 a second (the CI variant: 20,000). Over the network a store's pool or connection would queue at
 * such rates, and the latencies would be the queue's: 10,000 at 2,000 a second (CI: 5,000).
 */
const WRITES = network ? (ci ? 5_000 : 10_000) : ci ? 20_000 : 50_000;
const WRITE_RATE = network ? 2_000 : 10_000;
const PAUSE_MS = 50;
const TOUCH_INTERVAL_MS = 15 * 60_000;
const HOST = 'bench.local';
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

function print(result) {
  process.stdout.write(`\n${JSON.stringify(result)}\n`);
}

const watchdog = setTimeout(() => {
  print({ kind, size, error: `the run did not end within ${deadlineMs / 1000} s` });
  process.exit(3);
}, deadlineMs);

function settleHeap() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** Bytes per session where the store keeps them (undefined where not measured). */
async function footprint(opened, population) {
  if (kind === 'sqlite') {
    const { createRequire } = await import('node:module');
    const { statSync } = await import('node:fs');
    const Database = createRequire(import.meta.url)('better-sqlite3');
    // A second connection of the bench's own: the checkpoint moves the WAL into the file and empties it. It is
    // busy while the store's checkpoint worker runs one: tried again (bounded) until it went through.
    const db = new Database(opened.filename);
    try {
      for (let tries = 0; tries < 100; tries++) {
        const [{ busy }] = db.pragma('wal_checkpoint(TRUNCATE)');
        if (busy === 0) break;
        await sleep(20);
      }
    } finally {
      db.close();
    }
    const bytes = (path) => {
      try {
        return statSync(path).size;
      } catch {
        return 0;
      }
    };
    const total = bytes(opened.filename) + bytes(`${opened.filename}-wal`);
    return { diskBytesPerSession: total / population.size };
  }
  if (kind === 'postgres') {
    const { rows } = await opened.pool.query('SELECT pg_total_relation_size($1::regclass) AS n', [
      `"${opened.table}"`,
    ]);
    return { diskBytesPerSession: Number(rows[0].n) / population.size };
  }
  if (kind === 'redis' || kind === 'redis-cluster') {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < population.size && n < 200; i += Math.max(1, Math.floor(population.size / 200))) {
      if (population.expired(i)) continue;
      const key = `${ns.redisPrefix}s:${population.keyOf(i)}`;
      const args = ['MEMORY', 'USAGE', key];
      // A cluster client routes a command by the key given first.
      const used = await (kind === 'redis'
        ? opened.client.sendCommand(args)
        : opened.client.sendCommand(key, true, args));
      if (typeof used === 'number') {
        sum += used;
        n++;
      }
    }
    const result = { redisBytesPerRecord: n > 0 ? sum / n : undefined };
    // The user index: one revoked user's sorted set of 1,000 members.
    const index = `${ns.redisPrefix}u:${population.revokeUsers[0]}`;
    const indexArgs = ['MEMORY', 'USAGE', index];
    const indexBytes = await (kind === 'redis'
      ? opened.client.sendCommand(indexArgs)
      : opened.client.sendCommand(index, true, indexArgs));
    if (typeof indexBytes === 'number')
      result.redisIndexBytesPerMember = indexBytes / SESSIONS_PER_REVOKED_USER;
    // The cluster's masters are the bench's own: their whole memory, overheads included, per stored session.
    if (kind === 'redis-cluster' && clusterMemoryBefore !== undefined) {
      result.redisUsedBytesPerSession = ((await clusterMemory()) - clusterMemoryBefore) / population.size;
    }
    return result;
  }
  return {};
}

/** The sum of `used_memory` of the bench's own cluster masters (redis-cli INFO memory). */
async function clusterMemory() {
  const { execFileSync } = await import('node:child_process');
  let used = 0;
  for (const port of ns.clusterPorts) {
    const info = execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'INFO', 'memory'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    used += Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  }
  return used;
}
let clusterMemoryBefore;

async function main() {
  const { createSessionManager, storeKeyOf } = await teller('index.js');
  let now = Date.now();
  const clock = info.clock === 'fake' ? () => now : Date.now;
  const population = createPopulation(size, seed, storeKeyOf, { realClock: info.clock === 'real' });
  const opened = await openStore(kind, { dist, ns, clock });
  const events = {};
  const manager = createSessionManager({
    store: opened.store,
    clock,
    // No touch while a run lasts (every session was last seen when loaded): a read stays a read, and the
    // stream's writes are the one request in ten that changes its session, at every size alike.
    touchInterval: TOUCH_INTERVAL_MS,
    onEvent: (event) => {
      events[event.type] = (events[event.type] ?? 0) + 1;
    },
  });
  const result = { kind, size, ci };
  try {
    // 1. Load, and what the sessions take.
    const heapBefore = kind === 'memory' ? settleHeap() : 0;
    if (kind === 'redis-cluster') clusterMemoryBefore = await clusterMemory();
    const loadStarted = performance.now();
    await opened.load(population);
    result.loadMs = performance.now() - loadStarted;
    if (kind === 'memory') result.heapBytesPerSession = (settleHeap() - heapBefore) / size;
    Object.assign(result, await footprint(opened, population));
    // The loading's garbage collected now, so that no phase pays for a collection of the bench's setup.
    settleHeap();

    // 2. The expired 10% past their drop time.
    if (info.clock === 'fake') now += EXPIRE_AFTER_MS;
    else await sleep(1_100);

    // 3. The request stream, its latencies collected per phase.
    const cookieName = manager.cookieName({ secure: false, host: HOST });
    let requests = new Latencies();
    let fresh = 0;
    const stream = startRate(REQUEST_RATE, async () => {
      const i = population.streamPick();
      const cookie = `${cookieName}=${population.idOf(i)}`;
      const write = Math.random() < 0.1;
      const into = requests;
      const started = performance.now();
      const session = await manager.load(cookie, {
        secure: false,
        host: HOST,
        userAgent: UA,
        ip: '10.9.8.7',
      });
      if (session.isNew) fresh++;
      if (write) session.set('n', (session.get('n') ?? 0) + 1);
      await manager.commit(session, { status: 200 });
      into.add((performance.now() - started) * 1000);
    });
    const phases = {};
    const phase = async (name, operation) => {
      requests = new Latencies();
      const watchedResult = await watched(operation);
      phases[name] = {
        ms: watchedResult.ms,
        stallMs: watchedResult.stallMs,
        gcMs: watchedResult.gcMs,
        requests: requests.count,
        requestP99Us: requests.percentile(99),
      };
      await sleep(PAUSE_MS);
      return { ...watchedResult, requests };
    };

    // 4. The phases.
    await sleep(200); // warm-up of the stream
    const baseline = await phase('requests', () => sleep(BASELINE_MS));
    phases.requests.p50Us = baseline.requests.percentile(50);
    phases.requests.p99Us = baseline.requests.percentile(99);

    if (typeof opened.store.purgeExpired === 'function') {
      const purge = await phase('purge', () => opened.store.purgeExpired(clock()));
      phases.purge.removed = purge.value;
      phases.purge.expected = population.expiredCount;
      phases.purge.usPerRow = purge.value > 0 ? (purge.ms * 1000) / purge.value : null;
      const again = await phase('purgeNothing', () => opened.store.purgeExpired(clock()));
      phases.purgeNothing.removed = again.value;
    }

    const count = await phase('count', () => opened.store.count());
    phases.count.value = count.value;

    const revokeMs = [];
    const revoked = [];
    await phase('revoke', async () => {
      for (const user of population.revokeUsers) {
        const started = performance.now();
        revoked.push(await manager.revokeSessions(user));
        revokeMs.push(performance.now() - started);
        await sleep(PAUSE_MS);
      }
    });
    phases.revoke.callsMs = revokeMs;
    phases.revoke.revoked = revoked;
    phases.revoke.medianMs = median(revokeMs);
    phases.revoke.usPerSession = (median(revokeMs) * 1000) / SESSIONS_PER_REVOKED_USER;

    const writes = new Latencies();
    const deletable = population.deletable();
    const made = [];
    let written = 0;
    const writeStats = await phase('writes', async () => {
      const writer = startRate(WRITE_RATE, async () => {
        if (written >= WRITES) return;
        written++;
        const started = performance.now();
        const session = await manager.load(undefined, {
          secure: false,
          host: HOST,
          userAgent: Buffer.from(UA).toString('latin1'),
          ip: `10.200.${(written >> 8) & 255}.${written & 255}`,
        });
        session.set('n', 1);
        const key = session.handle;
        await manager.commit(session, { status: 200 });
        writes.add((performance.now() - started) * 1000);
        made.push(key);
        // One existing session goes for each new one: a live one of the last quarter, then the phase's own oldest.
        const next = deletable.next();
        await opened.store.delete(next.done ? made.shift() : population.keyOf(next.value));
      });
      while (written < WRITES) await sleep(50);
      return writer.stop();
    });
    Object.assign(phases.writes, {
      count: writes.count,
      p50Us: writes.percentile(50),
      p99Us: writes.percentile(99),
      p999Us: writes.percentile(99.9),
      maxUs: writes.percentile(100),
      skipped: writeStats.value.skipped,
      failed: writeStats.value.failed,
      firstError: writeStats.value.firstError,
    });

    const streamStats = await stream.stop();
    result.stream = { ...streamStats, fresh };
    result.phases = phases;
    result.events = events;
  } finally {
    await manager.close().catch(() => {});
    await opened.close().catch(() => {});
  }
  return result;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

main().then(
  (result) => {
    clearTimeout(watchdog);
    print(result);
  },
  (error) => {
    clearTimeout(watchdog);
    print({ kind, size, error: String(error?.stack ?? error).slice(0, 2_000) });
    process.exitCode = 1;
  },
);
