/**
 * Revocation of sealed sessions, with a store beside them. A sealed cookie carries the whole session, so
 * ending it means remembering, on the server, which cookies to refuse:
 * - an anonymous session ended by logout/destroy/regenerate: a deny record under its own key;
 * - a user's sessions: one not-before record per user (read on each of the user's requests), listing the
 *   user's ended sessions until they expire, and, after `revokeSessions`, a not-before time (every older
 *   cookie of the user is refused, except the session it kept).
 * A deny record under each ended cookie's key says what ended it and when (for a user's cookie, beside its
 * entry in the user's record, read only when the cookie comes back), and the successor of a login or
 * regenerate is marked pending where its own requests read (the user's record; an anonymous one's own deny
 * key) until the first request presenting it clears the mark: a refused cookie presented again is then a
 * reuse (stolen-id detection, the `reuse` option) when the evidence is unambiguous, at no cost to the
 * ordinary request.
 */
import type { ManagerContext, RequestFacts } from './context.js';
import { SessionConflictError, tellerMessage } from './errors.js';
import { storeKeyOf } from './ids.js';
import { LIMITS } from './options.js';
import { makeRecord, recordLifetimes } from './records.js';
import { judgeReuse, warnOf } from './reuse.js';
import type { Origin, SessionState } from './state.js';
import type { RetiredInfo, SessionRecord } from './store.js';
import type { Budget, StoreCalls } from './store-calls.js';

/** Not-before records live under keys no session key can equal. */
const NOT_BEFORE_PREFIX = 'nb.';
/** Deny records of ended anonymous sealed sessions (the key of their id, under this prefix). */
const DENY_PREFIX = 'dn.';
/** A user's live sealed sessions (read by `revokeSessions` only, never on a request's path). */
const LIVE_PREFIX = 'lv.';
/**
 * Under `dn.<key>` of an anonymous successor of `regenerate()` not yet presented by a request (not a
 * denial: the first request presenting it turns it into {@link CONFIRMED}).
 */
const PENDING = '{"p":1}';
/** Under `dn.<key>` of an anonymous successor that a request presented (not a denial). */
const CONFIRMED = '{"c":1}';
/** What #changeUser writes for a user with nothing denied, pending or revoked (accepted without parsing). */
const EMPTY_USER = '{"n":0,"v":2}';
/**
 * `v` of a user's record written by this version: one without it was written, or rewritten, by an earlier
 * version, which drops the pending marks (`p`), so its absence of a mark proves nothing.
 */
const USER_FORMAT = 2;

/** What ended a sealed session that a reuse event can name (revokeSessions raises none). */
type EndedBy = Exclude<RetiredInfo['by'], 'renewal'>;
const ENDED_BY: ReadonlySet<string> = new Set<EndedBy>(['login', 'regenerate', 'logout', 'destroy']);

/**
 * The data of a user's not-before record: `n` the not-before time (`revokeSessions`: sealed cookies of
 * the user created before it are refused), `x` the handle `revokeSessions` kept, `d` the sealed sessions
 * of this user ended by logout/login/regenerate/destroy (key -> until when they are refused, epoch ms).
 * For stolen-id detection (what ended each of them is in a deny record of its own, read only when such a
 * cookie comes back, so that this record, read on each of the user's requests, stays small): `p` the
 * successors of a rotation no request has presented yet (successor key -> [until, the key it succeeded]),
 * `o` when pending successors were last dropped unconfirmed (the list was full): a rotation at or before it,
 * or before `n`, proves nothing; `v` the format ({@link USER_FORMAT}).
 */
interface UserRevocations {
  n?: number;
  /** 1: `n` is `revokeSessions`' (a cookie it refuses is a revocation reuse); absent: a full deny list's, or unknown. */
  r?: 1;
  x?: string;
  d?: Record<string, number>;
  p?: Record<string, Pending>;
  o?: number;
  v?: number;
}

/**
 * A `p` entry: until when it is kept (the later of the successor's and its predecessor's absolute expiry), and
 * the key of the session it succeeded.
 */
type Pending = [until: number, predecessor: string];

/**
 * A refused sealed cookie, with what ended it when known (a record written by an earlier version, or a
 * refusal by the not-before time, knows nothing): the input of the reuse check.
 */
