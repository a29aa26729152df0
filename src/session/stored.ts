/**
 * Stored sessions: the session lives in the store under the hash of its id, and the cookie carries the
 * id. Loading takes the session's in-process lock and reads its record (following renewal pointers);
 * committing is in `stored-commit.ts`.
 */
import {
  freshSession,
  loadedState,
  type ManagerContext,
  type RequestFacts,
  type SessionBackend,
  type SessionInfo,
} from './context.js';
import { SessionStoreTimeoutError, tellerMessage } from './errors.js';
import { decodeIdCookie, refOf, storeKeyOf } from './ids.js';
import { decodeLegacyCookie, migrateLegacySession } from './legacy.js';
import type { Release, WaitTimedOut } from './lock.js';
import { LIMITS } from './options.js';
import { isLive, isUsable, parseValues } from './records.js';
import { reportLockWait } from './report.js';
import { checkReuse, isRetirement } from './reuse.js';
import { Session, stateOf } from './session.js';
import { type Origin, resetChanges, resetToFresh, type SessionState } from './state.js';
import type { SessionRecord } from './store.js';
import type { Budget, StoreCalls } from './store-calls.js';
import { commitStored } from './stored-commit.js';
import { listUserSessions, revokeUserSessions } from './users.js';

/**
 * What a cookie's key names: a session, an id retired by login/regenerate (`retiredTo`) or carrying a
 * retirement record (`retired`: the record under the cookie's own key), an ended record, nothing.
 */
type Found =
  | Origin
  | { retiredTo: string | undefined; retired: SessionRecord | undefined }
  | 'expired'
  | null;

function isOrigin(found: Found): found is Origin {
  return found !== null && typeof found === 'object' && 'record' in found;
}

export class StoredBackend implements SessionBackend {
  readonly #ctx: ManagerContext;
  readonly #calls: StoreCalls;

  constructor(ctx: ManagerContext, calls: StoreCalls) {
    this.#ctx = ctx;
    this.#calls = calls;
  }

  /**
   * The session the cookie names. With a store that answers synchronously (`StoreCalls.sync`) and the lock
   * free, the common case (a live record under the cookie's key) completes without a promise: the Session
   * itself is returned. Anything else (a wait for the lock, a pointer, a legacy id, an ended record, a store
   * that answers later) goes on asynchronously, exactly as before.
   */
  load(raw: string, facts: RequestFacts): Session | Promise<Session> {
    const ctx = this.#ctx;
    const { now } = facts;
    const secrets = ctx.options.secrets;
    let id = decodeIdCookie(raw, secrets);
    // Not one of Teller's: perhaps express-session's, when the manager takes those (off the ordinary path).
    let legacy = false;
    if (id === undefined && ctx.options.legacyCookies !== undefined) {
      id = decodeLegacyCookie(raw, secrets!);
      legacy = id !== undefined;
    }
    if (id === undefined) {
      ctx.report.emit('rejected', now, undefined, {
        detail: secrets ? 'malformed or badly signed id' : 'malformed id',
      });
      ctx.report.log('debug', tellerMessage('session', 'refused a malformed session cookie'));
      ctx.guard?.miss(facts.meta?.ip, raw, now);
      return freshSession(ctx, facts, true);
    }
    const key = storeKeyOf(id);
    // Uncontended (or not wanted), the lock costs no await.
    const held = this.#lock(key, facts);
    if (typeof held === 'function' || held === undefined)
      return this.#read(raw, facts, id, legacy, key, held);
    return this.#readAfterWait(raw, facts, id, legacy, key, held);
  }

