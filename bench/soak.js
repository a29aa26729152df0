/**
 * `npm run soak` (issue 11): mixed traffic from 1,000 simulated browsers (bench/soak/browsers.js: first visits,
 * logins, cart writes, bursts of concurrent withdrawals, logouts) against 3 app processes
 * (test/fixtures/app-server.mjs on the built package) sharing one store, first Redis, then PostgreSQL, each a
 * server of the soak's own (bench/soak/services.js) that is stopped and started twice during the run. The
 * shared services (6379, 5432) are never used.
 *
 * Each store's run: `--warmup-seconds` of traffic (default 30), then `--minutes` of it with the store stopped
 * at 30% and at 65% of the run and started again `--outage-seconds` later (Redis: SIGKILL, a crash; PostgreSQL:
 * `pg_ctl stop -m fast`); then every browser checks its session once more, and the store is read directly.
 *
 * Then it asserts, and exits 1 when any fails:
 * - every acknowledged write is in the store: each cart item answered 200 is seen by a later check of its
 *   browser's session (or, when a login's answer was lost after it landed, in a record of the store itself);
 *   logins and logouts answered 200 are seen too; each user's balance, read from the store itself, is the
 *   opening balance less 100 per withdrawal answered 200 (and less up to 100 per withdrawal in doubt);
 * - no write answered with an error while the store was down landed (a cart item, a withdrawal, a login or a
 *   logout). A write is in doubt, and may have landed, when it was in flight while the store was stopping (a
 *   killed Redis loses the answers in its socket buffers; a stopping PostgreSQL still commits some) or when its
 *   error came after the apps' store timeout (a timed-out call is not cancelled);
 * - no session belongs to the wrong browser (each shows its browser's own user and only its own cart items);
 * - memory is flat after warm-up: each app process's RSS at the end is within 10% of its RSS at minute 2 of the
 *   run (at 20% of a run shorter than 10 minutes), each the highest of the samples (/proc, one a second) over
 *   the window before it (a tenth of the run, at most 30 s): the heap's sawtooth is not growth; and so is its
 *   live heap (heapUsed + external right after a full collection). The apps run with --expose-gc and collect
 *   fully every 10 s: without that, RSS climbed from about 73 to 100 MB over the first 7 minutes and then stayed
 *   there (both stores, measured) while the live heap stayed at about 11 MB: V8 growing its heap to the size
 *   this allocation rate settles at, not anything kept. The regular collection takes that settling out of the
 *   measure, so RSS growth left in it is growth of what the process holds;
 * - error answers were 503s, and only during the outages (from the stop to `--grace-seconds` after the start),
 *   also during the warm-up;
 * - the apps stayed up, printed no stack trace, and shut down cleanly (SIGTERM: exit code 0).
 * It prints the figures: requests, errors by kind, p50/p99 latency, writes acknowledged and verified, RSS at
 * warm-up and at the end. Latencies on a shared machine are only what they were there: the assertions are about
 * losses and correctness, never speed (so the apps' storeTimeout is 5 s here, not Teller's 1 s: an overloaded
 * machine is not a fault).
 *
 * Options: `--minutes N` (per store; default 10), `--browsers N` (default 1000, at least 1000 unless `--dev`),
 * `--stores redis,postgres`, `--warmup-seconds N` (default 30), `--outage-seconds N` (default 5),
 * `--grace-seconds N` (default 5), `--think-ms N` (a browser's mean pause between actions, default 2500),
 * `--store-timeout-ms N` (the apps' storeTimeout, default 5000), `--no-memory-check` (RSS printed, not judged).
 * `npm run soak:ci` is `--minutes 1 --no-memory-check`: a soak in CI asserts what was lost, not how big the
 * processes grew (in one minute on PostgreSQL the apps are still growing from start-up: 72 -> 86 MB seen).
 * Bounded: a watchdog ends the run (exit 3) past twice its planned length plus 5 minutes; every server and app
 * it started is stopped, and its directories removed, on any exit, Ctrl-C included.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStats, createTraffic, violate, WITHDRAWAL } from './soak/browsers.js';
import { cleanupSync, commandRuns, postgresBin, startPostgres, startRedis } from './soak/services.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = resolve(root, 'test/fixtures/app-server.mjs');
const APPS = 3;
const OPENING = 1_000_000_000;
const MINUTE = 60_000;
/** Seconds between the apps' full collections (and live-heap samples). */
const MEMORY_EVERY_S = 10;

