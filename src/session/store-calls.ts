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
import type { LegacyAdopter, SessionRecord, SessionStore } from './store.js';

/** The request time (for events) and the monotonic deadline (performance.now()) of an operation's store calls. */
export interface Budget {
  readonly now: number;
  readonly deadline: number;
}

export class StoreCalls {
  readonly store: SessionStore;
  readonly #timeout: number;
  readonly #report: Reporter;

  constructor(store: SessionStore, timeout: number, report: Reporter) {
    this.store = store;
    this.#timeout = timeout;
    this.#report = report;
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
    // A store whose promises are settled when returned (in-process) cannot hang: no timeout to arm.
    if (this.store.immediate === true) {
      return pending.then(undefined, (cause: unknown) => {
        throw this.#failed(op, cause, b);
      });
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      Promise.resolve(pending).then(
        (value) => {
          if (settled) return;
          settled = true;
          if (timer !== undefined) clearTimeout(timer);
          resolve(value);
        },
        (cause: unknown) => {
          if (settled) return;
          settled = true;
          if (timer !== undefined) clearTimeout(timer);
          reject(this.#failed(op, cause, b));
        },
      );
      // An answer already there (an in-memory store) settles before this check and needs no timer.
      queueMicrotask(() => {
        if (settled) return;
        const left = Math.max(0, b.deadline - performance.now());
        timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          const text = `store ${op} did not answer in time (storeTimeout ${this.#timeout} ms for the whole operation)`;
          reject(this.#failed(op, new SessionStoreTimeoutError(tellerMessage('session', text)), b));
        }, left);
      });
    });
  }
}
