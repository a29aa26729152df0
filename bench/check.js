/**
 * `npm run bench:check`: the regression guard of issue 12. Runs the rows bench/goals.js names (the cookie and
 * jar suites, and the http suite's node:http hello world and Teller+memory servers) `--runs` times (default 3),
 * takes each ratio's median, and fails when one falls more than 15% below the ratio recorded in
 * bench/baseline.json. It prints each goal beside (met or missed), but only the baseline decides the exit code.
 * Timings are noisy: not part of `npm test`; run it with nothing else running, before closing a change.
 *
 *   node bench/check.js [--runs N] [--from a.json,b.json]   check (--from: results files of bench/run.js)
 *   node bench/check.js --update [--runs N] [--from ...]     record the medians as the new baseline
 *   node bench/check.js --against <rev|baseline> [--runs N]    compare with another commit run beside this one
 *   node bench/check.js --from a.json,... --against-from c.json,...   the same from results files
 *
 * Why `--against`: the ratios to a peer or to the ceiling move between machines and days, not only between
 * builds. On 2026-12-03 the commit the baseline was recorded from (e6735cf: only review edits after it)
 * measured own/first/shared 0.50/0.41/0.41x against its own recorded 0.62/0.55/0.61x, alone, medians of 3: the
 * plain check failed on unchanged code. `--against <rev>` builds `<rev>` in a temporary git worktree (node_modules
 * linked, `npm run build`), runs its bench and this one's alternately (`--runs` each), and fails when a ratio here
 * falls more than 15% below the other commit's median in the same session; `--against baseline` takes the
 * commit bench/baseline.json was recorded at (`--update` records it).
 *
 * Update the baseline only with a closing note saying why (a change that moved a ratio on purpose).
 * Env: BENCH_BASELINE (another baseline file, for tests).
 * Exit codes: 0 every ratio within 15% of its baseline, 1 a regression, 2 a usage error or a missing row.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GOALS, keyOf } from './goals.js';

const here = dirname(fileURLToPath(import.meta.url));
const BASELINE = resolve(process.env.BENCH_BASELINE ?? resolve(here, 'baseline.json'));
/** A ratio may fall this far below its baseline before the guard fails. */
const TOLERANCE = 0.15;

function usage(message) {
  console.error(
    `bench:check: ${message}\nusage: node bench/check.js [--update] [--runs N] [--from a.json,...] [--against <rev|baseline> | --against-from c.json,...]`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let runs = 3;
let from;
let update = false;
let against;
let againstFrom;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--update') update = true;
  else if (arg === '--runs') {
    runs = Number(args[++i]);
    if (!Number.isInteger(runs) || runs < 1) usage('--runs takes a positive whole number');
  } else if (arg === '--from') {
    from = args[++i]?.split(',').filter(Boolean);
    if (!from?.length) usage('--from takes one or more results files');
  } else if (arg === '--against') {
    against = args[++i];
    if (!against) usage('--against takes a commit (or `baseline`)');
  } else if (arg === '--against-from') {
    againstFrom = args[++i]?.split(',').filter(Boolean);
    if (!againstFrom?.length) usage('--against-from takes one or more results files');
  } else usage(`unknown option ${arg}`);
}

if (update && (against !== undefined || againstFrom !== undefined))
  usage('--update records this build alone: leave out --against');

/** One run of the guarded suites (of the tree at `root`, this one by default): its results file. */
function runOnce(dir, n, root = resolve(here, '..'), label = 'this build') {
  const out = join(dir, `run-${n}-${label === 'this build' ? 'here' : 'other'}.json`);
  const suites = [...new Set(GOALS.map((g) => g.suite))];
  console.log(`\nbench:check: run ${n} of ${runs}, ${label} (${suites.join(', ')})`);
  const result = spawnSync(process.execPath, [join(root, 'bench/run.js'), ...suites], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, BENCH_RESULTS: out, BENCH_HTTP_ONLY: 'bare/hello,teller-memory' },
  });
  if (result.status !== 0) usage(`bench/run.js exited with ${result.status ?? result.signal}`);
  return out;
}

