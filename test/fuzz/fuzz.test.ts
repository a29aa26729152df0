/**
 * The short fuzz run of `npm test` (issue 11): each target on a few thousand generated inputs from a
 * printed seed (FUZZ_SEED=<seed> replays a failure; FUZZ_TEST_RUNS changes the count), then the growth
 * of its CPU time from n to 10n under a generous bound (the machine may be busy: `npm run fuzz` holds
 * the strict one). A quadratic step gives about 100.
 */
import { describe, expect, it } from 'vitest';
import { fuzz, fuzzSeed, growth, worstTexts } from './harness.js';
import { TARGETS } from './targets.js';

const RUNS = Number(process.env.FUZZ_TEST_RUNS ?? 3000);
const GENEROUS_RATIO = 40;

describe.each(TARGETS)('fuzz $name', (target) => {
  let worst: string[] = [];

  it(`holds its property on ${RUNS} generated inputs, and pollutes no prototype`, async () => {
    const seed = fuzzSeed();
    console.log(`fuzz ${target.name}: ${RUNS} inputs, seed ${seed} (FUZZ_SEED=${seed} replays it)`);
    const result = await fuzz(target, RUNS, seed);
    expect(result.runs).toBe(RUNS);
    worst = worstTexts(target, result.worst, 1);
  }, 120_000);

  it('takes about 10 times as long for 10 times the input (adversarial families, the worst input found)', () => {
    const ratios = growth(target, worst, GENEROUS_RATIO);
    console.log(`fuzz ${target.name}: ${ratios.map((r) => `${r.family} ${r.ratio.toFixed(1)}`).join(', ')}`);
    for (const { family, ratio } of ratios) expect(ratio, family).toBeLessThan(GENEROUS_RATIO);
  }, 120_000);
});
