/**
 * `npm run parity`: the long differential run of issue 18, `teller/jar` against Debian's Chromium. Prints, per
 * profile, the agreement rates (set-equal and order-equal Cookie headers, equal stores) and each class of
 * difference with its count and its smallest example. Ends by itself: no new scenario starts after
 * `--minutes`.
 *
 *   --scenarios 5000   how many scenarios
 *   --seed 1           the generator's seed (scenario i of a seed is the same on every run)
 *   --profile rfc,chromium   the jar profiles compared
 *   --minutes 90       the time bound
 *   --no-total-limit   leave out the total-limit scenario (3,750 cookies over 25 sites)
 *   --only 12,40       run only these scenarios, and print their traces
 *   --shrink 30        Chromium re-runs per class to shrink its example (0: none; test/parity/shrink.ts)
 */
import { existsSync } from 'node:fs';
import { CHROMIUM } from './browser.js';
import { describe, type Profile, report } from './compare.js';
import { runParity } from './harness.js';
import { SHRINK_RUNS } from './shrink.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

function positive(name: string, fallback: number): number {
  const v = Number(option(name, String(fallback)));
  if (!Number.isSafeInteger(v) || v < 0) {
    console.error(`parity: --${name} must be a non-negative integer`);
    process.exit(2);
  }
  return v;
}

if (!existsSync(CHROMIUM)) {
  console.error(`parity: Chromium is missing at ${CHROMIUM}`);
  process.exit(2);
}
const scenarios = positive('scenarios', 5000);
const seed = positive('seed', 1);
const minutes = positive('minutes', 90);
const shrinkRuns = positive('shrink', SHRINK_RUNS);
const profiles = option('profile', 'rfc,chromium').split(',') as Profile[];
for (const p of profiles) {
  if (p !== 'rfc' && p !== 'chromium') {
    console.error(`parity: unknown profile ${p}`);
    process.exit(2);
  }
}

console.log(
  `parity: ${scenarios} scenarios, seed ${seed}, profiles ${profiles.join(', ')}, at most ${minutes} minutes`,
);
const only = process.argv.includes('--only') ? option('only', '').split(',').map(Number) : undefined;
const result = await runParity({
  only,
  onTrace: only
    ? (trace) => {
        console.log(`scenario ${trace.scenario.id} (${trace.scenario.kind}):`);
        for (const line of describe(trace.scenario)) console.log(`  ${line}`);
        for (const e of trace.events) {
          if (e.type === 'request')
            console.log(
              `  [${e.step}] ${e.role} ${e.url} ${JSON.stringify(e.context)} Cookie: ${JSON.stringify(e.cookie)}`,
            );
          else if (e.type === 'script')
            console.log(`  [${e.step}] document.cookie ${JSON.stringify(e.value)}`);
          else console.log(`  [${e.step}] restart`);
        }
        for (const c of trace.store) console.log(`  store: ${JSON.stringify(c)}`);
        for (const e of trace.errors) console.log(`  error: ${e}`);
      }
    : undefined,
  scenarios,
  seed,
  profiles,
  deadline: Date.now() + minutes * 60_000,
  totalLimit: !process.argv.includes('--no-total-limit'),
  log: (line) => console.log(`parity: ${line}`),
  shrinkRuns,
});
console.log(
  `parity: ${result.ran} scenarios run, ${result.errors.length} failed steps, ${result.stray} stray requests, ` +
    `${result.dropped} lines not sendable, ${result.launches} browser launches`,
);
for (const e of result.errors.slice(0, 10)) console.log(`  ${e}`);
for (const [profile, tally] of result.tallies) console.log(`\n${report(profile, tally)}`);
