/**
 * `teller/stores/express`: any express-session store (connect-redis, connect-pg-simple, connect-mongo,
 * memorystore, express-session's own MemoryStore...) used as a Teller store: `fromExpressStore(store)`.
 *
 * Under Teller's store key (the SHA-256 of the session id, never the id) it saves a session object shaped as
 * express-session's: `{ cookie: { expires, originalMaxAge }, teller: record }`, with `cookie.expires` = now +
 * `ttlMs` (at least 1 s), so the store sets its own expiry from it (connect-redis and connect-pg-simple read
 * `cookie.expires`). The record is read back from `teller`; a session object without it is absent.
 *
 * What it lacks, by the nature of the callback API (`get`, `set`, `destroy`):
 * - No atomic compare-and-set. `set` reads the stored version, compares it with `expected`, then writes: a
 *   read-check-write, correct within one process (the manager serializes a session's requests with its lock)
 *   but not atomic across processes. So the bridge declares `lockOnly`: the manager then keeps its strict
 *   in-process lock (a second request of a session waits up to 5 s, then SessionLockTimeoutError, 503), and
 *   lost-update protection holds within one process only. With several processes behind one express store,
 *   two requests of one session landing on two processes at once can overwrite each other's write.
 * - No user index (`listByUser`, `deleteByUser`): "log out my other sessions" and revoking a user's sessions
 *   need a Teller store (memory, SQLite, Redis, PostgreSQL). Scanning `all()` would be O(every session) per
 *   call, on a shared store, so it is not offered.
 * - No `purgeExpired` and no `count`: the express store expires sessions itself.
 *
 * A failure (the callback's error, or a throw) rejects with a `SessionStoreError` (503) whose `cause` is the
 * store's error. A callback called twice is ignored after the first call; one never called leaves the promise
 * pending, which the manager bounds by its `storeTimeout` (a SessionStoreTimeoutError).
 *
 * Sessions express-session itself wrote (under the raw id) are not migrated: Teller hashes the id before it
 * calls a store, so the bridge never sees the raw id a migration would read.
 */

import { SessionStoreError, tellerMessage } from '../session/errors.js';
import { assertSetArguments, type SessionRecord, type SessionStore } from '../session/store.js';

/** The name used in this store's error messages. */
export const EXPRESS_STORE_NAME = 'express-store';

/** The callback an express-session store calls: an error, or null and a result. */
export type ExpressStoreCallback<T = unknown> = (error?: unknown, result?: T) => void;

/**
 * The part of an express-session store the bridge uses (typed structurally: no dependency on
 * express-session). `touch`, `all`, `length` and `clear` may exist; the bridge does not call them.
 */
export interface ExpressStoreLike {
  get(sid: string, callback: ExpressStoreCallback<unknown>): unknown;
  /**
   * Called with an {@link ExpressSessionData}. Typed `never` so that every store fits, whatever its own session
   * type (express-session's `SessionData` wants a `Cookie` instance).
   */
  set(sid: string, session: never, callback?: ExpressStoreCallback<void>): unknown;
  destroy(sid: string, callback?: ExpressStoreCallback<void>): unknown;
}

/** What the bridge saves under a key: an express-session session object holding the Teller record. */
export interface ExpressSessionData {
  cookie: { expires: Date; originalMaxAge: number };
  teller: SessionRecord;
}

/**
 * The bridge: `get`, `set` (read-check-write, not atomic across processes) and `delete`, declared `lockOnly`.
 * No user index, no `purgeExpired`, no `count` (see the module's documentation).
 */
export interface ExpressBridgeStore
  extends Omit<SessionStore, 'listByUser' | 'deleteByUser' | 'purgeExpired' | 'count' | 'lockOnly'> {
  /** Always true: the express store cannot compare-and-set, the manager's strict lock is its protection. */
  readonly lockOnly: true;
  readonly immediate: false;
  listByUser?: never;
  deleteByUser?: never;
  purgeExpired?: never;
  count?: never;
}

