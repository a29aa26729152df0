/**
 * `npm run bench:scale` (issue 17): the cost of upkeep as the number of stored sessions grows, for each store
 * that runs on this machine (memory, SQLite on a temp file, Redis standalone on REDIS_URL, PostgreSQL on
 * DATABASE_URL; Redis Cluster on three masters of its own, bench/scale/cluster.js).
 *
 * Per store and size (10,000, 100,000, 1,000,000 sessions, 10% of them expired): one child process
 * (bench/scale/child.js, which says what it measures and how) loads the sessions, then runs a stream of 2,000
 * manager-level requests a second beside each upkeep operation (purge, purge with nothing expired, count,
 * revoking a user's 1,000 sessions, 50,000 new sessions in process or 10,000 over the network), with Node's
 * `monitorEventLoopDelay` (1 ms) and the GC pauses watched during each. Each figure is the median of `--runs` runs (default 3), runs interleaved across sizes and
 * stores. Then, per store, the ratios largest/smallest size against the goals of the issue, PASS or MISS.
 *
 * Options: `--runs N`; `--sizes 10000,100000` (at least 6,000 each); `--stores memory,sqlite`; `--ci` (the short
 * variant of `.ci/run`: 10,000 and 100,000 sessions, one run, shorter phases; exits 1 on a stall over 250 ms,
 * ten times the goal, or on a run that failed). Env: TELLER_DIST (the built package, default ../dist: a before/
 * after is two builds), REDIS_URL, DATABASE_URL (a service that does not answer skips its store with the
 * reason), BENCH_SCALE_KNOWN (`store/phase,...`: stalls the short variant reports as known, without failing).
 *
 * Bounded: each run ends by itself (its watchdog), and is killed past its deadline; its namespace (temp
 * directory, Redis key prefix, PostgreSQL table) is removed after it, also when it was killed or on Ctrl-C,
 * and the whole run's namespace is swept at the end. Never FLUSHALL/FLUSHDB, never a server stopped.
 *
 * The figures mean something only on a machine with nothing else running: the header prints the load average.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServices } from './http/services.js';
import { clusterUnavailable, startCluster } from './scale/cluster.js';
import { STORE_KINDS } from './scale/stores.js';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.env.TELLER_DIST ?? resolve(here, '../dist'));
const GOAL_STALL_MS = 20;
/** The short variant's limit (the issue's): about ten times the goal, so noise never reaches it. */
const CI_STALL_MS = 250;
const MIN_SIZE = 6_000;
/**
 * `store/phase` pairs (e.g. `sqlite/purge`) whose stalls over the CI limit are printed as KNOWN instead of
 * failing the short variant: a known problem with its fix on the way, said out loud where CI sets it.
 */
const KNOWN = new Set((process.env.BENCH_SCALE_KNOWN ?? '').split(',').filter(Boolean));

