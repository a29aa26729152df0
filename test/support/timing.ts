/**
 * Complexity checks without time budgets: the best of several runs for input size n and 10n, and
 * their ratio (CPU time by default). Linear work gives about 10; quadratic work gives about 100.
 */
/** A clock in milliseconds (bestTime: wall time by default; growthRatio: CPU time). */
export type Clock = () => number;

/**
 * The CPU time of this process in milliseconds (user + system): on a loaded machine a long run is
 * preempted more often than a short one, which skews wall-time ratios but not this.
 */
export const cpuClock: Clock = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

export function bestTime(fn: () => unknown, runs = 7, clock: Clock = () => performance.now()): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = clock();
    fn();
    best = Math.min(best, clock() - t0);
  }
  return best;
}

export function growthRatio(
  make: (n: number) => string,
  run: (input: string) => unknown,
  n: number,
  clock: Clock = cpuClock,
): number {
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
    const timeSmall = bestTime(() => run(small), 1, clock);
    const timeLarge = bestTime(() => run(large), 1, clock);
    bestSmall = Math.min(bestSmall, timeSmall);
    bestLarge = Math.min(bestLarge, timeLarge);
  }
  return bestLarge / Math.max(bestSmall, 0.001);
}
