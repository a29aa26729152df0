/**
 * The manager's side of the store contract: every store call goes through {@link StoreCalls}, which
 * bounds it by the operation's time budget (`storeTimeout` for a whole load, commit or other manager
 * call), and turns a failure into a {@link SessionStoreError} (a timeout into a
 * {@link SessionStoreTimeoutError}), logged and emitted as `store-error`. Who wraps what is the rule in
 * `store.ts`: a store's own SessionStoreError passes through as it is; anything else it throws is wrapped
 * here, with the store's error as `cause`.
 */
import { SessionStoreError, SessionStoreTimeoutError, tellerMessage } from './errors.js';
import type { Reporter } from './report.js';
import type { LegacyAdopter, RetireByUserOptions, SessionRecord, SessionStore } from './store.js';

/** The request time (for events) and the monotonic deadline (performance.now()) of an operation's store calls. */
export interface Budget {
  readonly now: number;
  readonly deadline: number;
}

export class StoreCalls {
  readonly store: SessionStore;
  readonly #timeout: number;
  readonly #report: Reporter;
  readonly #watch = new DeadlineWatch();

  /**
   * The store answers the request path's calls synchronously (`immediate`, with `getNow`, `setNow` and
   * `deleteNow`): the manager then uses {@link getNow}, {@link setNow} and {@link deleteNow}, with no promise.
   */
  readonly sync: boolean;

  constructor(store: SessionStore, timeout: number, report: Reporter) {
    this.store = store;
    this.#timeout = timeout;
    this.#report = report;
    this.sync =
      store.immediate === true &&
      typeof store.getNow === 'function' &&
      typeof store.setNow === 'function' &&
      typeof store.deleteNow === 'function';
  }

  // The synchronous calls (only when `sync`): a store's throw becomes the same SessionStoreError, reported
  // the same way, as its rejection would through the calls below; no deadline (such a store cannot hang).

  getNow(key: string, b: Budget): SessionRecord | null {
    try {
      return this.store.getNow!(key);
    } catch (cause) {
      throw this.#failed('get', cause, b);
    }
  }

  setNow(key: string, record: SessionRecord, expected: number | null, ttlMs: number, b: Budget): boolean {
    try {
      return this.store.setNow!(key, record, expected, ttlMs);
    } catch (cause) {
      throw this.#failed('set', cause, b);
    }
  }

  deleteNow(key: string, b: Budget): void {
    try {
      this.store.deleteNow!(key);
    } catch (cause) {
      throw this.#failed('delete', cause, b);
    }
  }

  /** The time one load, commit or other manager call may spend waiting for the store, in total. */
  budget(now: number): Budget {
    return { now, deadline: performance.now() + this.#timeout };
  }

  get(key: string, b: Budget): Promise<SessionRecord | null> {
    try {
      return this.#bound('get', this.store.get(key), b);
    } catch (cause) {
      return this.#thrown('get', cause, b);
    }
  }

  set(
    key: string,
    record: SessionRecord,
    expected: number | null,
    ttlMs: number,
    b: Budget,
  ): Promise<boolean> {
    try {
      return this.#bound('set', this.store.set(key, record, expected, ttlMs), b);
    } catch (cause) {
      return this.#thrown('set', cause, b);
    }
  }

  delete(key: string, b: Budget): Promise<void> {
    try {
      return this.#bound('delete', this.store.delete(key), b);
    } catch (cause) {
      return this.#thrown('delete', cause, b);
    }
  }

  /** Needs the store's `migrateLegacy` (checked by the caller). */
  migrateLegacy(rawId: string, key: string, adopt: LegacyAdopter, b: Budget): Promise<SessionRecord | null> {
    try {
      return this.#bound('migrateLegacy', this.store.migrateLegacy!(rawId, key, adopt), b);
    } catch (cause) {
      return this.#thrown('migrateLegacy', cause, b);
    }
  }

  /** Needs the store's `listByUser` (checked by the caller). */
  listByUser(userId: string, b: Budget): Promise<Array<{ key: string; record: SessionRecord }>> {
    try {
      return this.#bound('listByUser', this.store.listByUser!(userId), b);
    } catch (cause) {
      return this.#thrown('listByUser', cause, b);
    }
  }

  /** Needs the store's `deleteByUser` (checked by the caller). */
  deleteByUser(userId: string, exceptKey: string | undefined, b: Budget): Promise<number> {
    try {
      const options = exceptKey === undefined ? undefined : { exceptKey };
      return this.#bound('deleteByUser', this.store.deleteByUser!(userId, options), b);
    } catch (cause) {
      return this.#thrown('deleteByUser', cause, b);
    }
  }

  /** Needs the store's `retireByUser` (checked by the caller). */
  retireByUser(userId: string, options: RetireByUserOptions, b: Budget): Promise<number> {
    try {
      return this.#bound('retireByUser', this.store.retireByUser!(userId, options), b);
    } catch (cause) {
      return this.#thrown('retireByUser', cause, b);
    }
  }

  /** Closes the store when it can be closed. */
  close(b: Budget): Promise<void> {
    if (this.store.close === undefined) return Promise.resolve();
    try {
      return this.#bound('close', this.store.close(), b);
    } catch (cause) {
      return this.#thrown('close', cause, b);
    }
  }

  #thrown(op: string, cause: unknown, b: Budget): Promise<never> {
    return Promise.reject(this.#failed(op, cause, b));
  }

  /** A failure of the store, as the SessionStoreError the caller sees (reported once, here). */
  #failed(op: string, cause: unknown, b: Budget): SessionStoreError {
    const error =
      cause instanceof SessionStoreError
        ? cause
        : new SessionStoreError(tellerMessage('session', `store ${op} failed`), { cause });
    const reason = error.cause instanceof Error ? error.cause.message : undefined;
    this.#report.log('error', error.message, { cause: reason });
    this.#report.emit('store-error', b.now, undefined, { detail: op });
    return error;
  }

