/**
 * Stored sessions: the session lives in the store under the hash of its id, and the cookie carries the
 * id. Loading takes the session's in-process lock and reads its record (following one renewal pointer);
 * committing is in `stored-commit.ts`.
 */
import {
  freshSession,
  type ManagerContext,
  type RequestFacts,
  type SessionBackend,
  type SessionInfo,
} from './context.js';
import { SessionStoreTimeoutError, tellerMessage } from './errors.js';
import { decodeIdCookie, refOf, storeKeyOf } from './ids.js';
import { LIMITS } from './options.js';
import { isLive, isUsable, parseValues } from './records.js';
import { Session, stateOf } from './session.js';
import { createState, type Origin, resetChanges, resetToFresh, type SessionState } from './state.js';
import type { Budget, StoreCalls } from './store-calls.js';
import { commitStored } from './stored-commit.js';
import { listUserSessions, revokeUserSessions } from './users.js';

/** What a cookie's key names: a session, an id retired by login/regenerate, an ended record, nothing. */
type Found = Origin | { retiredTo: string } | 'expired' | null;

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

  async load(raw: string, facts: RequestFacts): Promise<Session> {
    const ctx = this.#ctx;
    const { now } = facts;
    const secrets = ctx.options.secrets;
    const id = decodeIdCookie(raw, secrets);
    if (id === undefined) {
      ctx.report.emit('rejected', now, undefined, {
        detail: secrets ? 'malformed or badly signed id' : 'malformed id',
      });
      ctx.report.log('debug', tellerMessage('session', 'refused a malformed session cookie'));
      return freshSession(ctx, facts, true);
    }
    const key = storeKeyOf(id);
    const lock = ctx.lock;
    const lockTimeout = ctx.options.lockTimeout;
    let lockKey = key;
    const held = lock.acquire(key, lockTimeout);
    // Uncontended, the lock is granted at once: no await, no microtask.
    let release = typeof held === 'function' ? held : await held;
    // One budget for every store call of this load. It starts once the lock is held: time spent
    // waiting behind a slow handler is bounded by lockTimeout, and a holder whose store call timed
    // out fails its waiters at once (below), so a hung store answers every queued request in time.
    const b = this.#calls.budget(now);
    try {
      let found = await this.#resolveOrigin(key, b);
      if (isOrigin(found) && found.pointerKey !== undefined) {
        // An old, renewed id: requests with the old and the new cookie must wait for one another, so
        // hold the live record's lock instead of the pointer's, and read the record again under it.
        const target = found.key;
        release();
        lockKey = target;
        const again = lock.acquire(target, lockTimeout);
        let left = b;
        if (typeof again === 'function') release = again;
        else {
          release = await again;
          left = this.#calls.budget(now); // the wait was a handler's, not the store's
        }
        const record = await this.#calls.get(target, left);
        found = isLive(record, now) ? { key: target, pointerKey: key, record } : 'expired';
      }
      if (!isOrigin(found)) {
        release();
        if (found === null) ctx.report.emit('rejected', now, key, { detail: 'unknown id' });
        else ctx.report.emit('expired', now, key);
        const fresh = freshSession(ctx, facts, true);
        // An id retired by login or regenerate: its logout or destroy must reach the successor.
        if (found !== null && found !== 'expired') stateOf(fresh).retiredTo = found.retiredTo;
        return fresh;
      }
      let values: Map<string, unknown>;
      try {
        values = parseValues(ctx.options, found.record.data);
      } catch (error) {
        release();
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
      const { secure, cookieName, meta } = facts;
      const state = createState({
        host: ctx.host,
        now,
        secure,
        cookieName,
        meta,
        cookies: facts.cookies,
        cookieSent: true,
        id,
        key,
        origin: found,
        values,
      });
      state.release = release;
      state.lockKey = lockKey;
      return new Session(state);
    } catch (error) {
      if (error instanceof SessionStoreTimeoutError) lock.fail(lockKey, error);
      release();
      throw error;
    }
  }

  /**
   * The record a key names, following renewal pointers (each usable within its own grace) to the live
   * record; null when absent, 'expired' when not usable, or the successor's key when login or regenerate
   * retired it.
   */
  async #resolveOrigin(key: string, b: Budget): Promise<Found> {
    const now = b.now;
    let record = await this.#calls.get(key, b);
    if (record === null || record === undefined) return null;
    let at = key;
    for (let hop = 0; ; hop++) {
      const usable: boolean = isUsable(record, now);
      if (!usable) {
        const retiredTo = hop === 0 ? record.rotatedTo : undefined;
        return typeof retiredTo === 'string' ? { retiredTo } : 'expired';
      }
      if (record.movedTo === undefined) return { key: at, pointerKey: hop === 0 ? undefined : key, record };
      if (hop === LIMITS.maxPointerHops) return 'expired';
      at = record.movedTo;
      record = await this.#calls.get(at, b);
      if (record === null || record === undefined) return 'expired';
    }
  }

  commit(state: SessionState): Promise<string[]> {
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
    return revokeUserSessions(this.#calls, userId, exceptKey, this.#calls.budget(now));
  }

  close(now: number): Promise<void> {
    return this.#calls.close(this.#calls.budget(now));
  }
}
