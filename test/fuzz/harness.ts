/**
 * The fuzz harness: runs a target's property over generated inputs (fast-check, seeded), checks after
 * every input that no prototype was polluted (thoroughly after every batch), keeps the slowest inputs
 * per character, then measures how the time grows from size n to 10n on those and on hand-made
 * adversarial families.
 */
import fc from 'fast-check';
import { parseCookie } from '../../src/cookie/index.js';
import { cpuClock, growthRatio } from '../support/timing.js';

/**
 * An adversarial family: its inputs of size n, or those with its own n and, for a family whose time per item
 * grows with a table the input itself forces (many distinct keys), `reference`: the platform doing the least
 * the target must (JSON.parse, an object filled from a split), timed the same way right beside it, so the
 * growth the platform shows is told from the target's own.
 */
export type Family =
  | ((n: number) => string)
  | { make: (n: number) => string; n: number; reference?: (text: string) => unknown };

/** One function under fuzz. */
export interface FuzzTarget<T> {
  readonly name: string;
  /** The generated inputs. */
  readonly input: fc.Arbitrary<T>;
  /** The property: throws (or rejects) when it does not hold. */
  check(input: T): void | Promise<void>;
  /** The input's size, for "slowest per character". */
  size(input: T): number;
  /** The input as the text the timed run grows (the worst inputs found are grown from it). */
  text(input: T): string;
  /** Text of about `length` characters made from `seed` (by default, `seed` repeated). */
  grow?(seed: string, length: number): string;
  /** The work timed at n and 10n (synchronous: the size-dependent part of the target). */
  timed(text: string): unknown;
  /**
   * Adversarial inputs of size n. A family that builds a table of n/10 distinct keys names its own,
   * smaller n: past a few thousand keys the time per key grows with the table (caches), in a plain Map
   * as much as anywhere, which says nothing of the algorithm.
   */
  readonly families: Readonly<Record<string, Family>>;
  /** The n of the timing runs (10n is the large one). */
  readonly n: number;
}

/** The prototypes a pollution would reach, and their own properties before any input ran. */
const GUARDED: readonly [string, object][] = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['String.prototype', String.prototype],
  ['Function.prototype', Function.prototype],
  ['Map.prototype', Map.prototype],
  // parseCookie's records share one prototype-less prototype: writing to it would reach every record.
  ["parseCookie's record prototype", Object.getPrototypeOf(parseCookie(''))],
];

type Snapshot = Map<PropertyKey, PropertyDescriptor>[];

function snapshot(): Snapshot {
  return GUARDED.map(([, proto]) => {
    const own = new Map<PropertyKey, PropertyDescriptor>();
    for (const key of Reflect.ownKeys(proto)) own.set(key, Reflect.getOwnPropertyDescriptor(proto, key)!);
    return own;
  });
}

const objectKeys = Reflect.ownKeys(Object.prototype).length;

/** The check after every input: cheap, and catches an assignment through `__proto__` at once. */
export function assertNoQuickPollution(): void {
  for (const key in {})
    throw new Error(`prototype pollution: {} has an inherited key ${JSON.stringify(key)}`);
  if (Reflect.ownKeys(Object.prototype).length !== objectKeys) {
    throw new Error('prototype pollution: Object.prototype gained or lost a property');
  }
  if (Object.getPrototypeOf({}) !== Object.prototype)
    throw new Error('prototype pollution: {} changed prototype');
}

/** The check after every batch: every own property of every guarded prototype as it was. */
export function assertNoPollution(before: Snapshot): void {
  const now = snapshot();
  GUARDED.forEach(([name], i) => {
    const was = before[i]!;
    const is = now[i]!;
    for (const [key, d] of is) {
      const old = was.get(key);
      if (
        old === undefined ||
        old.value !== d.value ||
        old.get !== d.get ||
        old.set !== d.set ||
        old.writable !== d.writable ||
        old.enumerable !== d.enumerable ||
        old.configurable !== d.configurable
      ) {
        throw new Error(`prototype pollution: ${name}.${String(key)} was added or changed`);
      }
    }
    if (is.size !== was.size) throw new Error(`prototype pollution: ${name} lost a property`);
  });
}

export const BATCH = 10_000;

/** A fuzz run's seed: FUZZ_SEED when set (to replay a run), otherwise a fresh one. */
export function fuzzSeed(): number {
  const given = process.env.FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isSafeInteger(seed)) throw new TypeError(`FUZZ_SEED must be an integer, not ${given}`);
    return seed;
  }
  return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
}

