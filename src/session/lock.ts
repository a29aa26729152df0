/**
 * The per-session lock of one process: requests of one session run one after another from load to
 * commit, so naive read-then-write code stays serial when handlers are fast. The lock is a courtesy, not
 * what makes sessions correct (every commit is a compare-and-set): a request waits for it at most a short
 * bound, then goes on without it, so a slow, stuck or never-committed sibling never turns a request into
 * an error. A hold older than that bound protects nothing more: the next request takes it over at once, and
 * the requests that come later sweep holds nobody asks for again, so an abandoned session leaks nothing.
 *
 * Stores without compare-and-set have only the lock: for them `acquire` keeps the strict rule (wait up
 * to the bound, then SessionLockTimeoutError, 503; a strict hold is never taken over, and swept only after
 * a minute).
 */
import { SessionLockTimeoutError, tellerMessage } from './errors.js';

/** Ends a hold on the lock; calling it again, or after the hold was taken over, does nothing. */
export type Release = () => void;

/** `enter` waited its whole bound: who held the lock, for how long, and the lock if its hold had gone stale. */
export interface WaitTimedOut {
  /** The holder's label (e.g. its route), when it gave one. */
  readonly heldBy: string | undefined;
  /** How long the holder had held it (ms). */
  readonly heldForMs: number;
  /** The lock, taken over from a stale hold; undefined when the caller goes on without it. */
  readonly release: Release | undefined;
}

interface Waiter {
  grant: (release: Release) => void;
  /** The bound passed: `enter` proceeds without the lock, `acquire` fails. */
  expire: () => void;
  refuse: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  label: string | undefined;
}

/** One key's hold: since when, by whom, and the queue of waiters (first in, first served). */
class Hold {
  since: number;
  label: string | undefined;
  /** Taken by `acquire` (a store without compare-and-set): never taken over, swept only much later. */
  readonly strict: boolean;
  /** The release of the current grant; an earlier grant's release (taken over since) does nothing. */
  current: Release | undefined = undefined;
  readonly queue: Waiter[] = [];
  constructor(since: number, label: string | undefined, strict: boolean) {
    this.since = since;
    this.label = label;
    this.strict = strict;
  }
}

/** Told when a request takes over a hold gone stale without waiting for it (a slow or stuck holder). */
export type StaleHoldListener = (key: string, heldBy: string | undefined, heldForMs: number) => void;

/**
 * Mutexes keyed by string (store keys). An uncontended acquire settles at once and arms no timer; holds
 * nobody released are swept lazily, by the requests that come later.
 */
export class KeyedLock {
  readonly #holds = new Map<string, Hold>();
  /** A hold older than this (ms) is taken over by the next request, and swept when nobody waits for it. */
  readonly #staleMs: number;
  /** The same for strict holds: exclusivity is all a store without compare-and-set has, so much later. */
  readonly #strictStaleMs: number;
  readonly #onStale: StaleHoldListener | undefined;
  #sweptAt = performance.now();

  constructor(staleMs = 5_000, options: { strictStaleMs?: number; onStale?: StaleHoldListener } = {}) {
    this.#staleMs = staleMs;
    this.#strictStaleMs = options.strictStaleMs ?? 60_000;
    this.#onStale = options.onStale;
  }

  /** How many keys are held (for tests). */
  get size(): number {
    return this.#holds.size;
  }

  /**
   * Takes the lock of `key`, waiting at most `waitMs`; then resolves to {@link WaitTimedOut} and the caller
   * proceeds without it. A hold older than the stale bound is taken over at once.
   */
  enter(key: string, waitMs: number, label?: string): Release | Promise<Release | WaitTimedOut> {
    return this.#take(key, waitMs, label, false) as Release | Promise<Release | WaitTimedOut>;
  }

  /** Takes the lock of `key`, waiting at most `timeoutMs` (then rejects with SessionLockTimeoutError). */
  acquire(key: string, timeoutMs: number): Release | Promise<Release> {
    return this.#take(key, timeoutMs, undefined, true) as Release | Promise<Release>;
  }

