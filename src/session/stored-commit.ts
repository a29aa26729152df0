/**
 * Committing a stored session: every write is a compare-and-set against the version the request saw.
 * On a conflict the newest record is read and this request's writes are re-applied onto it (keys only
 * written merge, `update()` re-runs, a key read and then written that changed meanwhile is a
 * SessionConflictError). Rotation (login, regenerate) and renewal write the record under a new key, then
 * retire the old one; logout and destroy retire theirs.
 */

import { cookieFor, type ManagerContext } from './context.js';
import { deleteCookieLine } from './cookie-policy.js';
import {
  SessionConflictError,
  SessionDestroyedError,
  SessionStoreError,
  SessionStoreTimeoutError,
  tellerMessage,
} from './errors.js';
import { encodeIdCookie, storeKeyOf } from './ids.js';
import { encodeLegacyCookie } from './legacy.js';
import { LIMITS, type ResolvedOptions } from './options.js';
import {
  buildRecord,
  endedRecord,
  isLive,
  issuedAt,
  isUsable,
  makeRecord,
  parseValues,
  type Retirement,
  retirement,
  sameValue,
  serializeValues,
  touchDue,
  ttlOf,
} from './records.js';
import {
  carriedName,
  clearsCookie,
  ensureId,
  ISSUED_AT_KEY,
  type Origin,
  replay,
  type SessionState,
  worthStoring,
} from './state.js';
import type { SessionRecord } from './store.js';
import type { Budget, StoreCalls } from './store-calls.js';
import { assertJsonValue } from './values.js';

type WriteMode = 'write' | 'touch' | 'rotate' | 'renew';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What a commit of a loaded session does: its write mode (none: nothing to do), the data serialized for it. */
interface Plan {
  mode: WriteMode | undefined;
  data: string | undefined;
  /** The cookie moves to its new name (legacy.ts). */
  moving: boolean;
}

/**
 * Persists what the request did; the Set-Cookie lines to send. With a store that answers synchronously
 * (`StoreCalls.sync`), the common commits (nothing to do, a first write, a write or touch that lands) are
 * done without a promise and the lines returned as they are; the rest (retiring records, rotation and
 * renewal, merging after a conflict, a store that answers later) goes on asynchronously.
 */
export function commitStored(
  ctx: ManagerContext,
  calls: StoreCalls,
  state: SessionState,
): string[] | Promise<string[]> {
  const origin = state.origin;
  // A fresh session that ends with nothing to store, retire or delete (most first requests): no store
  // call, so no deadline to start and no promise turn through commitNew.
  if (
    origin === null &&
    state.discarded.length === 0 &&
    state.retiredTo === undefined &&
    !worthStoring(state)
  )
    return unstored(ctx, state);
  if (!calls.sync || state.discarded.length > 0 || state.retiredTo !== undefined)
    return commitLater(ctx, calls, state, undefined);
  const now = state.now;
  const b = calls.budget(now);
  if (origin === null) {
    const { id, key, record } = newRecord(ctx, state);
    if (!calls.setNow(key, record, null, ttlOf(record, now), b)) throw keyInUse();
    return created(ctx, state, id, key, record);
  }
  const plan = planOf(ctx.options, state, origin);
  const mode = plan.mode;
  if (mode === undefined) return [];
  if (mode !== 'write' && mode !== 'touch')
    return commitLater(ctx, calls, state, { b, plan, lost: false, roundStarted: performance.now() });
  const roundStarted = performance.now();
  const base = origin.record;
  const record = inPlaceRecord(ctx.options, state, mode, base, state.values, plan.data);
  // A request with the old id (through a renewal pointer) proves nothing about who holds the new one.
  if (base.unconfirmed === true && origin.pointerKey !== undefined) record.unconfirmed = true;
  if (calls.setNow(origin.key, record, base.version, ttlOf(record, now), b))
    return writtenLines(ctx, state, origin, mode, plan.moving, origin.key, record, 0);
  if (mode === 'touch') return []; // someone else wrote (and so touched) the session meanwhile
  return commitLater(ctx, calls, state, { b, plan, lost: true, roundStarted });
}