/** `git` in this repository; its output, or a usage error with git's message. */
function git(...gitArgs) {
  const result = spawnSync('git', gitArgs, { cwd: resolve(here, '..'), encoding: 'utf8' });
  if (result.status !== 0) usage(`git ${gitArgs.join(' ')}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** The other commit checked out and built in a temporary worktree (node_modules linked): its root. */
function buildOther(rev, dir) {
  const root = join(dir, 'other');
  git('worktree', 'add', '--detach', root, rev);
  // Removed on every way out (usage() exits the process, past any finally).
  process.once('exit', () => {
    spawnSync('git', ['worktree', 'remove', '--force', root], { cwd: resolve(here, '..') });
    rmSync(dir, { recursive: true, force: true });
  });
  symlinkSync(resolve(here, '../node_modules'), join(root, 'node_modules'), 'dir');
  // The benches read ../shared (the conformance data) from the repository's root.
  const shared = resolve(here, '../../shared');
  if (existsSync(shared)) symlinkSync(shared, join(dir, 'shared'), 'dir');
  console.log(`bench:check: building ${rev} in ${root}`);
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) usage(`npm run build of ${rev} exited with ${built.status ?? built.signal}`);
  return root;
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** Each guarded row's median ratio over the results files (a usage error when one has no figure). */
function mediansOf(resultFiles) {
  const ratios = new Map(GOALS.map((g) => [keyOf(g), []]));
  for (const file of resultFiles) {
    if (!existsSync(file)) usage(`no results file ${file}`);
    for (const row of JSON.parse(readFileSync(file, 'utf8')).rows) ratios.get(keyOf(row))?.push(row.ratio);
  }
  const missing = GOALS.filter((g) => ratios.get(keyOf(g)).length === 0);
  if (missing.length > 0) usage(`no figure for: ${missing.map(keyOf).join('; ')}`);
  return GOALS.map((g) => {
    const all = ratios.get(keyOf(g));
    return { ...g, ratio: median(all), all };
  });
}

let files = from;
let otherFiles = againstFrom;
let dir;
let otherRoot;
if (against === 'baseline') {
  const recordedAt = existsSync(BASELINE) ? JSON.parse(readFileSync(BASELINE, 'utf8')).commit : undefined;
  if (typeof recordedAt !== 'string') usage(`${BASELINE} names no commit: give one to --against`);
  against = recordedAt;
}
let medians;
let otherMedians;
try {
  if (files === undefined || (against !== undefined && otherFiles === undefined)) {
    dir = mkdtempSync(join(tmpdir(), 'teller-bench-check-'));
    if (against !== undefined && otherFiles === undefined) otherRoot = buildOther(against, dir);
    const mine = [];
    const other = [];
    // Alternately, so that a slow or fast spell of the machine falls on both sides.
    for (let n = 1; n <= runs; n++) {
      if (files === undefined) mine.push(runOnce(dir, n));
      if (otherRoot !== undefined) other.push(runOnce(dir, n, otherRoot, against));
    }
    files ??= mine;
    otherFiles ??= other;
  }
  medians = mediansOf(files);
  otherMedians = otherFiles === undefined ? undefined : mediansOf(otherFiles);
} finally {
  if (otherRoot === undefined && dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

if (update) {
  const baseline = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    runs: files.length,
    commit: git('rev-parse', 'HEAD'),
    rows: Object.fromEntries(medians.map((m) => [keyOf(m), Number(m.ratio.toFixed(3))])),
  };
  writeFileSync(BASELINE, `${JSON.stringify(baseline, null, 2)}\n`);
  console.log(
    `\nbench:check: wrote ${BASELINE} (medians of ${files.length} runs); say why in the closing note`,
  );
  for (const m of medians) console.log(`  ${m.ratio.toFixed(2)}x  ${keyOf(m)}`);
  process.exit(0);
}

let reference;
let failed = false;
if (otherMedians !== undefined) {
  reference = new Map(otherMedians.map((m) => [keyOf(m), m.ratio]));
  console.log(
    `\nbench:check: medians of ${files.length} run(s) against ${against ?? 'the other results'} run beside them (${otherFiles.length} run(s)); fails below ${(1 - TOLERANCE) * 100}% of it`,
  );
} else {
  if (!existsSync(BASELINE)) usage(`no baseline ${BASELINE}: record one with --update`);
  const baseline = JSON.parse(readFileSync(BASELINE, 'utf8'));
  reference = new Map(Object.entries(baseline.rows ?? {}));
  console.log(
    `\nbench:check: medians of ${files.length} run(s) against ${BASELINE} (${baseline.date}); fails below ${(1 - TOLERANCE) * 100}% of the baseline`,
  );
}
for (const m of medians) {
  const recorded = reference.get(keyOf(m));
  if (typeof recorded !== 'number')
    usage(`the baseline has no ratio for ${keyOf(m)}: record one with --update`);
  const floor = recorded * (1 - TOLERANCE);
  const ok = m.ratio >= floor;
  if (!ok) failed = true;
  const goal = `goal ${m.goal.toFixed(2)}x ${m.ratio >= m.goal ? 'met' : 'missed'}`;
  console.log(
    `  ${ok ? 'ok  ' : 'FAIL'}  ${m.ratio.toFixed(2)}x (runs ${m.all.map((r) => r.toFixed(2)).join(' ')}; ${otherMedians === undefined ? 'baseline' : (against ?? 'other')} ${recorded.toFixed(2)}x, floor ${floor.toFixed(2)}x; ${goal})  ${keyOf(m)}`,
  );
}
console.log(
  failed ? '\nbench:check: FAILED (a ratio fell more than 15% below its baseline)' : '\nbench:check: ok',
);
if (failed && otherMedians === undefined)
  console.log(
    'bench:check: ratios move between machines and days: `--against baseline` runs the baseline commit beside this build, to tell the machine from the code',
  );
process.exit(failed ? 1 : 0);