  /**
   * Rejects every request waiting for `key` with `error`, when `holder` (a release this lock gave) still
   * holds it. For a holder whose store call timed out: its waiters would only queue behind the same dead
   * store one by one. A holder whose hold was taken over since fails nobody.
   */
  fail(key: string, error: Error, holder: Release): void {
    const hold = this.#holds.get(key);
    if (hold === undefined || hold.current !== holder) return;
    for (const waiter of hold.queue.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.refuse(error);
    }
  }

  #take(
    key: string,
    waitMs: number,
    label: string | undefined,
    strict: boolean,
  ): Release | Promise<Release | WaitTimedOut> {
    const now = performance.now();
    if (now - this.#sweptAt >= this.#staleMs) this.#sweep(now);
    const hold = this.#holds.get(key);
    if (hold === undefined) {
      const fresh = new Hold(now, label, strict);
      this.#holds.set(key, fresh);
      return this.#grant(key, fresh);
    }
    // The holder is slow, stuck or gone: its hold protects nothing more (its waiters keep their places).
    if (!strict && !hold.strict && now - hold.since >= this.#staleMs) {
      this.#onStale?.(key, hold.label, now - hold.since);
      hold.since = now;
      hold.label = label;
      return this.#grant(key, hold);
    }
    return new Promise<Release | WaitTimedOut>((resolve, reject) => {
      const waiter: Waiter = {
        grant: resolve,
        refuse: reject,
        label,
        timer: undefined,
        expire: () => {
          const index = hold.queue.indexOf(waiter);
          if (index !== -1) hold.queue.splice(index, 1);
          if (strict) {
            const text = `another request of this session held its lock for more than ${waitMs} ms`;
            reject(new SessionLockTimeoutError(tellerMessage('session', text)));
            return;
          }
          const at = performance.now();
          const heldBy = hold.label;
          const heldForMs = at - hold.since;
          let release: Release | undefined;
          // The hold went stale while this request waited: it takes the lock over, so the requests after
          // it wait for it rather than for the stuck holder.
          // (A timer may fire a fraction of a millisecond before its delay by performance.now().)
          if (!hold.strict && heldForMs + 1 >= this.#staleMs && this.#holds.get(key) === hold) {
            hold.since = at;
            hold.label = label;
            release = this.#grant(key, hold);
          }
          resolve({ heldBy, heldForMs, release });
        },
      };
      // Not unref'd: a script awaiting a load must not exit before the wait ends (it ends by itself).
      waiter.timer = setTimeout(waiter.expire, waitMs);
      hold.queue.push(waiter);
    });
  }

  /** A new grant of `hold`: its release, a no-op once the grant was released or taken over. */
  #grant(key: string, hold: Hold): Release {
    const release: Release = () => {
      if (hold.current !== release || this.#holds.get(key) !== hold) return;
      this.#pass(key, hold);
    };
    hold.current = release;
    return release;
  }

  /** Hands the hold to the next waiter, or frees the key. */
  #pass(key: string, hold: Hold): void {
    const next = hold.queue.shift();
    if (next === undefined) {
      hold.current = undefined;
      this.#holds.delete(key);
      return;
    }
    clearTimeout(next.timer);
    hold.since = performance.now();
    hold.label = next.label;
    next.grant(this.#grant(key, hold));
  }

  /**
   * Drops the holds gone stale that nobody waits for (their waiters take them over themselves); a strict
   * hold stale by its own bound passes to its next waiter.
   */
  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [key, hold] of this.#holds) {
      if (hold.strict) {
        // A strict hold nobody released: after its much longer bound it passes to the next waiter (a
        // strict waiter never takes it over itself, so a session polled often would wait for good).
        if (now - hold.since >= this.#strictStaleMs) this.#pass(key, hold);
      } else if (hold.queue.length === 0 && now - hold.since >= this.#staleMs) {
        hold.current = undefined;
        this.#holds.delete(key);
      }
    }
  }
}