/** How {@link commitLater} goes on from a commit begun synchronously: its budget, plan, first write's outcome. */
interface Resumed {
  b: Budget;
  plan: Plan;
  /** The first write was made and lost its compare-and-set. */
  lost: boolean;
  roundStarted: number;
}

/** {@link commitStored}'s asynchronous path (from the start, or `resumed` after its synchronous first step). */
async function commitLater(
  ctx: ManagerContext,
  calls: StoreCalls,
  state: SessionState,
  resumed: Resumed | undefined,
): Promise<string[]> {
  const now = state.now;
  const origin = state.origin;
  let b: Budget;
  let plan: Plan;
  if (resumed === undefined) {
    b = calls.budget(now);
    if (state.discarded.length > 0) {
      // The ids logout or destroy ended leave a retirement record (stolen-id detection, the `reuse` option).
      const by = state.lifecycle.includes('logout') ? 'logout' : 'destroy';
      const keepsRetired = calls.store.lockOnly !== true;
      for (const ended of state.discarded) {
        // Not in an express-session store (lockOnly): its apps expect a destroyed session to be gone.
        const mark = keepsRetired ? retirement(ctx.options, ended.record, by, now) : undefined;
        await retire(calls, ended.key, ended.record.version, b, 0, mark);
        if (ended.pointerKey !== undefined) await calls.delete(ended.pointerKey, b);
      }
    }
    // The cookie named an id that login or regenerate retired: its logout or destroy ends the successor.
    if (state.retiredTo !== undefined && clearsCookie(state))
      await retire(calls, state.retiredTo, null, b, 0);
    // Awaited, not returned: an async function returning a promise costs two more promise turns.
    if (origin === null) return await commitNew(ctx, calls, state, b);
    plan = planOf(ctx.options, state, origin);
    if (plan.mode === undefined) return [];
  } else {
    b = resumed.b;
    plan = resumed.plan;
  }
  const options = ctx.options;
  const loaded = origin!;
  const moving = plan.moving;
  let mode = plan.mode as WriteMode;
  let data = plan.data;
  let base = loaded.record;
  let baseKey = loaded.key;
  let values = state.values;
  let roundStarted = resumed?.roundStarted ?? performance.now();
  for (let attempt = 0; ; attempt++) {
    let written: SessionRecord | null;
    if (attempt === 0 && resumed?.lost === true) written = null;
    else if (mode === 'write' || mode === 'touch') {
      // The common case awaits the store here rather than in a further async function: a promise turn
      // and a settled promise less per commit.
      const record = inPlaceRecord(options, state, mode, base, values, data);
      if (base.unconfirmed === true && loaded.pointerKey !== undefined) record.unconfirmed = true;
      written = (await calls.set(baseKey, record, base.version, ttlOf(record, now), b)) ? record : null;
    } else written = await rotateOnce(ctx, calls, state, mode, baseKey, base, values, b);
    if (written !== null) return writtenLines(ctx, state, loaded, mode, moving, baseKey, written, attempt);
    if (mode === 'touch') return []; // someone else wrote (and so touched) the session meanwhile
    // Writes that do not truly conflict keep merging for as long as the store time budget lasts, stopping
    // while a round (a read and a write) still fits: a budget spent on merges is a 409, not a store timeout.
    // Jittered backoff from the second conflict on, so writers in lock-step cannot starve one another.
    const pause = attempt > 0 ? Math.random() * Math.min(2 ** attempt, 50) : 0;
    const round = performance.now() - roundStarted;
    if (performance.now() + pause + 2 * round >= b.deadline) {
      throw new SessionConflictError(
        tellerMessage(
          'session',
          `the session kept changing for storeTimeout (${attempt + 1} merges); nothing was saved`,
        ),
      );
    }
    if (pause > 0) await sleep(pause);
    roundStarted = performance.now();
    let newest = await calls.get(baseKey, b);
    for (let hop = 0; hop < LIMITS.maxPointerHops && isUsable(newest, now) && newest.movedTo; hop++) {
      // Another process renewed the id meanwhile: write to the new record, keep the client's id.
      baseKey = newest.movedTo;
      newest = await calls.get(baseKey, b);
    }
    if (!isLive(newest, now)) throw destroyedError(ctx, state, baseKey);
    if (mode === 'renew') mode = 'write'; // someone else wrote; renew on a later request
    values = reapply(ctx, state, loaded, parseValues(options, newest.data));
    data = undefined;
    base = newest;
  }
}