export interface FuzzResult<T> {
  runs: number;
  ms: number;
  /** The slowest inputs per character, slowest first. */
  worst: T[];
}

/** How many of the slowest inputs per character a run keeps (each is re-timed, then grown). */
const KEEP = 12;

/**
 * Runs `target.check` on `runs` generated inputs from `seed`. A failure throws fast-check's report
 * (the seed and path that replay it, and the shrunk counterexample).
 */
export async function fuzz<T>(target: FuzzTarget<T>, runs: number, seed: number): Promise<FuzzResult<T>> {
  const before = snapshot();
  let done = 0;
  // Slowest inputs per character (plus a constant, so tiny inputs do not win on timer noise).
  const slow: { input: T; score: number }[] = [];
  const keep = (input: T, ms: number): void => {
    const score = ms / (target.size(input) + 256);
    if (slow.length === KEEP && score <= slow[KEEP - 1]!.score) return;
    slow.push({ input, score });
    slow.sort((a, b) => b.score - a.score);
    if (slow.length > KEEP) slow.pop();
  };
  const after = (): void => {
    assertNoQuickPollution();
    if (++done % BATCH === 0) assertNoPollution(before);
  };
  const t0 = performance.now();
  await fc.assert(
    fc.asyncProperty(target.input, async (input) => {
      const start = performance.now();
      const pending = target.check(input);
      if (pending !== undefined) await pending;
      keep(input, performance.now() - start);
      after();
    }),
    { numRuns: runs, seed, includeErrorInReport: true },
  );
  assertNoPollution(before);
  return { runs, ms: performance.now() - t0, worst: slow.map((s) => s.input) };
}

/** Re-times the kept inputs (best of 5) and returns the `count` slowest per character, as text. */
export function worstTexts<T>(target: FuzzTarget<T>, inputs: readonly T[], count: number): string[] {
  const timed = inputs.map((input) => {
    const text = target.text(input);
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      target.timed(text);
      best = Math.min(best, performance.now() - t0);
    }
    return { text, score: best / (text.length + 256) };
  });
  timed.sort((a, b) => b.score - a.score);
  return timed.slice(0, count).map((t) => t.text);
}

/** `seed` repeated to `length` characters (an empty seed grows as spaces). */
export function repeatTo(seed: string, length: number): string {
  const unit = seed === '' ? ' ' : seed;
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

export interface Growth {
  family: string;
  ratio: number;
  /** The reference's ratio on the same inputs, when the family names one. */
  reference?: number;
}

/**
 * The CPU time at 10n over the CPU time at n (the best of alternating runs, `growthRatio`): each
 * hand-made family, then each of `worst` grown to n and 10n. Linear work gives about 10.
 */
export function growth(target: FuzzTarget<unknown>, worst: readonly string[], limit: number): Growth[] {
  const out: Growth[] = [];
  const ratioOf = (timed: (text: string) => unknown, make: (n: number) => string, n: number): number => {
    // Enough repetitions that the small input takes 2 ms of CPU: clock granularity cannot make the ratio.
    const small = make(n);
    const t0 = cpuClock();
    let reps = 0;
    while (cpuClock() - t0 < 2 && reps < 10_000) {
      timed(small);
      reps++;
    }
    const run = (text: string): void => {
      for (let i = 0; i < reps; i++) timed(text);
    };
    // A ratio over the limit is measured twice more (the machine is shared): the lowest counts.
    let ratio = growthRatio(make, run, n, cpuClock);
    for (let again = 0; again < 2 && ratio > limit; again++)
      ratio = Math.min(ratio, growthRatio(make, run, n, cpuClock));
    return ratio;
  };
  const measure = (
    family: string,
    make: (n: number) => string,
    n: number,
    reference?: (text: string) => unknown,
  ): void => {
    const ratio = ratioOf((text) => target.timed(text), make, n);
    const growth: Growth = { family: `${family} (n=${n})`, ratio };
    if (reference !== undefined) growth.reference = ratioOf(reference, make, n);
    out.push(growth);
  };
  for (const [family, f] of Object.entries(target.families)) {
    if (typeof f === 'function') measure(family, f, target.n);
    else measure(family, f.make, f.n, f.reference);
  }
  const grow = target.grow ?? repeatTo;
  worst.forEach((seed, i) => {
    const shown = JSON.stringify(seed.length > 40 ? `${seed.slice(0, 40)}…` : seed);
    measure(`worst found #${i + 1} ${shown}`, (m) => grow(seed, m), target.n);
  });
  return out;
}