export interface Refusal {
  /** What ended it (an anonymous cookie's; a user's is looked up, see `lookup`); undefined: nothing known. */
  retired: RetiredInfo | undefined;
  /** Its key. */
  key: string;
  /** Its successor's key, for an anonymous successor of `regenerate()` (a user's is found by its user). */
  successor?: string;
  /** A user's cookie in the user's deny list: what ended it is in its own deny record. */
  lookup?: boolean;
  /** The not-before record that refused it, parsed (a user's cookie). */
  body?: UserRevocations;
  /** That record's user. */
  owner?: string;
}

/** A record's JSON object data, or `{}` when it has none (absent, empty, foreign). */
function jsonObject(data: string | undefined): Record<string, unknown> {
  if (data === undefined || !data.startsWith('{')) return {};
  try {
    const value: unknown = JSON.parse(data);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** key -> epoch ms entries still in force at `now` (null-prototype). */
function entriesAfter(value: unknown, now: number): Record<string, number> {
  const out: Record<string, number> = Object.create(null);
  if (value === null || typeof value !== 'object') return out;
  for (const [k, until] of Object.entries(value)) {
    if (typeof until === 'number' && until > now) out[k] = until;
  }
  return out;
}

/** The well-formed `p` entries still in force at `now`, null-prototype. */
function pendingOf(value: unknown, now: number): Record<string, Pending> {
  const out: Record<string, Pending> = Object.create(null);
  if (value === null || typeof value !== 'object') return out;
  for (const [k, e] of Object.entries(value)) {
    if (!Array.isArray(e)) continue;
    const [until, predecessor] = e as unknown[];
    if (typeof until === 'number' && until > now && typeof predecessor === 'string') {
      out[k] = [until, predecessor];
    }
  }
  return out;
}

function parseRevocations(record: SessionRecord, now: number): UserRevocations {
  const data = record.data;
  // The first format: the kept handle only, the not-before time in createdAt.
  if (data !== '' && !data.startsWith('{')) return { n: record.createdAt, x: data };
  const { n, r, x, d, p, o, v } = jsonObject(data);
  const out: UserRevocations = {};
  // Records of this format always carry `n`; earlier ones kept the not-before time in createdAt.
  out.n = typeof n === 'number' ? n : record.createdAt;
  if (r === 1) out.r = 1;
  if (typeof x === 'string') out.x = x;
  if (d !== null && typeof d === 'object') out.d = d as Record<string, number>;
  // Written by this version only (an earlier one rewriting the record drops them: see USER_FORMAT).
  if (p !== undefined) out.p = pendingOf(p, now);
  if (typeof o === 'number') out.o = o;
  if (typeof v === 'number') out.v = v;
  return out;
}

/** The reason a deny record of an anonymous session carries: {b: by, a: at, u?: user, s?: successor}. */
function denyReason(data: string): { retired: RetiredInfo | undefined; successor?: string } {
  // '' (an earlier version's deny record) or foreign: refused, nothing to report.
  const { b, a, u, s } = jsonObject(data);
  if (typeof b !== 'string' || !ENDED_BY.has(b) || typeof a !== 'number') return { retired: undefined };
  const retired: RetiredInfo = { by: b as EndedBy, at: a };
  if (typeof u === 'string') retired.user = u;
  return typeof s === 'string' ? { retired, successor: s } : { retired };
}

/** Whether some pending successor in `p` succeeded `key`. */
function hasPendingSuccessor(p: Record<string, Pending> | undefined, key: string): boolean {
  if (p === undefined) return false;
  for (const k in p) if (p[k]![1] === key) return true;
  return false;
}

function userKey(prefix: string, userId: string): string {
  return prefix + storeKeyOf(`user:${userId}`);
}

/** The session a sealed commit's cookie carries: its key, user, and until when a copy of it can live. */
export interface Issued {
  key: string;
  userId: string | undefined;
  until: number;
}

export class SealedRevocations {
  readonly #ctx: ManagerContext;
  readonly #calls: StoreCalls;

  constructor(ctx: ManagerContext, calls: StoreCalls) {
    this.#ctx = ctx;
    this.#calls = calls;
  }

  /**
   * Whether the sealed session under `key` (of `userId`, created at `createdAt`) was ended or revoked: the
   * refusal, or undefined when it stands. One store read: a user's session is checked against the user's
   * record, an anonymous one against the deny record of its own key. The first request presenting the
   * successor of a login or regenerate also writes that record once (the successor is confirmed: the
   * rightful browser holds it; a failure of that write is logged, never the request's failure).
   */
  async refusal(
    key: string,
    userId: string | undefined,
    createdAt: number,
    now: number,
  ): Promise<Refusal | undefined> {
    const b = this.#calls.budget(now);
    if (userId === undefined) {
      const found = await this.#calls.get(DENY_PREFIX + key, b);
      if (found === null || found === undefined || found.data === CONFIRMED) return undefined;
      if (found.data !== PENDING) return { key, ...denyReason(found.data) };
      await this.#confirm(() => this.#confirmAnonymous(key, found, b));
      return undefined;
    }
    const found = await this.#calls.get(userKey(NOT_BEFORE_PREFIX, userId), b);
    if (found === null || found === undefined || found.data === EMPTY_USER) return undefined;
    const body = parseRevocations(found, now);
    const { n = 0, x, d } = body;
    const denied = d !== undefined && Object.hasOwn(d, key);
    if (denied || (createdAt < n && x !== key)) {
      // Ended by revokeSessions: its not-before time says when (a full deny list's says nothing: no `r`).
      if (!denied && body.r === 1) {
        return { key, retired: { by: 'revoke', at: n, user: userId }, body, owner: userId };
      }
      // What ended it is in its deny record, read by the reuse check.
      return { key, retired: undefined, lookup: denied, body, owner: userId };
    }
    if (body.p !== undefined && Object.hasOwn(body.p, key)) {
      await this.#confirm(() =>
        this.#changeUser(
          userId,
          b,
          (next) => {
            if (next.p !== undefined) delete next.p[key];
            return 0;
          },
          found,
        ),
      );
    }
    return undefined;
  }

  /**
   * A refused cookie (`refusal`) presented again: the `reuse` event when the evidence is unambiguous (an
   * end by logout or destroy; a rotation at least `reuseSettleMs` ago whose successor a request has
   * presented), and with `reuse: 'revoke'` every session of the user ended after a rotation reuse. Off the
   * ordinary path (a refused cookie): at most two more reads (its deny record, the successor's record). A
   * store failure is logged, never the request's failure (it gets its fresh session).
   */
  async reuse(refusal: Refusal, facts: RequestFacts): Promise<void> {
    if (refusal.retired === undefined && refusal.lookup !== true) return;
    const ctx = this.#ctx;
    const now = facts.now;
    try {
      let { retired, successor } = refusal;
      if (refusal.lookup === true) {
        // A user's cookie: what ended it (a cookie ended by an earlier version has no such record).
        const found = await this.#calls.get(DENY_PREFIX + refusal.key, this.#calls.budget(now));
        if (found === null || found === undefined) return;
        ({ retired, successor } = denyReason(found.data));
      }
      if (retired === undefined) return;
      const ended = retired;
      await judgeReuse(
        ctx,
        ended,
        facts,
        () => this.#successorSeen(refusal, ended, successor, this.#calls.budget(now)),
        (user) => this.revoke(user, undefined, now),
      );
    } catch (error) {
      warnOf(ctx, 'stolen-id detection could not complete', error);
    }
  }

  /**
   * At a sealed commit: the cookies this request ended (logout, destroy, and the old id of a
   * login/regenerate) are refused from now until they expire, so a copy made before cannot be replayed,
   * with what ended them (stolen-id detection); they leave the user's live sessions. `next` is the session
   * the response's cookie carries: a user's cookie under a new id joins the user's live sessions, and the
   * successor of a login or regenerate is pending until a request presents it.
   */
  async commit(state: SessionState, next: Issued | undefined): Promise<void> {
    const ended: Origin[] = state.discarded;
    const rotated = state.rotate && state.origin !== null ? state.origin : undefined;
    const now = state.now;
    const b = this.#calls.budget(now);
    const endedBy: EndedBy = state.lifecycle.includes('logout') ? 'logout' : 'destroy';
    const rotatedBy: EndedBy = state.lifecycle.includes('login') ? 'login' : 'regenerate';
    const successor =
      rotated !== undefined && next !== undefined && next.key !== rotated.key ? next : undefined;
    // The successor's pending mark first: had the old cookie's denial been written and not the mark (the
    // commit failing between), the successor would look presented, and the old cookie's own browser, which
    // never got the new one, would raise a false reuse when it came back.
    // The mark lasts as long as the old cookie is refused (its absolute lifetime), were the successor's own
    // shorter: a mark gone is a successor presented, and the old cookie's browser, back after the successor
    // could have ended, would raise a false reuse.
    const pendUntil =
      successor === undefined
        ? 0
        : Math.max(
            successor.until,
            rotated!.record.createdAt + recordLifetimes(this.#ctx.options, rotated!.record).absolute,
          );
    if (successor !== undefined) {
      const succUser = successor.userId;
      // An anonymous successor of regenerate: pending (not refused) under its own deny key until presented.
      if (succUser === undefined) await this.#createDeny(successor.key, PENDING, pendUntil, b);
      else if (succUser !== rotated!.record.userId) {
        await this.#changeUser(succUser, b, (body) =>
          this.#pend(body, successor.key, rotated!.key, pendUntil, now),
        );
      }
    }
    for (const origin of rotated === undefined ? ended : [...ended, rotated]) {
      // A copy of this cookie refreshed since it was taken carries a later expiry than the one ending it
      // here: refuse the session for as long as any copy of it can live (its absolute lifetime).
      const record = origin.record;
      const until = record.createdAt + recordLifetimes(this.#ctx.options, record).absolute;
      if (until <= now) continue;
      const isRotated = origin === rotated;
      const by = isRotated ? rotatedBy : endedBy;
      const userId = record.userId;
      if (userId === undefined) {
        const reason: { b: EndedBy; a: number; u?: string; s?: string } = { b: by, a: now };
        if (isRotated && successor?.userId !== undefined) reason.u = successor.userId;
        else if (isRotated && successor !== undefined) reason.s = successor.key;
        await this.#writeDeny(origin.key, JSON.stringify(reason), until, b);
        continue;
      }
      // The session revokeSessions kept stays kept through its own regenerations.
      const keep = isRotated && successor?.userId === userId ? successor.key : undefined;
      await this.#changeUser(userId, b, (body) => {
        if (keep !== undefined && body.x === origin.key) body.x = keep;
        const keepUntil = this.#deny(body, origin.key, until, now, keep);
        if (keep === undefined) return keepUntil;
        return Math.max(keepUntil, this.#pend(body, keep, origin.key, pendUntil, now));
      });
      if (keep === undefined) await this.#changeLive(userId, b, (live) => delete live[origin.key]);
      // What ended it, beside (read only if the cookie comes back): the user whose sessions a reuse
      // concerns (a rotation's successor's); a rotation without a successor's user proves nothing.
      if (isRotated && successor?.userId === undefined) continue;
      const reason = { b: by, a: now, u: isRotated ? successor!.userId! : userId };
      await this.#writeDeny(origin.key, JSON.stringify(reason), until, b);
    }
    // A user's cookie under a new id joins the user's live sessions.
    if (next === undefined || next.userId === undefined || next.key === state.origin?.key) return;
    const issued = next as Issued & { userId: string };
    const gone = rotated?.record.userId === issued.userId ? rotated.key : undefined;
    await this.#changeLive(issued.userId, b, (live) => {
      if (gone !== undefined) delete live[gone];
      live[issued.key] = issued.until;
    });
  }

  /**
   * `revokeSessions`: every sealed cookie of the user created before `now` is refused, but `exceptKey`'s.
   * Returns how many of the user's sealed sessions known to be live ended.
   */
  async revoke(userId: string, exceptKey: string | undefined, now: number): Promise<number> {
    const b = this.#calls.budget(now);
    // ASVS 5.0 7.4.1: the sessions end on the server, not only in the browser that asked.
    await this.#changeUser(userId, b, (body) => {
      body.n = now;
      body.r = 1;
      body.x = exceptKey;
      // The pending successors are refused now (but the kept one); a rotation before `n` proves nothing.
      body.p = undefined;
      return now + this.#ctx.options.longestLifetime;
    });
    let count = 0;
    await this.#changeLive(userId, b, (live) => {
      count = 0;
      for (const key of Object.keys(live)) {
        if (key === exceptKey) continue;
        delete live[key];
        count++;
      }
    });
    return count;
  }

  close(now: number): Promise<void> {
    return this.#calls.close(this.#calls.budget(now));
  }

  /** Whether the successor of the rotation that ended `refusal`'s cookie was presented by a request. */
  async #successorSeen(
    refusal: Refusal,
    retired: RetiredInfo,
    successor: string | undefined,
    b: Budget,
  ): Promise<boolean> {
    if (successor !== undefined) {
      // An anonymous successor: its mark confirmed, or since ended (by a request that presented it).
      const found = await this.#calls.get(DENY_PREFIX + successor, b);
      return found !== null && found !== undefined && found.data !== PENDING;
    }
    const user = retired.user;
    if (user === undefined) return false;
    let body = refusal.owner === user ? refusal.body : undefined;
    if (body === undefined) {
      const found = await this.#calls.get(userKey(NOT_BEFORE_PREFIX, user), b);
      if (found === null || found === undefined) return false;
      body = parseRevocations(found, b.now);
    }
    // Pending marks dropped since the rotation (revokeSessions, a full list, an earlier version's
    // rewrite): nothing is known.
    if (body.v !== USER_FORMAT || retired.at <= Math.max(body.n ?? 0, body.o ?? 0)) return false;
    return !hasPendingSuccessor(body.p, refusal.key);
  }

  /** Runs a confirmation write; a failure is logged (the request goes on). */
  async #confirm(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      warnOf(this.#ctx, 'the successor of a login or regenerate could not be marked as presented', error);
    }
  }

  /** The pending mark of an anonymous successor (`found`, as just read) replaced by the confirmed one. */
  #confirmAnonymous(key: string, found: SessionRecord, b: Budget): Promise<void> {
    // Written meanwhile (another request confirmed it, or a logout denied it): nothing to do.
    return this.#change(
      DENY_PREFIX + key,
      b,
      (current) => (current?.data === PENDING ? { data: CONFIRMED, until: current.expiresAt } : undefined),
      found,
    );
  }

  /**
   * The deny record under a cookie's key (`data`: what ended it): an anonymous session's refusal, a user's
   * reason only (its refusal is the user's record). It replaces an anonymous successor's mark.
   */
  async #writeDeny(key: string, data: string, until: number, b: Budget): Promise<void> {
    if (await this.#createDeny(key, data, until, b)) return;
    // Something is there: the deny record of an earlier or concurrent end of the same cookie (kept as
    // it is), or the mark of a successor, which the denial replaces.
    await this.#change(DENY_PREFIX + key, b, (current) =>
      current !== null && current.data !== PENDING && current.data !== CONFIRMED
        ? undefined
        : { data, until: Math.max(until, current?.expiresAt ?? 0) },
    );
  }

  /** A new record under `dn.<key>` holding `data` until `until`; false when one is there already. */
  #createDeny(key: string, data: string, until: number, b: Budget): Promise<boolean> {
    const now = b.now;
    const record = makeRecord(data, 1, now, now, until);
    return this.#calls.set(DENY_PREFIX + key, record, null, until - now + LIMITS.ttlSlackMs, b);
  }

  /**
   * Adds one ended session to the user's deny list; until when the record must be kept. When the list is
   * full, every older cookie of the user ends instead, but `keep` (the cookie issued in this response).
   */
  #deny(body: UserRevocations, key: string, until: number, now: number, keep: string | undefined): number {
    const denied = body.d ?? Object.create(null);
    let keepUntil = until;
    if (Object.keys(denied).length >= LIMITS.maxDenied) {
      // Too many to list: every sealed cookie of this user from before now ends (fail closed).
      for (const k of Object.keys(denied)) delete denied[k];
      body.p = undefined;
      body.n = now;
      body.r = undefined; // a cookie it refuses was not revoked: no event
      body.x = keep;
      keepUntil = now + this.#ctx.options.longestLifetime;
    }
    denied[key] = until;
    body.d = denied;
    return keepUntil;
  }

  /**
   * Marks `key`, the successor of `predecessor`, pending until a request presents it; until when the
   * record must be kept. A full list drops the soonest to end, and `o` says from when nothing is known.
   */
  #pend(body: UserRevocations, key: string, predecessor: string, until: number, now: number): number {
    const pending = body.p ?? (Object.create(null) as Record<string, Pending>);
    const keys = Object.keys(pending);
    if (keys.length >= LIMITS.maxDenied) {
      keys.sort((k1, k2) => pending[k1]![0] - pending[k2]![0]);
      for (const k of keys.slice(0, keys.length - LIMITS.maxDenied + 1)) delete pending[k];
      body.o = now;
    }
    pending[key] = [until, predecessor];
    body.p = pending;
    return until;
  }

  /**
   * Changes a user's not-before record by compare-and-set: `edit` changes its body (expired denials
   * already dropped) and says until when the record must be kept at least. `first`: the record as just
   * read (spares the first attempt's read). SessionConflictError after too many conflicts.
   */
  #changeUser(
    userId: string,
    b: Budget,
    edit: (body: UserRevocations) => number,
    first?: SessionRecord,
  ): Promise<void> {
    const change = (current: SessionRecord | null) => {
      const body = current === null ? {} : parseRevocations(current, b.now);
      const denied = entriesAfter(body.d, b.now);
      body.d = Object.keys(denied).length > 0 ? denied : undefined;
      let until = Math.max(edit(body), current?.expiresAt ?? 0);
      for (const e of Object.values(body.d ?? {})) until = Math.max(until, e);
      for (const e of Object.values(body.p ?? {})) until = Math.max(until, e[0]);
      return { data: userData(body), until };
    };
    return this.#change(userKey(NOT_BEFORE_PREFIX, userId), b, change, first);
  }

  /** Changes a user's live sealed sessions (key -> until when a copy of it can live), pruned of the ended. */
  #changeLive(userId: string, b: Budget, edit: (live: Record<string, number>) => void): Promise<void> {
    return this.#change(userKey(LIVE_PREFIX, userId), b, (current) => {
      const live = entriesAfter(jsonObject(current?.data).s, b.now);
      edit(live);
      const keys = Object.keys(live);
      if (keys.length > LIMITS.maxDenied) {
        // Too many to keep: the soonest to end are forgotten (revokeSessions still ends them; its count is then low).
        keys.sort((k1, k2) => (live[k1] as number) - (live[k2] as number));
        for (const k of keys.slice(0, keys.length - LIMITS.maxDenied)) delete live[k];
      }
      let until = b.now;
      for (const e of Object.values(live)) until = Math.max(until, e);
      return { data: JSON.stringify({ s: live }), until };
    });
  }

  /**
   * One record changed by compare-and-set, retried on conflicts (SessionConflictError after too many).
   * `next` gives the new data and until when to keep it, or undefined to leave the record as it is.
   * `first`: the record as just read, for the first attempt.
   */
  async #change(
    key: string,
    b: Budget,
    next: (current: SessionRecord | null) => { data: string; until: number } | undefined,
    first?: SessionRecord,
  ): Promise<void> {
    const now = b.now;
    for (let attempt = 0; attempt < LIMITS.maxMerges; attempt++) {
      const found = attempt === 0 && first !== undefined ? first : await this.#calls.get(key, b);
      const current = found === undefined ? null : found;
      const change = next(current);
      if (change === undefined) return;
      const { data, until } = change;
      const createdAt = current === null || current.createdAt === 0 ? now : current.createdAt;
      const record = makeRecord(data, (current?.version ?? 0) + 1, createdAt, now, until);
      const ttl = Math.max(0, until - now) + LIMITS.ttlSlackMs;
      if (await this.#calls.set(key, record, current?.version ?? null, ttl, b)) return;
    }
    throw new SessionConflictError(
      tellerMessage(
        'session',
        'the revocation records of this user kept changing; the sessions were not revoked',
      ),
    );
  }
}

/** The data of a user's not-before record (`n` always, the rest when not empty). */
function userData(body: UserRevocations): string {
  const out: Record<string, unknown> = { n: body.n ?? 0 };
  if (body.r === 1) out.r = 1;
  if (body.x !== undefined) out.x = body.x;
  const d = body.d;
  if (d !== undefined && Object.keys(d).length > 0) out.d = d;
  if (body.p !== undefined && Object.keys(body.p).length > 0) out.p = body.p;
  if (body.o !== undefined) out.o = body.o;
  out.v = USER_FORMAT;
  return JSON.stringify(out);
}