/** What the commit of a loaded session is to do. */
function planOf(options: ResolvedOptions, state: SessionState, origin: Origin): Plan {
  const now = state.now;
  let mode: WriteMode | undefined;
  if (state.rotate) mode = 'rotate';
  else if (
    options.renewAfter !== undefined &&
    !state.passive &&
    origin.pointerKey === undefined &&
    now - issuedAt(origin, state.values) >= options.renewAfter
  )
    mode = 'renew';
  // Writes that cancel out (set then delete, delete of an absent key, an update to the same value)
  // change nothing: no write, at most the throttled touch. The text serialized here is reused below.
  let data: string | undefined;
  if (mode === undefined && state.ops !== undefined && state.ops.size > 0) {
    data = serializeValues(options, state.values);
    if (data !== origin.record.data) mode = 'write';
  }
  // A cookie to move to its new name (legacy.ts) is written by a touch: its compare-and-set fails, and no
  // cookie is set, when another request changed the session meanwhile (a login of this browser may have
  // retired the id: the new name must not carry it). Not for an id loaded through a renewal pointer. A
  // passive request (a poll) never touches otherwise: not the throttled touch, not `session.touch()`.
  const moving = state.movedFrom !== undefined && origin.pointerKey === undefined;
  // The first request that presents a rotated id writes its record once without `unconfirmed`: the browser
  // holds the new id (stolen-id detection). Not a request that came through a renewal pointer (the old id).
  if (
    mode === undefined &&
    (moving ||
      (origin.record.unconfirmed === true && origin.pointerKey === undefined) ||
      (!state.passive && (state.touchRequested || touchDue(options, origin.record, now))))
  ) {
    mode = 'touch';
  }
  return { mode, data, moving };
}

/** A write landed (`written`, under `baseKey`, after `attempt` merges): its events and the cookie to send. */
function writtenLines(
  ctx: ManagerContext,
  state: SessionState,
  origin: Origin,
  mode: WriteMode,
  moving: boolean,
  baseKey: string,
  written: SessionRecord,
  attempt: number,
): string[] {
  const now = state.now;
  const rotated = mode === 'rotate' || mode === 'renew';
  state.storedKey = rotated ? state.key : baseKey;
  if (attempt > 0) ctx.report.emit('merged', now, baseKey, { detail: String(attempt) });
  const out: string[] = [];
  // A persistent cookie's Max-Age follows the session's lifetime: re-sent on every write, unless the
  // id was renewed meanwhile (the client has the new one from that response; this one's is retired),
  // or the request is passive (its write extended nothing, so there is nothing to tell the browser);
  // a cookie moved to its new name is always sent.
  if (
    rotated ||
    (((written.persistent && !state.passive) || moving) &&
      origin.pointerKey === undefined &&
      baseKey === origin.key)
  ) {
    out.push(cookieFor(ctx, state, written, idCookieValue(ctx, state)));
  }
  if (mode === 'renew') ctx.report.emit('renewed', now, state.key, { userId: written.userId });
  if (mode === 'touch') ctx.report.emit('touched', now, baseKey);
  ctx.report.lifecycle(state, state.key);
  return out;
}

/**
 * The cookie value of the session's id: Teller's, or express-session's while the session keeps the id of the
 * express-session cookie it was loaded with (`legacyCookies`; the next login or regenerate gives a Teller id).
 */
function idCookieValue(ctx: ManagerContext, state: SessionState): string {
  const id = state.id!;
  const secrets = ctx.options.secrets;
  return id === state.legacyId ? encodeLegacyCookie(id, secrets!) : encodeIdCookie(id, secrets);
}

/** A session with no record yet: stored when worth storing (its first write), else nothing. */
async function commitNew(
  ctx: ManagerContext,
  calls: StoreCalls,
  state: SessionState,
  b: Budget,
): Promise<string[]> {
  if (!worthStoring(state)) return unstored(ctx, state);
  const { id, key, record } = newRecord(ctx, state);
  const ok = await calls.set(key, record, null, ttlOf(record, state.now), b);
  if (!ok) throw keyInUse();
  return created(ctx, state, id, key, record);
}

