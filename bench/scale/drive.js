/**
 * What a scale run measures with: latencies and their percentiles, a call stream at a fixed rate, and a phase
 * watched by Node's `monitorEventLoopDelay`.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

/** The event-loop delay histogram's sampling interval (ms). */
export const RESOLUTION_MS = 1;
/** Watched quiet time before and after each phase's operation (ms), so a delay right at its end is caught. */
const MARGIN_MS = 20;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Latencies (µs), with nearest-rank percentiles. */
export class Latencies {
  values = [];
  add(us) {
    this.values.push(us);
  }
  get count() {
    return this.values.length;
  }
  /** The `q` percentile (0-100), or null with no value. */
  percentile(q) {
    if (this.values.length === 0) return null;
    const sorted = Float64Array.from(this.values).sort();
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1));
    return sorted[rank];
  }
}

/**
 * Calls `fn` (returning a promise) `rate` times a second, on a 1 ms timer, until `stop()`: each tick starts the
 * calls due since the start. After a stall, at most `maxBurst` late calls start at once and the rest are
 * counted as skipped (they would measure the stall itself, which the event-loop delay already shows); so are
 * calls beyond `maxInFlight` unanswered ones. A call that rejects is counted (with the first error's message).
 */
export function startRate(rate, fn, { maxBurst = 50, maxInFlight = 200 } = {}) {
  const stats = { started: 0, skipped: 0, failed: 0, firstError: undefined };
  const start = performance.now();
  let due = 0;
  let inFlight = 0;
  let idle;
  const settled = () => {
    inFlight--;
    if (inFlight === 0 && idle !== undefined) idle();
  };
  const timer = setInterval(() => {
    const total = Math.floor(((performance.now() - start) * rate) / 1000);
    let late = total - due;
    due = total;
    if (late > maxBurst) {
      stats.skipped += late - maxBurst;
      late = maxBurst;
    }
    for (let k = 0; k < late; k++) {
      if (inFlight >= maxInFlight) {
        stats.skipped++;
        continue;
      }
      inFlight++;
      stats.started++;
      fn().then(settled, (error) => {
        stats.failed++;
        stats.firstError ??= String(error?.message ?? error).slice(0, 200);
        settled();
      });
    }
  }, 1);
  return {
    stats,
    /** Stops starting calls; resolves once the started ones settled. */
    stop() {
      clearInterval(timer);
      if (inFlight === 0) return Promise.resolve(stats);
      return new Promise((resolve) => {
        idle = () => resolve(stats);
      });
    },
  };
}

/**
 * Runs `operation` with the event-loop delay watched from {@link MARGIN_MS} before it to as long after it
 * settled. `stallMs`: the longest the loop was blocked beyond the sampling interval (the histogram's max
 * less {@link RESOLUTION_MS}), `ms` the operation's time from its call to its settling, `gcMs` the longest
 * garbage-collection pause meanwhile (so a stall can be told from a collection of the heap).
 */
export async function watched(operation) {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  let gcMs = 0;
  const collect = (list) => {
    for (const entry of list.getEntries()) gcMs = Math.max(gcMs, entry.duration);
  };
  const gc = new PerformanceObserver(collect);
  gc.observe({ entryTypes: ['gc'] });
  histogram.enable();
  await sleep(MARGIN_MS);
  const started = performance.now();
  const value = await operation();
  const ms = performance.now() - started;
  await sleep(MARGIN_MS);
  histogram.disable();
  collect({ getEntries: () => gc.takeRecords() });
  gc.disconnect();
  return { value, ms, stallMs: Math.max(0, histogram.max / 1e6 - RESOLUTION_MS), gcMs };
}