function fail(message) {
  console.error(`[soak] ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = {
    minutes: 10,
    browsers: 1000,
    stores: ['redis', 'postgres'],
    outageSeconds: 5,
    graceSeconds: 5,
    thinkMs: 2500,
    storeTimeoutMs: 5000,
    warmupSeconds: 30,
    dev: false,
    memoryCheck: true,
  };
  const numbers = {
    '--minutes': ['minutes', 0.25, 120],
    '--browsers': ['browsers', 1, 20_000],
    '--outage-seconds': ['outageSeconds', 1, 120],
    '--grace-seconds': ['graceSeconds', 0, 60],
    '--think-ms': ['thinkMs', 10, 60_000],
    '--store-timeout-ms': ['storeTimeoutMs', 100, 60_000],
    '--warmup-seconds': ['warmupSeconds', 0, 600],
  };
  for (let i = 0; i < argv.length; i++) {
    let [arg, value] = argv[i].split(/=(.*)/s);
    if (arg === '--dev') {
      options.dev = true;
      continue;
    }
    if (arg === '--no-memory-check') {
      options.memoryCheck = false;
      continue;
    }
    if (!(arg in numbers) && arg !== '--stores') fail(`unknown option ${arg}`);
    value ??= argv[++i];
    if (value === undefined) fail(`${arg} needs a value`);
    if (arg === '--stores') {
      options.stores = value.split(',');
      if (options.stores.some((s) => s !== 'redis' && s !== 'postgres'))
        fail(`--stores takes redis and postgres (got ${value})`);
      continue;
    }
    const [key, min, max] = numbers[arg];
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) fail(`${arg} must be a number from ${min} to ${max}`);
    options[key] = n;
  }
  if (options.browsers < 1000 && !options.dev) fail('--browsers must be at least 1000 (or add --dev)');
  return options;
}

/** The app processes still running, killed on any exit. */
const children = new Set();
function killChildren() {
  for (const child of children) child.kill('SIGKILL');
}
process.once('exit', () => {
  killChildren();
  cleanupSync();
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`[soak] ${signal}: stopping what the soak started`);
    process.exit(130);
  });
}

/** Starts one app-server child; resolves with { port, child, stderr() } once it listens. */
function startApp(env) {
  const child = spawn(process.execPath, [FIXTURE], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let err = '';
  child.stderr.on('data', (chunk) => {
    err = (err + chunk.toString('utf8')).slice(-20_000);
  });
  return new Promise((resolvePort, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`an app did not listen within 30 s: ${err.trim()}`)),
      30_000,
    );
    child.once('exit', (code) =>
      reject(new Error(`an app exited (${code}) before listening: ${err.trim()}`)),
    );
    child.stdout.on('data', (chunk) => {
      out += chunk.toString('utf8');
      const match = /^listening (\d+)$/m.exec(out);
      if (match === null) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.once('exit', () => children.delete(child));
      resolvePort({ port: Number(match[1]), child, stderr: () => err });
    });
  });
}

/** SIGTERM, then SIGKILL after 10 s: resolves with the exit code or the signal's name. */
function stopApp({ child }) {
  return new Promise((done) => {
    const ended = () => done(child.signalCode ?? child.exitCode);
    if (child.exitCode !== null || child.signalCode !== null) return ended();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      ended();
    });
    child.kill('SIGTERM');
  });
}

/** The resident set size of a process in bytes (Linux /proc), or NaN. */
function rssOf(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? Number.NaN : Number(match[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * The store read straight (not through the apps): the account balances, and the data of every stored record
 * (the store's own layout: Redis hashes `<prefix>s:<key>` with the record's JSON in field `r`; a table's `data`).
 */
async function openStoreReader(kind, env) {
  const { createBank } = await import('../examples/demo/bank.js');
  if (kind === 'redis') {
    const { createRedisStore } = await import('teller/stores/redis');
    const { createClient } = await import('redis');
    const client = createClient({ url: env.REDIS_URL, disableOfflineQueue: true });
    await client.connect();
    const bank = createBank(createRedisStore({ client, prefix: env.REDIS_PREFIX }), {
      opening: () => OPENING,
    });
    async function* data() {
      for await (const keys of client.scanIterator({ MATCH: `${env.REDIS_PREFIX}s:*`, COUNT: 1000 })) {
        for (const key of keys) {
          const json = await client.hGet(key, 'r');
          if (json) yield JSON.parse(json).data;
        }
      }
    }
    return { balance: (user) => bank.balance(user), data, close: () => client.destroy() };
  }
  const { createPostgresStore } = await import('teller/stores/postgres');
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });
  const store = createPostgresStore({ pool, table: env.PG_TABLE, cleanupInterval: 0 });
  const bank = createBank(store, { opening: () => OPENING });
  async function* data() {
    const { rows } = await pool.query(`SELECT data FROM "${env.PG_TABLE}"`);
    for (const row of rows) yield row.data;
  }
  return { balance: (user) => bank.balance(user), data, close: () => pool.end() };
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;

/** One soak of `kind`: the service, the apps, the traffic with two outages, the checks. Returns its report. */
async function soak(kind, options) {
  const runMs = options.minutes * MINUTE;
  const service = kind === 'redis' ? await startRedis() : await startPostgres();
  const tag = `soak_${process.pid}`;
  const env =
    kind === 'redis'
      ? { TELLER_STORE: 'redis', REDIS_URL: service.url, REDIS_CLIENT: 'node-redis', REDIS_PREFIX: `${tag}:` }
      : { TELLER_STORE: 'postgres', DATABASE_URL: service.url, PG_TABLE: tag, PG_APPLICATION_NAME: tag };
  env.BANK_OPENING = String(OPENING);
  env.STORE_TIMEOUT = String(options.storeTimeoutMs);
  // Each app runs with --expose-gc and a full collection every MEMORY_EVERY_S, logging what is live after it
  // (test/fixtures/app-server.mjs, APP_MEMORY_LOG): the live heap is the leak measure, and a collector that
  // runs regularly keeps RSS from climbing while V8 sizes its heap (see the header).
  const memoryDir = mkdtempSync(join(tmpdir(), 'teller-soak-memory-'));
  const memoryLogs = Array.from({ length: APPS }, (_, i) => join(memoryDir, `app-${i}.jsonl`));
  env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim();
  env.APP_MEMORY_SECONDS = String(MEMORY_EVERY_S);
  const appEnv = (i) => ({ ...env, APP_MEMORY_LOG: memoryLogs[i] });
  // One first (it creates the PostgreSQL table), then the others; on a failure, nothing is left running.
  const apps = [];
  try {
    apps.push(await startApp(appEnv(0)));
    apps.push(...(await Promise.all(Array.from({ length: APPS - 1 }, (_, i) => startApp(appEnv(i + 1))))));
  } catch (error) {
    killChildren();
    cleanupSync();
    throw error;
  }

  const stats = createStats();
  const outages = [];
  const graceMs = options.graceSeconds * 1000;
  const users = Math.max(1, Math.floor(options.browsers / 5));
  // The run's clock starts after the warm-up (traffic without outages); its errors are checked all the same.
  const t0 = performance.now() + options.warmupSeconds * 1000;
  const traffic = createTraffic({
    t0,
    apps,
    browsers: options.browsers,
    users,
    outages,
    graceMs,
    thinkMs: options.thinkMs,
    storeTimeoutMs: options.storeTimeoutMs,
    stats,
  });

  const until = t0 + runMs;
  const samples = [];
  const sampler = setInterval(() => {
    samples.push({ at: performance.now() - t0, rss: apps.map((app) => rssOf(app.child.pid)) });
    for (const [i, app] of apps.entries())
      if (app.child.exitCode !== null || app.child.signalCode !== null)
        violate(stats, 'an app process died', `app ${i}: ${app.stderr().trim().split('\n').at(-1)}`);
  }, 1_000);

  // The outages: at 30% and 65% of the run, each `--outage-seconds` long.
  const faults = (async () => {
    for (const at of [0.3, 0.65]) {
      await sleep(t0 + at * runMs - performance.now());
      const outage = { start: performance.now(), down: undefined, end: undefined };
      outages.push(outage);
      await service.stop();
      outage.down = performance.now();
      await sleep(options.outageSeconds * 1000);
      await service.start();
      outage.end = performance.now();
    }
  })();

  let report;
  try {
    await Promise.all([traffic.run(until), faults]);
    clearInterval(sampler);
    await traffic.finalChecks(performance.now() + 60_000);

    const reader = await openStoreReader(kind, env);
    try {
      if (traffic.orphans.length > 0) {
        const held = new Set();
        for await (const text of reader.data()) {
          // A retired record (a login's old key) holds no data.
          const cart = text === '' ? undefined : JSON.parse(text)?.cart;
          if (Array.isArray(cart)) for (const item of cart) held.add(item);
        }
        stats.orphans = { count: traffic.orphans.length, found: 0 };
        for (const { item, seen } of traffic.orphans) {
          if (held.has(item)) {
            stats.orphans.found++;
            if (!seen) stats.writes.cart.verified++;
          } else
            violate(stats, 'an acknowledged cart write is missing', `${item} (its login’s answer was lost)`);
        }
      }
      for (const [u, account] of traffic.accounts.entries()) {
        const balance = await reader.balance(`u${u}`);
        const taken = (OPENING - balance) / WITHDRAWAL;
        if (taken < account.acked)
          violate(
            stats,
            'acknowledged withdrawals are missing',
            `u${u}: ${taken} taken, ${account.acked} answered 200`,
          );
        else if (taken > account.acked + account.maybe)
          violate(
            stats,
            'a withdrawal answered with an error landed',
            `u${u}: ${taken} taken, ${account.acked} answered 200, ${account.maybe} in doubt`,
          );
        else stats.writes.withdrawal.verified += account.acked;
      }
    } finally {
      await reader.close();
    }
  } finally {
    clearInterval(sampler);
    traffic.close();
    report = { apps: apps.map((app) => ({ pid: app.child.pid, stderr: app.stderr() })) };
    report.exits = await Promise.all(apps.map(stopApp));
    cleanupSync();
  }

  // Errors: 503s only, and only from a stop to the grace after the start.
  const windows = outages.map(({ start, end }) => ({
    start,
    end: (end ?? Number.POSITIVE_INFINITY) + graceMs,
  }));
  const byKind = new Map();
  for (const e of stats.errors) {
    const inside = windows.some((w) => e.ended >= w.start && e.started <= w.end);
    const label = `${e.kind}${inside ? '' : ' outside the outages'}`;
    byKind.set(label, (byKind.get(label) ?? 0) + 1);
    if (e.kind !== 503 || !inside)
      violate(
        stats,
        'an error answer that is not a 503 during an outage',
        `${e.kind} for ${e.method} ${e.path} at ${((e.started - t0) / 1000).toFixed(1)} s`,
      );
  }
  for (const [i, app] of report.apps.entries()) {
    if (/^\s+at\s|unhandled/im.test(app.stderr)) violate(stats, 'an app printed a stack trace', `app ${i}`);
  }
  for (const [i, code] of report.exits.entries())
    if (code !== 0) violate(stats, 'an app did not shut down cleanly', `app ${i}: ${code}`);

  // Memory: each app's RSS at warm-up (minute 2, or 20% of a shorter run) and at the end of the traffic, each the
  // highest of the samples (one a second) over the window before it (a tenth of the run, at most 30 s): the
  // heap's sawtooth between collections is not growth, a higher top is.
  const warmAt = Math.min(2 * MINUTE, 0.2 * runMs);
  const windowMs = Math.min(30_000, 0.1 * runMs);
  const last = samples.at(-1);
  const top = (at) => {
    const within = samples.filter((s) => s.at > at - windowMs && s.at <= at);
    return apps.map((_, i) => Math.max(...within.map((s) => s.rss[i])));
  };
  const warm = { at: warmAt, rss: top(warmAt) };
  const end = { at: last.at, rss: top(last.at) };
  const rss = apps.map((_, i) => ({ warm: warm.rss[i], end: end.rss[i] }));
  /** Each app's `end` within 10% of its `warm`, else a violation of kind `what`. */
  const judgeFlat = (what, pairs) => {
    for (const [i, { warm: w, end: e }] of pairs.entries()) {
      if (options.memoryCheck && !(Math.abs(e - w) <= 0.1 * w))
        violate(stats, what, `app ${i}: ${mb(w)} -> ${mb(e)}`);
    }
  };
  judgeFlat('memory is not flat after warm-up', rss);
  // The live heap (heapUsed + external after a full collection) at the warm-up mark and at the end.
  const clockOffset = Date.now() - performance.now();
  const live = memoryLogs.map((file) => {
    const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
    const points = lines
      .map((text) => JSON.parse(text))
      .filter((p) => p.gc)
      .map((p) => ({ at: p.at - clockOffset - t0, bytes: p.heapUsed + p.external }));
    const before = points.filter((p) => p.at <= warmAt).at(-1) ?? points[0];
    return { warm: before?.bytes ?? Number.NaN, end: points.at(-1)?.bytes ?? Number.NaN };
  });
  rmSync(memoryDir, { recursive: true, force: true });
  judgeFlat('the live heap grew after warm-up', live);

  const sorted = Float64Array.from(stats.latencies).sort();
  return {
    kind,
    stats,
    byKind,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    rss,
    live,
    trace: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]
      .map((f) => samples.find((s) => s.at >= f * runMs) ?? last)
      .filter((s) => s !== undefined),
    warmAt: warm.at,
    windowMs,
    endAt: end.at,
    outages: outages.map(({ start, end }) => [(start - t0) / 1000, (end - t0) / 1000]),
  };
}

function print(r, options) {
  const { stats } = r;
  const line = (text) => console.log(`  ${text}`);
  console.log(
    `\n${r.kind}: ${options.browsers} browsers, ${APPS} app processes, ${options.warmupSeconds} s of warm-up, then ${options.minutes} min`,
  );
  line(
    `outages (s into the run, stop -> up again): ${r.outages.map(([a, b]) => `${a.toFixed(1)} -> ${b.toFixed(1)}`).join(', ')}`,
  );
  line(`requests: ${stats.requests}`);
  const errors = [...r.byKind].map(([k, n]) => `${k}: ${n}`).join(', ');
  line(`errors by kind: ${errors === '' ? 'none' : errors}`);
  line(`latency: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
  line('writes (acknowledged / verified; refused while down; in doubt):');
  for (const [kind, w] of Object.entries(stats.writes))
    line(
      `  ${kind.padEnd(10)} ${w.acked} / ${w.verified}; ${w.refused} refused; ${w.maybe} in doubt${w.landed === undefined ? '' : ` (${w.landed} seen landed)`}`,
    );
  if (stats.orphans !== undefined)
    line(
      `cart items left behind by a login whose answer was lost (the store has them under an id the browser never got): ${stats.orphans.found} of ${stats.orphans.count} found in the store`,
    );
  const memory = (what, pairs) =>
    line(
      `${what}: ${pairs.map(({ warm, end }, i) => `app ${i} ${mb(warm)} -> ${mb(end)}`).join(', ')}${options.memoryCheck ? '' : ' (printed, not judged: --no-memory-check)'}`,
    );
  memory(
    `RSS (highest over the ${(r.windowMs / 1000).toFixed(0)} s before) at ${(r.warmAt / 1000).toFixed(0)} s and at ${(r.endAt / 1000).toFixed(0)} s`,
    r.rss,
  );
  memory(
    `live heap after a full collection (heapUsed + external) at ${(r.warmAt / 1000).toFixed(0)} s and at the end`,
    r.live,
  );
  line(
    `RSS through the run (MB, app ${r.rss.map((_, i) => i).join('/')}): ${r.trace
      .map(
        ({ at, rss }) => `${(at / 1000).toFixed(0)} s ${rss.map((x) => (x / 2 ** 20).toFixed(0)).join('/')}`,
      )
      .join(', ')}`,
  );
  if (stats.violations.size === 0) line('PASS: no violation');
  for (const [kind, { count, examples }] of stats.violations)
    line(`FAIL: ${kind}: ${count} (e.g. ${examples.join('; ')})`);
}

const options = parseArgs(process.argv.slice(2));
if (!existsSync(resolve(root, 'dist/index.js'))) fail('dist/ is missing: run `npm run build` first');
const available = {
  redis: () => (commandRuns('redis-server') ? undefined : 'no redis-server on this machine'),
  postgres: () =>
    postgresBin() === undefined ? 'no PostgreSQL binaries under /usr/lib/postgresql' : undefined,
};
const watchdogMs =
  options.stores.length * (options.minutes * MINUTE * 2 + options.warmupSeconds * 1000) + 5 * MINUTE;
setTimeout(() => {
  console.error(`[soak] still running after ${watchdogMs / MINUTE} minutes: stopped`);
  process.exit(3);
}, watchdogMs).unref();

console.log(
  `[soak] ${options.stores.join(' then ')}, ${options.minutes} min each, ${options.browsers} browsers; outages of ${options.outageSeconds} s at 30% and 65%`,
);
let failed = false;
for (const kind of options.stores) {
  const missing = available[kind]();
  if (missing !== undefined) {
    console.error(`[soak] ${kind}: ${missing}`);
    failed = true;
    continue;
  }
  try {
    const report = await soak(kind, options);
    print(report, options);
    if (report.stats.violations.size > 0) failed = true;
  } catch (error) {
    console.error(`[soak] ${kind}: the run failed: ${error?.stack ?? error}`);
    failed = true;
  }
}
console.log(failed ? '\n[soak] FAIL' : '\n[soak] PASS');
process.exit(failed ? 1 : 0);