/** The first record of a new session, under its (new) id's key. */
function newRecord(
  ctx: ManagerContext,
  state: SessionState,
): { id: string; key: string; record: SessionRecord } {
  const id = ensureId(state);
  const key = state.key!;
  const values = state.values;
  values.delete(ISSUED_AT_KEY);
  const record = buildRecord(ctx.options, state, null, serializeValues(ctx.options, values), 1);
  return { id, key, record };
}

function keyInUse(): SessionStoreError {
  return new SessionStoreError(tellerMessage('session', 'the store refused a new session (key in use)'));
}

/** A new session's record was stored: its events, and its cookie. */
function created(
  ctx: ManagerContext,
  state: SessionState,
  id: string,
  key: string,
  record: SessionRecord,
): string[] {
  state.storedKey = key;
  ctx.report.emit('created', state.now, key, { userId: record.userId });
  ctx.report.lifecycle(state, key);
  return [cookieFor(ctx, state, record, encodeIdCookie(id, ctx.options.secrets))];
}

/** A fresh session left unstored: its lifecycle events, and the cookie to clear after a logout or destroy. */
function unstored(ctx: ManagerContext, state: SessionState): string[] {
  ctx.report.lifecycle(state, state.discarded[0]?.key);
  return clearsCookie(state) ? [deleteCookieLine(ctx.options.policy, state.secure, carriedName(state))] : [];
}

/** The record a write or touch puts in place of `base` (the next version, under the same key). */
function inPlaceRecord(
  options: ResolvedOptions,
  state: SessionState,
  mode: 'write' | 'touch',
  base: SessionRecord,
  values: Map<string, unknown>,
  serialized: string | undefined,
): SessionRecord {
  const data = mode === 'touch' ? base.data : (serialized ?? serializeValues(options, values));
  return buildRecord(options, state, base, data, base.version + 1);
}

/** One rotate or renew attempt; the record written under the new key, or null on a conflict. */
async function rotateOnce(
  ctx: ManagerContext,
  calls: StoreCalls,
  state: SessionState,
  mode: 'rotate' | 'renew',
  baseKey: string,
  base: SessionRecord,
  values: Map<string, unknown>,
  b: Budget,
): Promise<SessionRecord | null> {
  const now = state.now;
  const options = ctx.options;
  // rotate / renew: the record under a new key first, then the old key retired by compare-and-set.
  const previous = { id: state.id, key: state.key };
  if (mode === 'renew') {
    state.id = state.host.newId();
    state.key = storeKeyOf(state.id);
  }
  const newKey = state.key!;
  const next = new Map(values);
  if (options.renewAfter !== undefined && !state.restartLifetime) next.set(ISSUED_AT_KEY, now);
  else next.delete(ISSUED_AT_KEY);
  const record = buildRecord(options, state, base, serializeValues(options, next), 1);
  // Until a request presents the new id, the old one presented again is no proof that two parties hold it.
  record.unconfirmed = true;
  if (!(await calls.set(newKey, record, null, ttlOf(record, now), b))) throw keyInUse();
  // The old key: a pointer to the new record for the grace window (renew), or an ended record linking to
  // its successor (rotate), kept while the retired session could have lived, so that a logout carrying the
  // old id, now or racing this commit, ends the successor too.
  // Both are kept until the retired session's absolute expiry would have come (at most 30 days), with
  // what retired the id and when, for stolen-id detection (the `reuse` option).
  const retired = makeRecord('', base.version + 1, base.createdAt, now, 0);
  const by = mode === 'renew' ? 'renewal' : state.lifecycle.includes('login') ? 'login' : 'regenerate';
  const mark = retirement(options, base, by, now, record.userId);
  retired.retired = mark.retired;
  const ttl = mark.ttl;
  if (mode === 'renew') {
    retired.expiresAt = Math.min(now + options.renewGrace, record.expiresAt);
    retired.movedTo = newKey;
  } else retired.rotatedTo = newKey;
  let ok: boolean;
  try {
    ok = await calls.set(baseKey, retired, base.version, ttl, b);
    if (ok && mode === 'rotate') {
      const origin = state.origin!;
      if (origin.pointerKey !== undefined) await calls.delete(origin.pointerKey, b);
      // Another process renewed the id meanwhile: the key this request loaded is now a pointer.
      if (baseKey !== origin.key) await calls.delete(origin.key, b);
    }
  } catch (error) {
    // The new record is written, and the old id may be retired already (a call that failed may have landed):
    // the 503 carries the new id's cookie, so the browser follows its data whichever way the retire went.
    throw carryingCookie(error, cookieFor(ctx, state, record, idCookieValue(ctx, state)));
  }
  if (!ok) {
    await calls.delete(newKey, b);
    if (mode === 'renew') {
      state.id = previous.id;
      state.key = previous.key;
    }
    return null;
  }
  return record;
}

