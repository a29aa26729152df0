/**
 * `npm run bench`: Teller and its peers side by side, in one run. Every suite module in SUITES
 * exports `run()` returning rows `{ suite, case, unit, higherIsBetter, teller, peer, peerName }`.
 * Prints a table with the ratio Teller/peer (and, for the rows issue 12 sets a goal for, the goal and whether
 * it is met: bench/goals.js) and writes the same figures to bench/results/latest.json (or BENCH_RESULTS).
 * `node bench/run.js cookie jar` runs only the named suites. Each suite runs in a process of its own: in one
 * process, the codec suite's calls of parseSetCookie left type feedback that de-optimized the jar's calls of the
 * same parser (jar row 1.8x tough-cookie after the codec suite, 3.9x alone, in the same build).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goalOf } from './goals.js';

const SUITES = ['cookie', 'jar', 'http'];
const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const selected = wanted.length > 0 ? SUITES.filter((s) => wanted.includes(s)) : SUITES;

function format(n, unit) {
  if (unit === 'ops/s' || unit === 'req/s') {
    if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
    if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
    return n.toFixed(1);
  }
  if (unit === 'bytes') return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  return `${Number.isInteger(n) ? n : n.toFixed(2)}`;
}

const all = [];
if (selected.length > 1) {
  const dir = mkdtempSync(join(tmpdir(), 'teller-bench-'));
  try {
    for (const name of selected) {
      const file = join(dir, `${name}.json`);
      const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name], {
        stdio: 'inherit',
        env: { ...process.env, BENCH_RESULTS: file },
      });
      if (child.status !== 0) {
        console.error(`bench: the ${name} suite exited with ${child.status ?? child.signal}`);
        process.exit(1);
      }
      all.push(...JSON.parse(readFileSync(file, 'utf8')).rows);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else
  for (const name of selected) {
    let mod;
    try {
      mod = await import(resolve(here, `${name}.js`));
    } catch (error) {
      if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(`bench/${name}.js`))
        continue;
      throw error;
    }
    console.log(`\n# ${name}`);
    const rows = await mod.run();
    for (const r of rows) {
      const ratio = r.higherIsBetter ? r.teller / r.peer : r.peer / r.teller;
      r.ratio = Number(ratio.toFixed(3));
      const goal = goalOf(r);
      if (goal !== undefined) r.goal = Number(goal.goal.toFixed(3));
      all.push(r);
      const met =
        goal === undefined
          ? ''
          : `  goal >= ${goal.goal.toFixed(2)}x (${goal.says}): ${ratio >= goal.goal ? 'MET' : 'MISSED'}`;
      console.log(
        `${r.case.padEnd(58)} teller ${format(r.teller, r.unit).padStart(10)} ${r.unit.padEnd(6)} | ${r.peerName.padEnd(18)} ${format(r.peer, r.unit).padStart(10)} | ${r.ratio.toFixed(2)}x${met}${r.note ? `  (${r.note})` : ''}`,
      );
    }
  }
if (selected.length <= 1)
  console.log('\nratio: Teller/peer, above 1 means Teller is better (for memory and latency: peer/Teller).');

const out = resolve(process.env.BENCH_RESULTS ?? resolve(here, 'results/latest.json'));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, rows: all }, null, 2)}\n`,
);
console.log(`wrote ${out}`);