export interface ExpressBridgeOptions {
  /**
   * This bridge's clock (epoch ms), used only for `cookie.expires` (now + ttlMs). The express store judges that
   * date by its own clock, so keep the default unless your test fakes both.
   * @default Date.now
   */
  clock?: () => number;
}

/** The least lifetime written to `cookie.expires`: connect-redis rounds to seconds and deletes at 0. */
const MIN_TTL_MS = 1_000;

/**
 * Wraps an express-session store as a Teller store.
 *
 * @example
 * import { RedisStore } from 'connect-redis';
 * import { fromExpressStore } from 'teller/stores/express';
 * const store = fromExpressStore(new RedisStore({ client, prefix: 'myapp:' }));
 * const manager = createSessionManager({ store });
 */
export function fromExpressStore(
  store: ExpressStoreLike,
  options: ExpressBridgeOptions = {},
): ExpressBridgeStore {
  const typeError = (text: string) => new TypeError(tellerMessage(EXPRESS_STORE_NAME, text));
  if (store === null || typeof store !== 'object')
    throw typeError('store must be an express-session store object');
  for (const method of ['get', 'set', 'destroy'] as const) {
    if (typeof store[method] !== 'function')
      throw typeError(`store must be an express-session store: it has no ${method}() method`);
  }
  if (options === null || typeof options !== 'object') throw typeError('options must be an object');
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') throw typeError('clock must be a function');

  /** Calls one callback method; settles once (a second callback is ignored); a throw or error rejects. */
  function call<T>(operation: string, invoke: (callback: ExpressStoreCallback<T>) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        reject(
          new SessionStoreError(tellerMessage(EXPRESS_STORE_NAME, `${operation} failed`), { cause: error }),
        );
      };
      const callback: ExpressStoreCallback<T> = (error, result) => {
        if (error !== undefined && error !== null) return fail(error);
        if (settled) return;
        settled = true;
        resolve(result as T);
      };
      try {
        const returned = invoke(callback);
        // A store whose methods are async (connect-redis) may also reject its promise: the same failure.
        if (returned !== null && typeof returned === 'object' && 'then' in returned) {
          (returned as Promise<unknown>).then(undefined, fail);
        }
      } catch (error) {
        fail(error);
      }
    });
  }

  function recordOf(session: unknown): SessionRecord | null {
    if (session === null || session === undefined) return null;
    if (typeof session !== 'object')
      throw new Error(`the stored session is not an object (${typeof session})`);
    const record = (session as { teller?: unknown }).teller;
    if (record === undefined || record === null) return null;
    if (typeof record !== 'object') throw new Error('the stored Teller record is not an object');
    // A copy: an in-process store may hand out the object it holds.
    return structuredClone(record) as SessionRecord;
  }

  async function read(key: string): Promise<SessionRecord | null> {
    const session = await call<unknown>('get', (cb) => store.get(key, cb));
    try {
      return recordOf(session);
    } catch (error) {
      throw new SessionStoreError(tellerMessage(EXPRESS_STORE_NAME, 'get failed'), { cause: error });
    }
  }

  return {
    immediate: false,
    lockOnly: true,

    get(key) {
      return read(key);
    },

    async set(key, record, expected, ttlMs) {
      assertSetArguments(EXPRESS_STORE_NAME, key, record, expected, ttlMs);
      // Read-check-write: best effort, not atomic across processes (the manager's lock covers one process).
      const current = await read(key);
      if (expected === null ? current !== null : current?.version !== expected) return false;
      const lifetime = Math.max(MIN_TTL_MS, Math.ceil(ttlMs));
      const session: ExpressSessionData = {
        cookie: { expires: new Date(clock() + lifetime), originalMaxAge: lifetime },
        teller: structuredClone(record),
      };
      await call<void>('set', (cb) => store.set(key, session as never, cb));
      return true;
    },

    async delete(key) {
      await call<void>('delete', (cb) => store.destroy(key, cb));
    },
  };
}
