/**
 * Complexity checks without time budgets: the best of several runs for input size n and 10n, and
 * their ratio. Linear work gives about 10; quadratic work gives about 100.
 */
export function bestTime(fn: () => unknown, runs = 7): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

export function growthRatio(make: (n: number) => string, run: (input: string) => unknown, n: number): number {
  const small = make(n);
  const large = make(n * 10);
  // Warm up both so the JIT does not count against the first measurement.
  for (let i = 0; i < 3; i++) {
    run(small);
    run(large);
  }
  // Alternate the two, so that a stretch of load on a busy machine slows both alike.
  let bestSmall = Number.POSITIVE_INFINITY;
  let bestLarge = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 9; i++) {
    const timeSmall = bestTime(() => run(small), 1);
    const timeLarge = bestTime(() => run(large), 1);
    bestSmall = Math.min(bestSmall, timeSmall);
    bestLarge = Math.min(bestLarge, timeLarge);
  }
  return bestLarge / Math.max(bestSmall, 0.001);
}
