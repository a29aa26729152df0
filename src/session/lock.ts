/**
 * The per-session lock of one process (like PHP's flock on the session file): requests of one session
 * run one after another from their first access until commit, so a single process never sees a
 * conflict. Waiting is bounded; the waiter then gets a {@link SessionLockTimeoutError} (503).
 */
import { SessionLockTimeoutError, tellerMessage } from './errors.js';

/** Ends a hold on the lock; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
  refuse: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Mutexes keyed by string (store keys). An uncontended acquire settles without a timer. */
export class KeyedLock {
  /** A key is present while held; its array is the queue of waiters, first in first served. */
  readonly #queues = new Map<string, Waiter[]>();

  /** How many keys are held (for tests). */
  get size(): number {
    return this.#queues.size;
  }

  /** Takes the lock of `key`, waiting at most `timeoutMs` (then rejects with SessionLockTimeoutError). */
  acquire(key: string, timeoutMs: number): Release | Promise<Release> {
    const queue = this.#queues.get(key);
    if (queue === undefined) {
      this.#queues.set(key, []);
      return this.#releaser(key);
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, refuse: reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        const index = queue.indexOf(waiter);
        if (index !== -1) queue.splice(index, 1);
        reject(
          new SessionLockTimeoutError(
            tellerMessage(
              'session',
              `another request of this session held its lock for more than ${timeoutMs} ms`,
            ),
          ),
        );
      }, timeoutMs);
      waiter.timer.unref?.();
      queue.push(waiter);
    });
  }

  /**
   * Rejects every request waiting for `key` with `error` (the holder keeps the lock). For a holder whose
   * store call timed out: its waiters would only queue behind the same dead store one by one.
   */
  fail(key: string, error: Error): void {
    const queue = this.#queues.get(key);
    if (queue === undefined) return;
    for (const waiter of queue.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.refuse(error);
    }
  }

  #releaser(key: string): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const queue = this.#queues.get(key);
      const next = queue?.shift();
      if (next === undefined) {
        this.#queues.delete(key);
        return;
      }
      clearTimeout(next.timer);
      next.grant(this.#releaser(key));
    };
  }
}