  /** {@link load} once the lock was waited for. */
  async #readAfterWait(
    raw: string,
    facts: RequestFacts,
    id: string,
    legacy: boolean,
    key: string,
    held: Promise<Release | WaitTimedOut>,
  ): Promise<Session> {
    const release = this.#granted(await held, key, facts.now);
    return this.#read(raw, facts, id, legacy, key, release);
  }

  /**
   * {@link load} under the lock (`release`; undefined: without it). One budget for every store call of this
   * load. It starts once the lock is settled: time spent waiting behind a slow handler is bounded by
   * lockTimeout, and a holder whose store call timed out fails its waiters at once, so a hung store answers
   * every queued request in time.
   */
  #read(
    raw: string,
    facts: RequestFacts,
    id: string,
    legacy: boolean,
    key: string,
    release: Release | undefined,
  ): Session | Promise<Session> {
    const calls = this.#calls;
    const b = calls.budget(facts.now);
    if (!calls.sync) return this.#readLater(raw, facts, id, legacy, key, release, b);
    let record: SessionRecord | null;
    try {
      record = calls.getNow(key, b);
    } catch (error) {
      this.#abandon(error, key, release);
      throw error;
    }
    if (isLive(record, facts.now))
      return this.#opened(facts, id, legacy, { key, pointerKey: undefined, record }, release, key);
    return this.#resolveRest(raw, facts, id, legacy, key, release, b, record);
  }

  /** {@link #read} with a store that answers later. */
  async #readLater(
    raw: string,
    facts: RequestFacts,
    id: string,
    legacy: boolean,
    key: string,
    release: Release | undefined,
    b: Budget,
  ): Promise<Session> {
    let record: SessionRecord | null;
    try {
      // The live record read here, not in a further async function: a promise turn and a settled promise
      // less per request (pointers, legacy ids and ended records go the long way).
      record = await this.#calls.get(key, b);
    } catch (error) {
      this.#abandon(error, key, release);
      throw error;
    }
    if (isLive(record, facts.now))
      return this.#opened(facts, id, legacy, { key, pointerKey: undefined, record }, release, key);
    return await this.#resolveRest(raw, facts, id, legacy, key, release, b, record);
  }

  /** A load failed: its lock released (and, when the store timed out, the requests queued on it failed too). */
  #abandon(error: unknown, lockKey: string | undefined, release: Release | undefined): void {
    if (error instanceof SessionStoreTimeoutError && lockKey !== undefined && release !== undefined) {
      this.#ctx.lock.fail(lockKey, error, release);
    }
    release?.();
  }

  /** {@link load} when the record under the cookie's key is not live: pointers, legacy ids, ended records. */
  async #resolveRest(
    raw: string,
    facts: RequestFacts,
    id: string,
    legacy: boolean,
    key: string,
    held: Release | undefined,
    b: Budget,
    record: SessionRecord | null,
  ): Promise<Session> {
    const ctx = this.#ctx;
    const { now } = facts;
    let release = held;
    let lockKey: string | undefined = release === undefined ? undefined : key;
    try {
      let found: Found = await this.#resolveFrom(key, record, b, legacy ? id : undefined, facts);
      for (let hops = 0; isOrigin(found) && found.pointerKey !== undefined && release !== undefined; hops++) {
        // An old, renewed id: requests with the old and the new cookie must wait for one another, so
        // hold the live record's lock instead of the pointer's, and resolve again under it (the holder
        // may have renewed the record meanwhile: then the lock to hold is the next one's).
        const target = found.key;
        if (lockKey === target) break;
        if (hops === LIMITS.maxPointerHops) {
          found = 'expired';
          break;
        }
        release();
        const again = this.#lock(target, facts);
        let left = b;
        if (typeof again === 'function' || again === undefined) release = again;
        else {
          release = this.#granted(await again, target, now);
          left = this.#calls.budget(now); // the wait was a handler's, not the store's
        }
        lockKey = release === undefined ? undefined : target;
        found = await this.#resolveOrigin(key, left);
      }
      if (!isOrigin(found)) {
        release?.();
        if (found === null) {
          ctx.report.emit('rejected', now, key, { detail: 'unknown id' });
          ctx.guard?.miss(facts.meta?.ip, raw, now);
        } else ctx.report.emit('expired', now, key);
        const fresh = freshSession(ctx, facts, true);
        if (found !== null && found !== 'expired') {
          // An id retired by login or regenerate: its logout or destroy must reach the successor.
          stateOf(fresh).retiredTo = found.retiredTo;
          // Off the ordinary path: an id presented after it was retired (stolen-id detection).
          if (found.retired !== undefined) await checkReuse(ctx, this.#calls, found.retired, facts, b);
        }
        return fresh;
      }
      return this.#opened(facts, id, legacy, found, release, lockKey);
    } catch (error) {
      this.#abandon(error, lockKey, release);
      throw error;
    }
  }

  /** The session of a live record found under the lock (`release`, of `lockKey`); fresh when unreadable. */
  #opened(
    facts: RequestFacts,
    id: string,
    legacy: boolean,
    found: Origin,
    release: Release | undefined,
    lockKey: string | undefined,
  ): Session {
    const ctx = this.#ctx;
    let values: Map<string, unknown>;
    try {
      values = parseValues(ctx.options, found.record.data);
    } catch (error) {
      release?.();
      ctx.report.log(
        'warn',
        tellerMessage('session', 'a stored session could not be parsed; starting a fresh one'),
        {
          ref: refOf(found.key),
          error: error instanceof Error ? error.message : String(error),
        },
      );
      return freshSession(ctx, facts, true);
    }
    const state = loadedState(ctx, facts, id, found, values);
    if (legacy) state.legacyId = id;
    state.release = release;
    state.lockKey = release === undefined ? undefined : lockKey;
    return new Session(state);
  }

  /**
   * The session lock of `key` for this request: granted now, a wait, or undefined when the request asked
   * for none (`lock: false`). A store without compare-and-set keeps the strict rule (a wait past the bound
   * is a SessionLockTimeoutError); every other store's request goes on without the lock after the bound.
   */
  #lock(key: string, facts: RequestFacts): Release | Promise<Release | WaitTimedOut> | undefined {
    const lock = this.#ctx.lock;
    // The lock is all a store without compare-and-set has: `lock: false` does not apply to it.
    if (this.#calls.store.lockOnly === true) return lock.acquire(key, LIMITS.lockOnlyWaitMs);
    if (!facts.lock) return undefined;
    return lock.enter(key, this.#ctx.options.lockTimeout, facts.route);
  }

  /** What a wait for the lock ended with: the lock, or (reported) the lock taken over or none. */
  #granted(got: Release | WaitTimedOut, key: string, now: number): Release | undefined {
    if (typeof got === 'function') return got;
    reportLockWait(this.#ctx.report, now, key, got.heldBy, got.heldForMs);
    return got.release;
  }

  /**
   * The record a key names, following renewal pointers (each usable within its own grace) to the live
   * record; null when absent, 'expired' when not usable, or the successor's key when login or regenerate
   * retired it.
   */
  async #resolveOrigin(key: string, b: Budget): Promise<Found> {
    return this.#resolveFrom(key, await this.#calls.get(key, b), b);
  }

  /**
   * {@link #resolveOrigin} once the record under `key` was read (`first`). With `legacyId` (an
   * express-session cookie's id, `key` its hash), a miss asks a store that can to take the session over
   * from the raw id.
   */
  async #resolveFrom(
    key: string,
    first: SessionRecord | null,
    b: Budget,
    legacyId?: string,
    facts?: RequestFacts,
  ): Promise<Found> {
    const now = b.now;
    let record = first;
    if (record === null || record === undefined) {
      if (legacyId === undefined || this.#calls.store.migrateLegacy === undefined) return null;
      record = await migrateLegacySession(this.#ctx, this.#calls, legacyId, key, facts!, b);
      if (record === null) return null;
    }
    let at = key;
    for (let hop = 0; ; hop++) {
      const usable: boolean = isUsable(record, now);
      if (!usable) {
        // Retired by login or regenerate (the cookie's id itself, or the record it was renewed into): the
        // session goes on under `rotatedTo`, which a logout or destroy with this cookie must reach.
        const retiredTo = typeof record.rotatedTo === 'string' ? record.rotatedTo : undefined;
        // The cookie's own id retired (not a record reached through a pointer still in its grace).
        const retired = hop === 0 && isRetirement(record) ? record : undefined;
        return retiredTo !== undefined || retired !== undefined ? { retiredTo, retired } : 'expired';
      }
      if (record.movedTo === undefined) return { key: at, pointerKey: hop === 0 ? undefined : key, record };
      if (hop === LIMITS.maxPointerHops) return 'expired';
      at = record.movedTo;
      record = await this.#calls.get(at, b);
      if (record === null || record === undefined) return 'expired';
    }
  }

  commit(state: SessionState): string[] | Promise<string[]> {
    return commitStored(this.#ctx, this.#calls, state);
  }

  async reload(state: SessionState): Promise<void> {
    const origin = state.origin;
    if (origin === null) {
      resetChanges(state, new Map());
      return;
    }
    const record = await this.#calls.get(origin.key, this.#calls.budget(state.now));
    if (!isLive(record, state.now)) {
      resetToFresh(state);
      return;
    }
    state.origin = { ...origin, record };
    state.userId = state.userChanged ? state.userId : record.userId;
    resetChanges(state, parseValues(this.#ctx.options, record.data));
  }

  /**
   * Before commit, the record the session was loaded from (its commit compare-and-sets it, even when
   * logging in); after, the one commit wrote.
   */
  keepKey(session: Session): string {
    const state = stateOf(session);
    return state.committed ? session.handle : (state.storedKey ?? session.handle);
  }

  listSessions(userId: string, now: number): Promise<SessionInfo[]> {
    return listUserSessions(this.#calls, userId, this.#calls.budget(now));
  }

  revokeSessions(userId: string, exceptKey: string | undefined, now: number): Promise<number> {
    return revokeUserSessions(this.#calls, userId, exceptKey, this.#calls.budget(now), this.#ctx.options);
  }

  close(now: number): Promise<void> {
    return this.#calls.close(this.#calls.budget(now));
  }
}
