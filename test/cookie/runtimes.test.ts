/**
 * The cookie conformance data (../shared/conformance: the IETF date and parser cases, the signature vectors,
 * the three web-platform-tests files) on Bun and Deno (issue 9), against the BUILT package (`npm test` builds
 * first): test/fixtures/runtimes/conformance.mjs runs every set as the Node suites do
 * (./conformance.test.ts, ../jar/conformance.test.ts) and counts. It runs here on Node first; each runtime
 * must give exactly Node's answer, set by set: the same totals, the same passes, the same failing cases (only
 * the ones test/support/conformance.ts justifies).
 *
 * Deno may read only the conformance directory (test/support/runtimes.ts). A runtime that does
 * not run here skips with a warning; under CI (`CI` set) the file fails instead.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { WPT_CASES_EXPECTED_FAILURES, WPT_HTTP_STATE_EXPECTED_FAILURES } from '../support/conformance.js';
import { type RunResult, type RuntimeName, runScript, runtimeHere } from '../support/runtimes.js';
import { SHARED } from '../support/shared.js';

const CONFORMANCE = join(SHARED, 'conformance');
/** A run takes about a second; a loaded machine (and a runtime's first start) gets much more. */
const RUN_TIMEOUT_MS = 60_000;

interface SetResult {
  set: string;
  total: number;
  passed: number;
  failing: string[];
}

/** The sets and their counts, as the Node suites check them from the sources. */
const EXPECTED: Array<Omit<SetResult, 'passed'>> = [
  { set: 'ietf dates', total: 70, failing: [] },
  { set: 'signature vectors', total: 10, failing: [] },
  { set: 'ietf parser', total: 222, failing: [] },
  { set: 'wpt cookies', total: 875, failing: Object.keys(WPT_CASES_EXPECTED_FAILURES) },
  { set: 'wpt recent', total: 45, failing: [] },
  { set: 'wpt http-state', total: 90, failing: Object.keys(WPT_HTTP_STATE_EXPECTED_FAILURES) },
];

/** The sets a run counted (its last stdout line); fails with what it wrote when it did not end well. */
function setsOf(runtime: RuntimeName, run: RunResult): SetResult[] {
  expect(run.code, `${runtime} exited with ${run.code ?? run.signal}: ${run.stderr}`).toBe(0);
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  const { runtime: what, sets } = JSON.parse(line) as { runtime: string; sets: SetResult[] };
  expect(what.split(' ')[0]).toBe(runtime);
  for (const { set, total, passed } of sets) console.log(`${what}: ${set}: ${passed}/${total}`);
  return sets;
}

const conformance = (runtime: RuntimeName) =>
  runScript(runtime, 'conformance.mjs', [CONFORMANCE], { read: [CONFORMANCE] }, RUN_TIMEOUT_MS);

let onNode: SetResult[] = [];
beforeAll(async () => {
  onNode = setsOf('node', await conformance('node'));
});

describe('conformance data on Node, from the built package', () => {
  it('counts what the Node suites check from the sources', () => {
    expect(onNode).toEqual(EXPECTED.map((e) => ({ ...e, passed: e.total - e.failing.length })));
  });
});

for (const runtime of ['bun', 'deno'] as const) {
  const here = await runtimeHere(runtime);
  describe.skipIf(!here)(`conformance data on ${runtime}`, () => {
    it("gives Node's answer, set by set: totals, passes and failing cases", async () => {
      const sets = setsOf(runtime, await conformance(runtime));
      expect(sets).toEqual(onNode);
      expect(sets.map((s) => s.set)).toEqual(EXPECTED.map((e) => e.set));
    });
  });
}