function fail(message) {
  console.error(`[bench] [scale] ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = {
    runs: 3,
    sizes: [10_000, 100_000, 1_000_000],
    stores: ['memory', 'sqlite', 'redis', 'postgres', 'redis-cluster'],
    ci: false,
  };
  let sizesGiven = false;
  let runsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) fail(`${arg} needs a value`);
      return next;
    };
    if (arg === '--ci') options.ci = true;
    else if (arg === '--runs') {
      options.runs = Number(value());
      runsGiven = true;
      if (!Number.isInteger(options.runs) || options.runs < 1 || options.runs > 9)
        fail('--runs must be a whole number from 1 to 9');
    } else if (arg === '--sizes') {
      const text = value();
      options.sizes = text.split(',').map((part) => Number(part.replaceAll('_', '')));
      sizesGiven = true;
      if (options.sizes.some((n) => !Number.isInteger(n) || n < MIN_SIZE || n > 5_000_000))
        fail(`--sizes must be whole numbers from ${MIN_SIZE} to 5000000, comma-separated (got ${text})`);
      options.sizes = [...new Set(options.sizes)].sort((a, b) => a - b);
    } else if (arg === '--stores') {
      const text = value();
      options.stores = text.split(',').filter(Boolean);
      const unknown = options.stores.filter((name) => !(name in STORE_KINDS));
      if (unknown.length > 0 || options.stores.length === 0)
        fail(`--stores takes names among ${Object.keys(STORE_KINDS).join(', ')} (got ${text})`);
    } else fail(`unknown argument ${arg} (options: --runs N, --sizes a,b, --stores x,y, --ci)`);
  }
  if (options.ci) {
    if (!sizesGiven) options.sizes = [10_000, 100_000];
    if (!runsGiven) options.runs = 1;
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
if (!existsSync(join(dist, 'index.js')))
  fail(`no built package in ${dist}: run npm run build (npm run bench:scale does), or set TELLER_DIST`);

/** What the run has running, so Ctrl-C and errors stop and remove it; `stopping`: start nothing more. */
const live = { child: undefined, cleanup: undefined, stopping: false, cluster: undefined };
const services = createServices();

async function stopAll() {
  live.stopping = true;
  if (live.child && live.child.exitCode === null) live.child.kill('SIGKILL');
  await live.cleanup?.().catch(() => {});
  await services.close().catch(() => {});
  await live.cluster?.stop().catch(() => {});
}
process.once('SIGINT', () => {
  console.log('\n[bench] [scale] interrupted: stopping the run and removing its data');
  stopAll().finally(() => process.exit(130));
});
// Whatever ends this process, a child still running goes with it.
process.once('exit', () => {
  if (live.child && live.child.exitCode === null) live.child.kill('SIGKILL');
});

/** A namespace for one run of `kind`: what the child gets as `ns`, and its cleanup. */
async function namespaceFor(kind) {
  const service = STORE_KINDS[kind].service;
  if (service === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'teller-scale-'));
    return { ns: { dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (service === 'redis-cluster') {
    // The bench's own nodes: emptied after each run.
    live.cluster ??= await startCluster();
    const cluster = live.cluster;
    return {
      ns: { clusterPorts: cluster.ports, redisPrefix: 'teller-bench:' },
      cleanup: async () => void (await cluster.flush()),
    };
  }
  const made = await services.namespace(service === 'redis' ? 'teller-redis' : 'teller-postgres');
  const ns =
    service === 'redis'
      ? { redisUrl: made.env.BENCH_REDIS_URL, redisPrefix: made.env.BENCH_REDIS_PREFIX }
      : { pgUrl: made.env.BENCH_PG_URL, pgTable: made.env.BENCH_PG_TABLE };
  return { ns, cleanup: () => made.cleanup() };
}

/** One child run; resolves with its JSON result (or `{ error }`). */
function runOne(kind, size, ns) {
  const deadlineMs = Math.round(60_000 + size * (STORE_KINDS[kind].service ? 0.5 : 0.25));
  const payload = JSON.stringify({ kind, size, ci: options.ci, dist, ns, seed: `scale-${size}`, deadlineMs });
  if (live.stopping) return Promise.resolve({ kind, size, error: 'stopped (interrupted)' });
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--expose-gc', join(here, 'scale/child.js'), payload], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.child = child;
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    // The child's own watchdog ends it at deadlineMs; this is the backstop.
    const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs + 15_000);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      live.child = undefined;
      const line = out.trim().split('\n').at(-1);
      try {
        const result = JSON.parse(line);
        if (result.error === undefined && code !== 0) result.error = `exited with ${code}`;
        done(result);
      } catch {
        const why = live.stopping
          ? 'stopped (interrupted)'
          : signal
            ? `killed (${signal}) past its deadline`
            : `exited with ${code}`;
        done({ kind, size, error: `${why}: ${(err || out).trim().slice(-600)}` });
      }
    });
  });
}

// ---- figures --------------------------------------------------------------------------------------------

const median = (values) => {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return v.length === 0 ? undefined : v[Math.floor((v.length - 1) / 2)];
};

/** The figures printed per size: label, getter, unit, and the goal (ratio largest/smallest, stall, or bound). */
const FIGURES = [
  { label: 'load (not a goal)', unit: 's', get: (r) => r.loadMs / 1000 },
  { label: 'purge: total', unit: 'ms', get: (r) => r.phases?.purge?.ms },
  { label: 'purge: per removed row', unit: 'µs', get: (r) => r.phases?.purge?.usPerRow, ratio: 1.5 },
  { label: 'purge: max event-loop delay', unit: 'ms', get: (r) => r.phases?.purge?.stallMs, stall: true },
  { label: 'purge: longest GC pause meanwhile', unit: 'ms', get: (r) => r.phases?.purge?.gcMs },
  { label: 'purge, nothing expired: total', unit: 'ms', get: (r) => r.phases?.purgeNothing?.ms },
  {
    label: 'purge, nothing expired: max delay',
    unit: 'ms',
    get: (r) => r.phases?.purgeNothing?.stallMs,
    stall: true,
  },
  { label: 'count: total', unit: 'ms', get: (r) => r.phases?.count?.ms },
  { label: 'count: max delay', unit: 'ms', get: (r) => r.phases?.count?.stallMs, stall: true },
  { label: 'revoke 1,000 sessions (median call)', unit: 'ms', get: (r) => r.phases?.revoke?.medianMs },
  { label: 'revoke: per session', unit: 'µs', get: (r) => r.phases?.revoke?.usPerSession, ratio: 1.5 },
  { label: 'revoke: max delay', unit: 'ms', get: (r) => r.phases?.revoke?.stallMs, stall: true },
  { label: 'write p50', unit: 'µs', get: (r) => r.phases?.writes?.p50Us },
  { label: 'write p99', unit: 'µs', get: (r) => r.phases?.writes?.p99Us },
  { label: 'write p99.9', unit: 'µs', get: (r) => r.phases?.writes?.p999Us, ratio: 1.5 },
  { label: 'writes: max delay', unit: 'ms', get: (r) => r.phases?.writes?.stallMs, stall: true },
  { label: 'writes: longest GC pause meanwhile', unit: 'ms', get: (r) => r.phases?.writes?.gcMs },
  { label: 'request p50 (requests alone)', unit: 'µs', get: (r) => r.phases?.requests?.p50Us, ratio: 1.3 },
  { label: 'request p99 (requests alone)', unit: 'µs', get: (r) => r.phases?.requests?.p99Us, ratio: 1.3 },
  {
    label: 'requests alone: max delay (noise floor)',
    unit: 'ms',
    get: (r) => r.phases?.requests?.stallMs,
    stall: true,
  },
  { label: 'requests alone: longest GC pause meanwhile', unit: 'ms', get: (r) => r.phases?.requests?.gcMs },
  { label: 'heap per session (memory store)', unit: 'B', get: (r) => r.heapBytesPerSession, atMost: 600 },
  {
    label: 'on disk per session (file+WAL, table+indexes)',
    unit: 'B',
    get: (r) => r.diskBytesPerSession,
    atMost: (kind) => (kind === 'sqlite' ? 430 : undefined),
  },
  { label: 'Redis MEMORY USAGE per record (sample)', unit: 'B', get: (r) => r.redisBytesPerRecord },
  { label: 'Redis user index per member (MEMORY USAGE)', unit: 'B', get: (r) => r.redisIndexBytesPerMember },
  {
    label: "Redis used_memory per session (own cluster's masters)",
    unit: 'B',
    get: (r) => r.redisUsedBytesPerSession,
  },
];

function format(value, unit) {
  if (value === undefined) return '-';
  if (unit === 'B') return `${Math.round(value)}`;
  if (value >= 100) return `${Math.round(value)}`;
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

const sizeLabel = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n));

/** Notes on runs whose figures are suspect (a purge that removed another count, sessions not found...). */
function notesOf(runs) {
  const notes = [];
  for (const r of runs) {
    const where = `${sizeLabel(r.size)}`;
    const purge = r.phases?.purge;
    if (purge && purge.removed !== purge.expected)
      notes.push(`${where}: the purge removed ${purge.removed}, expected ${purge.expected}`);
    const revoked = r.phases?.revoke?.revoked;
    if (revoked?.some((n) => n !== 1_000)) notes.push(`${where}: revoked ${revoked.join('/')}`);
    if (r.stream?.fresh > 0) notes.push(`${where}: ${r.stream.fresh} stream requests found no session`);
    if (r.stream?.failed > 0)
      notes.push(`${where}: ${r.stream.failed} requests failed (${r.stream.firstError})`);
    if (r.phases?.writes?.failed > 0)
      notes.push(`${where}: ${r.phases.writes.failed} writes failed (${r.phases.writes.firstError})`);
  }
  return [...new Set(notes)];
}

function report(kind, bySize) {
  const sizes = options.sizes.filter((size) => (bySize.get(size) ?? []).some((r) => !r.error));
  const lines = [];
  const verdicts = [];
  const medianOf = (figure, size) => median((bySize.get(size) ?? []).filter((r) => !r.error).map(figure.get));
  const small = sizes[0];
  const large = sizes.at(-1);
  const ratioHead = sizes.length > 1 ? `${sizeLabel(large)}/${sizeLabel(small)}` : 'ratio';
  lines.push(
    `${'figure'.padEnd(46)}${sizes.map((s) => sizeLabel(s).padStart(10)).join('')}${ratioHead.padStart(10)}  goal`,
  );
  for (const figure of FIGURES) {
    const values = sizes.map((size) => medianOf(figure, size));
    if (values.every((v) => v === undefined)) continue;
    let ratio = '';
    let goal = '';
    if (figure.ratio && sizes.length > 1 && values[0] > 0 && values.at(-1) !== undefined) {
      const r = values.at(-1) / values[0];
      ratio = `${r.toFixed(2)}x`;
      const pass = r <= figure.ratio;
      goal = `<= ${figure.ratio}x: ${pass ? 'PASS' : 'MISS'}`;
      verdicts.push({ figure: figure.label, pass });
    } else if (figure.stall && values.at(-1) !== undefined) {
      const pass = values.at(-1) <= GOAL_STALL_MS;
      goal = `<= ${GOAL_STALL_MS} ms at ${sizeLabel(large)}: ${pass ? 'PASS' : 'MISS'}`;
      verdicts.push({ figure: figure.label, pass });
    } else if (figure.atMost && values.at(-1) !== undefined) {
      const bound = typeof figure.atMost === 'function' ? figure.atMost(kind) : figure.atMost;
      if (bound !== undefined) {
        const pass = Math.max(...values.filter((v) => v !== undefined)) <= bound;
        goal = `<= ${bound} B: ${pass ? 'PASS' : 'MISS'}`;
        verdicts.push({ figure: figure.label, pass });
      }
    }
    lines.push(
      `${`${figure.label} (${figure.unit})`.padEnd(46)}${values.map((v) => format(v, figure.unit).padStart(10)).join('')}${ratio.padStart(10)}  ${goal}`,
    );
  }
  return { lines, verdicts, sizes };
}

// ---- the run ---------------------------------------------------------------------------------------------

async function main() {
  const started = performance.now();
  console.log(
    `# scale (issue 17) — ${options.ci ? 'short variant (CI)' : 'full'}: sizes ${options.sizes.map(sizeLabel).join(', ')}; ` +
      `${options.runs} run(s) each, figures are medians`,
  );
  console.log(
    `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} ` + `(figures mean something only with nothing else running); package ${dist}`,
  );

  const skipped = new Map();
  for (const kind of options.stores) {
    const info = STORE_KINDS[kind];
    if (info.unavailable) skipped.set(kind, info.unavailable);
    else if (info.service === 'redis-cluster') {
      const why = await clusterUnavailable();
      if (why !== undefined) skipped.set(kind, why);
    } else if (info.service !== undefined) {
      const why = await services.unavailable(info.service === 'redis' ? 'teller-redis' : 'teller-postgres');
      if (why !== undefined) skipped.set(kind, why);
    }
  }
  for (const [kind, why] of skipped) console.log(`skipped ${kind}: ${why}`);
  const kinds = options.stores.filter((kind) => !skipped.has(kind));

  const results = new Map(kinds.map((kind) => [kind, new Map()]));
  for (let run = 1; run <= options.runs; run++) {
    for (const size of options.sizes) {
      for (const kind of kinds) {
        if (live.stopping) return;
        const { ns, cleanup } = await namespaceFor(kind);
        live.cleanup = cleanup;
        const t = performance.now();
        let result;
        try {
          result = await runOne(kind, size, ns);
        } finally {
          await cleanup().catch((error) =>
            console.log(`  (could not remove the ${kind} run's data: ${error?.message ?? error})`),
          );
          live.cleanup = undefined;
        }
        const bySize = results.get(kind);
        if (!bySize.has(size)) bySize.set(size, []);
        bySize.get(size).push(result);
        const stalls = Object.entries(result.phases ?? {})
          .map(([name, p]) => `${name} ${format(p.stallMs, 'ms')}`)
          .join(', ');
        console.log(
          `  run ${run}/${options.runs} ${kind} ${sizeLabel(size)}: ${((performance.now() - t) / 1000).toFixed(1)} s` +
            (result.error ? ` FAILED: ${result.error.split('\n')[0]}` : `; max delay (ms): ${stalls}`),
        );
      }
    }
  }

  let ciFailures = [];
  const ciKnown = [];
  for (const kind of kinds) {
    const bySize = results.get(kind);
    const { lines, verdicts } = report(kind, bySize);
    const all = [...bySize.values()].flat();
    console.log(`\n## ${kind}: ${STORE_KINDS[kind].label}, ${STORE_KINDS[kind].clock} clock`);
    for (const line of lines) console.log(line);
    const passed = verdicts.filter((v) => v.pass).length;
    if (verdicts.length > 0) console.log(`goals: ${passed} of ${verdicts.length} PASS`);
    for (const note of notesOf(all.filter((r) => !r.error))) console.log(`note: ${note}`);
    for (const r of all.filter((r) => r.error)) {
      console.log(`FAILED run at ${sizeLabel(r.size)}: ${r.error}`);
      ciFailures.push(`${kind} ${sizeLabel(r.size)}: the run failed`);
    }
    for (const r of all.filter((r) => !r.error)) {
      for (const [name, p] of Object.entries(r.phases ?? {})) {
        if (!(p.stallMs > CI_STALL_MS)) continue;
        const what = `${kind} ${sizeLabel(r.size)} ${name}: ${p.stallMs.toFixed(0)} ms event-loop delay`;
        if (KNOWN.has(`${kind}/${name}`)) ciKnown.push(what);
        else ciFailures.push(what);
      }
    }
  }
  ciFailures = [...new Set(ciFailures)];

  const out = resolve(here, options.ci ? 'results/scale-ci.json' : 'results/scale-latest.json');
  mkdirSync(dirname(out), { recursive: true });
  const plain = Object.fromEntries(
    [...results].map(([kind, bySize]) => [
      kind,
      Object.fromEntries([...bySize].map(([s, runs]) => [s, runs])),
    ]),
  );
  writeFileSync(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, loadavg: loadavg(), options, skipped: Object.fromEntries(skipped), results: plain }, null, 2)}\n`,
  );
  console.log(
    `\nwrote ${out} (${((performance.now() - started) / 1000).toFixed(0)} s in all; load average now ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')})`,
  );
  if (options.ci) {
    for (const known of ciKnown) console.log(`KNOWN (BENCH_SCALE_KNOWN, not failing): ${known}`);
    if (ciFailures.length > 0) {
      console.log(`\nbench:scale:ci FAILED (a stall over ${CI_STALL_MS} ms, or a run that failed):`);
      for (const failure of ciFailures) console.log(`  ${failure}`);
      process.exitCode = 1;
    } else console.log(`\nbench:scale:ci passed: no event-loop delay over ${CI_STALL_MS} ms`);
  }
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
