/**
 * `npm run bench:check` (bench/check.js), the regression guard of issue 12, on results files made here: it
 * passes within 15% of the baseline, fails below it, and refuses a results file or baseline lacking a row.
 * The figures are made up: this checks the guard, not the speed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GOALS } from '../../bench/goals.js';

const dir = mkdtempSync(join(tmpdir(), 'teller-check-'));
const baseline = join(dir, 'baseline.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A results file whose guarded ratios are each goal times `factor` (`skip`: one row left out). */
function results(name: string, factor: number, skip?: number): string {
  const file = join(dir, name);
  const rows = GOALS.filter((_, i) => i !== skip).map((g) => ({ ...g, ratio: g.goal * factor }));
  writeFileSync(
    file,
    JSON.stringify({ rows: [...rows, { suite: 'x', case: 'unguarded', peerName: 'y', ratio: 0.01 }] }),
  );
  return file;
}

function check(...args: string[]): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, ['bench/check.js', ...args], {
    encoding: 'utf8',
    env: { ...process.env, BENCH_BASELINE: baseline },
  });
  return { status: run.status, out: run.stdout + run.stderr };
}

describe('npm run bench:check', () => {
  it('records the medians as the baseline, passes within 15% of it, fails below', () => {
    const runs = [results('a.json', 1), results('b.json', 1.2), results('c.json', 0.5)];
    expect(check('--update', '--from', runs.join(',')).status).toBe(0);
    const recorded = JSON.parse(readFileSync(baseline, 'utf8')).rows as Record<string, number>;
    expect(Object.keys(recorded)).toHaveLength(GOALS.length);
    // The median of 1, 1.2 and 0.5 times the goal.
    for (const g of GOALS) expect(recorded[`${g.suite} | ${g.case} | ${g.peerName}`]).toBeCloseTo(g.goal, 2);

    const within = check('--from', results('d.json', 0.9));
    expect(within.status, within.out).toBe(0);
    expect(within.out).toMatch(/bench:check: ok/);
    const below = check('--from', results('e.json', 0.8));
    expect(below.status, below.out).toBe(1);
    expect(below.out.match(/^ {2}FAIL/gm)).toHaveLength(GOALS.length);
  });

  it("--against-from: compares with another build's results taken beside these, not the baseline file", () => {
    // Far below the baseline recorded above (a slower machine), but within 15% of the other build run beside.
    const mine = [results('g.json', 0.5), results('h.json', 0.52)].join(',');
    expect(check('--from', mine).status).toBe(1);
    const beside = check('--from', mine, '--against-from', results('i.json', 0.55));
    expect(beside.status, beside.out).toBe(0);
    expect(beside.out).toMatch(/run beside them/);
    const slower = check('--from', mine, '--against-from', results('j.json', 0.7));
    expect(slower.status, slower.out).toBe(1);
    expect(slower.out.match(/^ {2}FAIL/gm)).toHaveLength(GOALS.length);
    expect(check('--update', '--from', mine, '--against-from', results('k.json', 1)).status).toBe(2);
  });

  it('--update records the commit, which --against baseline then names', () => {
    expect(check('--update', '--from', results('l.json', 1)).status).toBe(0);
    expect(JSON.parse(readFileSync(baseline, 'utf8')).commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('refuses a results file without one of the guarded rows', () => {
    const run = check('--from', results('f.json', 1, 0));
    expect(run.status).toBe(2);
    expect(run.out).toContain(GOALS[0]!.case);
  });
});