  /** `pending`, failing with a SessionStoreTimeoutError once the budget is spent. */
  #bound<T>(op: string, pending: Promise<T>, b: Budget): Promise<T> {
    // A store whose promises are settled when returned, or settled by its own work within the turn,
    // cannot hang: no deadline to watch (nor the cost of a promise that could be failed without it).
    if (this.store.immediate === true || this.store.settlesInTurn === true) {
      return pending.then(undefined, (cause: unknown) => {
        throw this.#failed(op, cause, b);
      });
    }
    return new Promise<T>((resolve, reject) => {
      const call: Watched = {
        deadline: b.deadline,
        expire: () => {
          const text = `store ${op} did not answer in time (storeTimeout ${this.#timeout} ms for the whole operation)`;
          reject(this.#failed(op, new SessionStoreTimeoutError(tellerMessage('session', text)), b));
        },
      };
      this.#watch.add(call);
      Promise.resolve(pending).then(
        (value) => {
          if (this.#watch.remove(call)) resolve(value);
        },
        (cause: unknown) => {
          if (this.#watch.remove(call)) reject(this.#failed(op, cause, b));
        },
      );
    });
  }
}

/** A store call in flight: its operation's deadline (performance.now()), and how it fails past it. */
interface Watched {
  readonly deadline: number;
  readonly expire: () => void;
}

/**
 * The calls in flight of one manager, failed once past their deadline by a single timer armed for the
 * earliest one, rather than a timer armed and cleared for every call that did not answer at once (callgrind:
 * some 4,600 instructions for a setTimeout and its clearTimeout, plus a queueMicrotask to see whether the
 * answer was already there; a Set entry added and removed costs a few hundred). The timer keeps the process
 * alive only while calls are in flight (a script awaiting a hung store must not exit before its call fails).
 */
class DeadlineWatch {
  readonly #calls = new Set<Watched>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The deadline the timer fires at (Infinity when none is armed). */
  #armedFor = Number.POSITIVE_INFINITY;

  add(call: Watched): void {
    this.#calls.add(call);
    // The timer fires no later than the earliest deadline; an earlier one (a call of an operation that
    // began before the others in flight) re-arms it.
    if (call.deadline < this.#armedFor) this.#arm(call.deadline);
    else if (this.#calls.size === 1) this.#timer?.ref();
  }

  /** Whether the call was still in flight (false: it had already timed out). */
  remove(call: Watched): boolean {
    if (!this.#calls.delete(call)) return false;
    if (this.#calls.size === 0) this.#timer?.unref();
    return true;
  }

  #arm(deadline: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = deadline;
    this.#timer = setTimeout(this.#fire, Math.max(0, deadline - performance.now()));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const call of this.#calls) {
      // (A timer may fire a fraction of a millisecond before its delay by performance.now().)
      if (call.deadline - now < 1) {
        this.#calls.delete(call);
        call.expire();
      } else if (call.deadline < next) next = call.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
  };
}
