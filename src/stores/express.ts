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
 * Sessions express-session itself wrote (under the raw id, without `teller`) are invisible to `get`. With
 * `legacyKeys: true` the bridge also has `migrateLegacy`, which the manager calls (with `legacyCookies:
 * 'express-session'`) after a miss on the hash of an express-session cookie's id: it reads the raw id once, has
 * the manager turn express-session's session object into a record, writes that under the hash (as absent),
 * then destroys the raw entry. Two requests with the same cookie in one process are serialized by the manager's
 * lock; in two processes, the second finds the raw entry gone (and reads the hash) or loses the write as
 * absent (and reads the winner), so both see the same data and one record is left. (Its write as absent is
 * this bridge's read-check-write: two processes reading within the same instant both write, the same data.)
 * The migration is one-way: express-session processes still running (a rolling deploy) no longer see the
 * session once it moved.
 */

import { SessionStoreError, tellerMessage } from '../session/errors.js';
import {
  assertSetArguments,
  type LegacyAdopter,
  type SessionRecord,
  type SessionStore,
} from '../session/store.js';

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
  extends Omit<
    SessionStore,
    'listByUser' | 'deleteByUser' | 'retireByUser' | 'purgeExpired' | 'count' | 'lockOnly'
  > {
  /** Always true: the express store cannot compare-and-set, the manager's strict lock is its protection. */
  readonly lockOnly: true;
  /**
   * With `legacyKeys: true` only: moves a session express-session stored under its raw id to the hash of the id
   * (see {@link SessionStore.migrateLegacy}).
   */
  migrateLegacy?: (rawId: string, key: string, adopt: LegacyAdopter) => Promise<SessionRecord | null>;
  readonly immediate: false;
  listByUser?: never;
  deleteByUser?: never;
  retireByUser?: never;
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
  /**
   * Take over the sessions express-session itself wrote, stored under the raw id: the manager (with
   * `legacyCookies: 'express-session'` and express-session's secret) accepts their cookies, and after a miss on
   * the hash of such an id this bridge reads the raw id once, rewrites the session under the hash and destroys
   * the raw entry, so live sessions survive the switch. Keep it on while old cookies may still come back (their
   * lifetime); off, the bridge never reads a raw id.
   * @default false
   */
  legacyKeys?: boolean;
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
  const legacyKeys = options.legacyKeys ?? false;
  if (typeof legacyKeys !== 'boolean') throw typeError('legacyKeys must be true or false');

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

  async function write(
    key: string,
    record: SessionRecord,
    expected: number | null,
    ttlMs: number,
  ): Promise<boolean> {
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
  }

  /** The raw entry under the hash: read it, have the manager convert it, write as absent, destroy the raw one. */
  async function migrateLegacy(
    rawId: string,
    key: string,
    adopt: LegacyAdopter,
  ): Promise<SessionRecord | null> {
    if (typeof rawId !== 'string' || rawId === '' || typeof key !== 'string' || key === '') {
      throw typeError('migrateLegacy needs a raw id and a key (non-empty strings)');
    }
    if (typeof adopt !== 'function') throw typeError('migrateLegacy needs an adopt function');
    const session = await call<unknown>('get', (cb) => store.get(rawId, cb));
    // Gone: never there, expired, or moved meanwhile by a concurrent request (then it is under the hash).
    if (session === null || session === undefined) return read(key);
    const adopted = adopt(session);
    if (adopted === null) return null;
    if (!(await write(key, adopted.record, null, adopted.ttlMs))) return read(key);
    await call<void>('delete', (cb) => store.destroy(rawId, cb));
    return structuredClone(adopted.record);
  }

  const bridge: ExpressBridgeStore = {
    immediate: false,
    lockOnly: true,

    get(key) {
      return read(key);
    },

    set: write,

    async delete(key) {
      await call<void>('delete', (cb) => store.destroy(key, cb));
    },
  };
  if (legacyKeys) bridge.migrateLegacy = migrateLegacy;
  return bridge;
}
