/**
 * `npm run bench:check`: the regression guard of issue 12. Runs the rows bench/goals.js names (the cookie and
 * jar suites, and the http suite's node:http hello world and Teller+memory servers) `--runs` times (default 3),
 * takes each ratio's median, and fails when one falls more than 15% below the ratio recorded in
 * bench/baseline.json. It prints each goal beside (met or missed), but only the baseline decides the exit code.
 * Timings are noisy: not part of `npm test`; run it with nothing else running, before closing a change.
 *
 *   node bench/check.js [--runs N] [--from a.json,b.json]   check (--from: results files of bench/run.js)
 *   node bench/check.js --update [--runs N] [--from ...]     record the medians as the new baseline
 *
 * Update the baseline only with a closing note saying why (a change that moved a ratio on purpose).
 * Env: BENCH_BASELINE (another baseline file, for tests).
 * Exit codes: 0 every ratio within 15% of its baseline, 1 a regression, 2 a usage error or a missing row.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    `bench:check: ${message}\nusage: node bench/check.js [--update] [--runs N] [--from a.json,...]`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let runs = 3;
let from;
let update = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--update') update = true;
  else if (arg === '--runs') {
    runs = Number(args[++i]);
    if (!Number.isInteger(runs) || runs < 1) usage('--runs takes a positive whole number');
  } else if (arg === '--from') {
    from = args[++i]?.split(',').filter(Boolean);
    if (!from?.length) usage('--from takes one or more results files');
  } else usage(`unknown option ${arg}`);
}

/** One run of the guarded suites: its results file (bench/run.js's JSON). */
function runOnce(dir, n) {
  const out = join(dir, `run-${n}.json`);
  const suites = [...new Set(GOALS.map((g) => g.suite))];
  console.log(`\nbench:check: run ${n} of ${runs} (${suites.join(', ')})`);
  const result = spawnSync(process.execPath, [resolve(here, 'run.js'), ...suites], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_RESULTS: out, BENCH_HTTP_ONLY: 'bare/hello,teller-memory' },
  });
  if (result.status !== 0) usage(`bench/run.js exited with ${result.status ?? result.signal}`);
  return out;
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

let files = from;
let dir;
if (files === undefined) {
  dir = mkdtempSync(join(tmpdir(), 'teller-bench-check-'));
  files = Array.from({ length: runs }, (_, i) => runOnce(dir, i + 1));
}
const ratios = new Map(GOALS.map((g) => [keyOf(g), []]));
for (const file of files) {
  if (!existsSync(file)) usage(`no results file ${file}`);
  for (const row of JSON.parse(readFileSync(file, 'utf8')).rows) ratios.get(keyOf(row))?.push(row.ratio);
}
if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
const missing = GOALS.filter((g) => ratios.get(keyOf(g)).length === 0);
if (missing.length > 0) usage(`no figure for: ${missing.map(keyOf).join('; ')}`);

const medians = GOALS.map((g) => {
  const all = ratios.get(keyOf(g));
  return { ...g, ratio: median(all), all };
});

if (update) {
  const baseline = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    runs: files.length,
    rows: Object.fromEntries(medians.map((m) => [keyOf(m), Number(m.ratio.toFixed(3))])),
  };
  writeFileSync(BASELINE, `${JSON.stringify(baseline, null, 2)}\n`);
  console.log(
    `\nbench:check: wrote ${BASELINE} (medians of ${files.length} runs); say why in the closing note`,
  );
  for (const m of medians) console.log(`  ${m.ratio.toFixed(2)}x  ${keyOf(m)}`);
  process.exit(0);
}

if (!existsSync(BASELINE)) usage(`no baseline ${BASELINE}: record one with --update`);
const baseline = JSON.parse(readFileSync(BASELINE, 'utf8'));
let failed = false;
console.log(
  `\nbench:check: medians of ${files.length} run(s) against ${BASELINE} (${baseline.date}); fails below ${(1 - TOLERANCE) * 100}% of the baseline`,
);
for (const m of medians) {
  const recorded = baseline.rows?.[keyOf(m)];
  if (typeof recorded !== 'number')
    usage(`the baseline has no ratio for ${keyOf(m)}: record one with --update`);
  const floor = recorded * (1 - TOLERANCE);
  const ok = m.ratio >= floor;
  if (!ok) failed = true;
  const goal = `goal ${m.goal.toFixed(2)}x ${m.ratio >= m.goal ? 'met' : 'missed'}`;
  console.log(
    `  ${ok ? 'ok  ' : 'FAIL'}  ${m.ratio.toFixed(2)}x (runs ${m.all.map((r) => r.toFixed(2)).join(' ')}; baseline ${recorded.toFixed(2)}x, floor ${floor.toFixed(2)}x; ${goal})  ${keyOf(m)}`,
  );
}
console.log(
  failed ? '\nbench:check: FAILED (a ratio fell more than 15% below its baseline)' : '\nbench:check: ok',
);
process.exit(failed ? 1 : 0);
