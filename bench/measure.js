/**
 * A small, honest micro-benchmark loop: warm up, then several timed rounds of about `roundMs` each,
 * alternating the contenders so drift hits both alike; the median round gives ops/s.
 */

/** Runs `fn` in batches until `ms` have passed; returns calls per second. */
function round(fn, ms) {
  let calls = 0;
  let batch = 1;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(ms * 1e6));
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    elapsed = process.hrtime.bigint() - start;
    if (elapsed < budget / 20n) batch *= 2;
  }
  return (calls * 1e9) / Number(elapsed);
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Sinks results so the JIT cannot drop the work. */
export let sink;

/**
 * Measures each contender `{ name: fn }` and returns `{ name: opsPerSecond }`.
 * Options: rounds (odd), roundMs, warmupMs.
 */
export function compare(contenders, { rounds = 5, roundMs = 300, warmupMs = 200 } = {}) {
  const entries = Object.entries(contenders);
  const wrapped = entries.map(([name, fn]) => [
    name,
    () => {
      sink = fn();
    },
  ]);
  for (const [, fn] of wrapped) round(fn, warmupMs);
  const samples = Object.fromEntries(entries.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of r % 2 === 0 ? wrapped : [...wrapped].reverse())
      samples[name].push(round(fn, roundMs));
  }
  return Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, median(s)]));
}

/** Quick mode for CI smoke runs: `BENCH_QUICK=1` shortens every round. */
export const quick = process.env.BENCH_QUICK === '1';
export const options = quick ? { rounds: 1, roundMs: 30, warmupMs: 10 } : {};
