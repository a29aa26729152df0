/**
 * `npm run fuzz`: every target of issue 11 on FUZZ_RUNS generated inputs, then the growth of CPU time
 * from n to 10n on the hand-made families and the worst inputs found. Prints inputs, time and ratios
 * per target; exits 1 when a property fails or a ratio exceeds FUZZ_MAX_RATIO.
 *
 * The default is issue 11's count, 1,000,000 inputs per target: about 18 minutes on the 2-core development
 * machine while other work ran; `FUZZ_RUNS=100000` for a quicker pass.
 *
 *   FUZZ_RUNS=1000000     inputs per target
 *   FUZZ_SEED=123         replay a run (each target's seed is printed)
 *   FUZZ_TARGETS=jar,seal only the targets whose names contain one of these
 *   FUZZ_MAX_RATIO=20     the bound on time(10n) / time(n): linear is 10, a margin for a shared machine
 */
import { fuzz, fuzzSeed, growth, worstTexts } from './harness.js';
import { TARGETS } from './targets.js';

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replaceAll('_', ''));
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`fuzz: ${name} must be a positive integer, not ${raw}`);
    process.exit(2);
  }
  return value;
}

const runs = intFromEnv('FUZZ_RUNS', 1_000_000);
const maxRatio = intFromEnv('FUZZ_MAX_RATIO', 20);
const only = process.env.FUZZ_TARGETS?.split(',').filter((s) => s !== '');
const targets = TARGETS.filter(
  (t) => !only || only.some((o) => t.name.toLowerCase().includes(o.toLowerCase())),
);

let failed = false;
const t0 = performance.now();
for (const target of targets) {
  const seed = fuzzSeed();
  console.log(
    `\n${target.name}: ${runs.toLocaleString('en')} inputs, seed ${seed} (FUZZ_SEED=${seed} replays it)`,
  );
  let worst: string[] = [];
  try {
    const result = await fuzz(target, runs, seed);
    const rate = Math.round(result.runs / (result.ms / 1000));
    console.log(
      `  ${result.runs.toLocaleString('en')} inputs in ${(result.ms / 1000).toFixed(1)} s (${rate.toLocaleString('en')}/s): the property held, no prototype changed`,
    );
    worst = worstTexts(target, result.worst, 3);
  } catch (error) {
    failed = true;
    console.log(`  FAILED\n${error instanceof Error ? error.message : String(error)}`);
  }
  console.log(`  time(10n) / time(n), CPU time, linear = 10, bound ${maxRatio}:`);
  for (const { family, ratio, reference } of growth(target, worst, maxRatio)) {
    const over = ratio > maxRatio;
    if (over) failed = true;
    const platform =
      reference === undefined ? '' : `  (the platform's least work, same inputs: ${reference.toFixed(1)})`;
    console.log(
      `    ${ratio.toFixed(1).padStart(6)}  ${family}${platform}${over ? `  <- over ${maxRatio}` : ''}`,
    );
  }
}
console.log(
  `\nfuzz: ${targets.length} targets in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${failed ? 'FAILED' : 'ok'}`,
);
process.exit(failed ? 1 : 0);
