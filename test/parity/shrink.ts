/**
 * Example shrinking for `npm run parity` (issue 18): the example of a class of difference, made smaller while
 * the difference stays. Each candidate (the scenario without one step, then without one Set-Cookie line) is run
 * again in Chromium and replayed through the jar: a candidate is kept only when the new trace still shows the
 * same class, so the printed example is one Chromium really answered that way (the jar side alone cannot say
 * what Chromium would send without a line). One greedy pass: steps from the last to the first, then each
 * step's lines, at most `maxRuns` browser runs per class.
 */
import type { ParityBrowser } from './browser.js';
import { compareTrace, type Difference, emptyTally, type Profile } from './compare.js';
import type { Scenario, Step } from './generator.js';

/** Browser runs per class, at most (each is one scenario run: a few page loads). */
export const SHRINK_RUNS = 30;

export interface Shrunk {
  /** The smallest example found (the original when nothing could go). */
  example: Difference;
  /** Browser runs spent. */
  runs: number;
}

function withoutStep(s: Scenario, i: number): Scenario {
  return { ...s, steps: s.steps.filter((_, k) => k !== i) };
}

function withoutLine(s: Scenario, i: number, j: number): Scenario {
  const steps: Step[] = s.steps.map((st, k) =>
    k === i && st.kind === 'request' ? { ...st, lines: st.lines.filter((_, m) => m !== j) } : st,
  );
  return { ...s, steps };
}

/**
 * Shrinks `example` of class `cls` for `profile`. Limit scenarios (hundreds of lines, a class that is about
 * their number) are left as they are. `stop` is checked before each run (a time bound).
 */
export async function shrinkExample(
  browser: ParityBrowser,
  profile: Profile,
  cls: string,
  example: Difference,
  maxRuns = SHRINK_RUNS,
  stop: () => boolean = () => false,
): Promise<Shrunk> {
  let best = example;
  let runs = 0;
  if (example.scenario.kind === 'limit' || example.scenario.kind === 'total-limit') return { example, runs };
  /** Runs `candidate`; its difference of class `cls`, or undefined when the class went away. */
  const still = async (candidate: Scenario): Promise<Difference | undefined> => {
    runs++;
    const trace = await browser.run(candidate);
    // A step that failed in Chromium makes the candidate's answer unreliable: not kept.
    if (trace.errors.length > 0) return undefined;
    const tally = emptyTally();
    compareTrace(trace, profile, tally);
    return tally.differences.get(cls)?.example;
  };
  const budgetLeft = () => runs < maxRuns && !stop();
  // Whole steps, last first (removing step i leaves the indices below it as they were).
  for (let i = best.scenario.steps.length - 1; i >= 0 && budgetLeft(); i--) {
    if (best.scenario.steps.length === 1) break;
    const found = await still(withoutStep(best.scenario, i));
    if (found !== undefined) best = found;
  }
  // Then single Set-Cookie lines of the steps left.
  for (let i = best.scenario.steps.length - 1; i >= 0 && budgetLeft(); i--) {
    const step = best.scenario.steps[i]!;
    if (step.kind !== 'request') continue;
    for (let j = step.lines.length - 1; j >= 0 && budgetLeft(); j--) {
      const found = await still(withoutLine(best.scenario, i, j));
      if (found !== undefined) best = found;
    }
  }
  return { example: best, runs };
}
