/**
 * The per-session lock of one process: requests of one session run one after another from load to
 * commit, so naive read-then-write code stays serial when handlers are fast. The lock is a courtesy, not
 * what makes sessions correct (every commit is a compare-and-set): a request waits for it at most a short
 * bound, then goes on without it, so a slow, stuck or never-committed sibling never turns a request into
 * an error. A hold older than that bound protects nothing more: the next request takes it over at once, and
 * a sweep drops holds nobody asks for again, so an abandoned session leaks nothing.
 *
 * Stores without compare-and-set have only the lock: for them `acquire` keeps today's strict rule (wait
 * up to the bound, then SessionLockTimeoutError, 503).
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
  /** Counts grants, so the release of an earlier one (taken over since) does nothing. */
  grant = 0;
  readonly queue: Waiter[] = [];
  constructor(since: number, label: string | undefined) {
    this.since = since;
    this.label = label;
  }
}

/** Mutexes keyed by string (store keys). An uncontended acquire settles without a timer. */
export class KeyedLock {
  readonly #holds = new Map<string, Hold>();
  /** A hold older than this (ms) is taken over by the next request, and swept when nobody asks. */
  readonly #staleMs: number;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(staleMs = 5_000) {
    this.#staleMs = staleMs;
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
   * Rejects every request waiting for `key` with `error` (the holder keeps the lock). For a holder whose
   * store call timed out: its waiters would only queue behind the same dead store one by one.
   */
  fail(key: string, error: Error): void {
    const hold = this.#holds.get(key);
    if (hold === undefined) return;
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
    const hold = this.#holds.get(key);
    if (hold === undefined) {
      const fresh = new Hold(now, label);
      this.#holds.set(key, fresh);
      this.#sweep();
      return this.#releaser(key, fresh);
    }
    // The holder is slow, stuck or gone: its hold protects nothing more (its waiters keep their places).
    if (!strict && now - hold.since >= this.#staleMs) {
      hold.since = now;
      hold.label = label;
      hold.grant++;
      return this.#releaser(key, hold);
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
          if (heldForMs >= this.#staleMs && this.#holds.get(key) === hold) {
            hold.since = at;
            hold.label = label;
            hold.grant++;
            release = this.#releaser(key, hold);
          }
          resolve({ heldBy, heldForMs, release });
        },
      };
      waiter.timer = setTimeout(waiter.expire, waitMs);
      waiter.timer.unref?.();
      hold.queue.push(waiter);
    });
  }

  /** The release of the hold's current grant: a no-op once that grant was released or taken over. */
  #releaser(key: string, hold: Hold): Release {
    const grant = hold.grant;
    return () => {
      if (hold.grant !== grant || this.#holds.get(key) !== hold) return;
      this.#pass(key, hold);
    };
  }

  /** Hands the hold to the next waiter, or frees the key. */
  #pass(key: string, hold: Hold): void {
    const next = hold.queue.shift();
    if (next === undefined) {
      this.#holds.delete(key);
      return;
    }
    clearTimeout(next.timer);
    hold.since = performance.now();
    hold.label = next.label;
    hold.grant++;
    next.grant(this.#releaser(key, hold));
  }

  /** Drops holds older than the stale bound that nobody waits for, from time to time, while any key is held. */
  #sweep(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      // A stale hold with waiters is left to them: each takes it over when its own wait ends.
      for (const [key, hold] of this.#holds) {
        if (hold.queue.length === 0 && now - hold.since >= this.#staleMs) this.#holds.delete(key);
      }
      if (this.#holds.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, this.#staleMs);
    this.#sweeper.unref?.();
  }
}