/** A store error as a new one of its kind whose answer carries `setCookie` (never the caller's object changed). */
function carryingCookie(error: unknown, setCookie: string): unknown {
  if (!(error instanceof SessionStoreError)) return error;
  const Kind = error instanceof SessionStoreTimeoutError ? SessionStoreTimeoutError : SessionStoreError;
  return new Kind(error.message, { cause: error.cause, setCookie });
}

/**
 * Ends the record under `key` for good (logout, destroy): an ended record by compare-and-set against the
 * version this request saw (`null`: read it first), then a delete. When the compare-and-set fails,
 * the newest record is read: another process may have renewed the id meanwhile, leaving a pointer, so
 * the record it points to is ended too (otherwise the renewed session would outlive the logout).
 */
async function retire(
  calls: StoreCalls,
  key: string,
  expected: number | null,
  b: Budget,
  depth: number,
  mark?: Retirement,
): Promise<void> {
  let version = expected;
  for (let attempt = 0; ; attempt++) {
    if (version !== null) {
      // With `mark`, the ended record stays as the id's retirement record (no delete).
      const ttl = mark === undefined ? LIMITS.tombstoneTtlMs : mark.ttl;
      if (await calls.set(key, endedRecord(version, mark), version, ttl, b)) {
        if (mark !== undefined) return;
        break;
      }
    }
    if (attempt >= LIMITS.maxMerges) {
      throw new SessionConflictError(
        tellerMessage('session', 'the session kept changing while it was ended'),
      );
    }
    const current = await calls.get(key, b);
    if (current === null || current === undefined) return;
    // A renewal pointer, or the link login/regenerate left: end the record it leads to as well (a chain
    // is at most a few links long).
    const next = current.movedTo ?? current.rotatedTo;
    if (next !== undefined && depth < LIMITS.maxPointerHops) await retire(calls, next, null, b, depth + 1);
    version = current.version;
  }
  await calls.delete(key, b);
}

/** This request's writes re-applied onto the newest values; SessionConflictError for read-then-written keys. */
function reapply(
  ctx: ManagerContext,
  state: SessionState,
  origin: Origin,
  newest: Map<string, unknown>,
): Map<string, unknown> {
  if (state.dependent !== undefined && state.dependent.size > 0) {
    const before = parseValues(ctx.options, origin.record.data);
    for (const key of state.dependent) {
      if (!sameValue(ctx.options, before.get(key), newest.get(key))) {
        ctx.report.emit('conflict', state.now, origin.key, { detail: key });
        throw new SessionConflictError(
          tellerMessage(
            'session',
            `"${key}" was read and written by this request and changed by another one meanwhile; nothing was saved`,
          ),
        );
      }
    }
  }
  const out = new Map(newest);
  if (state.ops !== undefined)
    for (const [key, ops] of state.ops) {
      const value = replay(newest.get(key), ops);
      // An update() re-run on the newest value is checked as its first run was (JSON values only).
      if (value !== undefined && state.host.jsonOnly) assertJsonValue('update', key, value);
      if (value === undefined) out.delete(key);
      else out.set(key, value);
    }
  return out;
}

function destroyedError(ctx: ManagerContext, state: SessionState, key: string): SessionDestroyedError {
  ctx.report.emit('conflict', state.now, key, { detail: 'destroyed' });
  return new SessionDestroyedError(
    tellerMessage(
      'session',
      'the session was ended (logout, revoke or expiry) by another request; nothing was saved',
    ),
  );
}
