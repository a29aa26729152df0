/**
 * Revocation of sealed sessions, with a store beside them. A sealed cookie carries the whole session, so
 * ending it means remembering, on the server, which cookies to refuse:
 * - an anonymous session ended by logout/destroy/regenerate: a deny record under its own key;
 * - a user's sessions: one not-before record per user (read on each of the user's requests), listing the
 *   user's ended sessions until they expire, and, after `revokeSessions`, a not-before time (every older
 *   cookie of the user is refused, except the session it kept).
 */
import type { ManagerContext } from './context.js';
import { SessionConflictError, tellerMessage } from './errors.js';
import { storeKeyOf } from './ids.js';
import { LIMITS } from './options.js';
import { makeRecord, recordLifetimes } from './records.js';
import type { Origin, SessionState } from './state.js';
import type { SessionRecord } from './store.js';
import type { Budget, StoreCalls } from './store-calls.js';

/** Not-before records live under keys no session key can equal. */
const NOT_BEFORE_PREFIX = 'nb.';
/** Deny records of ended anonymous sealed sessions (the key of their id, under this prefix). */
const DENY_PREFIX = 'dn.';
/** A user's live sealed sessions (read by `revokeSessions` only, never on a request's path). */
const LIVE_PREFIX = 'lv.';

/**
 * The data of a user's not-before record: `n` the not-before time (`revokeSessions`: sealed cookies of
 * the user created before it are refused), `x` the handle `revokeSessions` kept, `d` the sealed sessions
 * of this user ended by logout/login/regenerate/destroy (key -> until when they are refused, epoch ms).
 */
interface UserRevocations {
  n?: number;
  x?: string;
  d?: Record<string, number>;
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

function parseRevocations(record: SessionRecord): UserRevocations {
  const data = record.data;
  // The first format: the kept handle only, the not-before time in createdAt.
  if (data !== '' && !data.startsWith('{')) return { n: record.createdAt, x: data };
  const { n, x, d } = jsonObject(data);
  const out: UserRevocations = {};
  // Records of this format always carry `n`; earlier ones kept the not-before time in createdAt.
  out.n = typeof n === 'number' ? n : record.createdAt;
  if (typeof x === 'string') out.x = x;
  if (d !== null && typeof d === 'object') out.d = d as Record<string, number>;
  return out;
}

function userKey(prefix: string, userId: string): string {
  return prefix + storeKeyOf(`user:${userId}`);
}

export class SealedRevocations {
  readonly #ctx: ManagerContext;
  readonly #calls: StoreCalls;

  constructor(ctx: ManagerContext, calls: StoreCalls) {
    this.#ctx = ctx;
    this.#calls = calls;
  }

  /**
   * Whether the sealed session under `key` (of `userId`, created at `createdAt`) was ended or revoked.
   * One store read: a user's session is checked against the user's record, an anonymous one against the
   * deny record of its own key.
   */
  async refuses(key: string, userId: string | undefined, createdAt: number, now: number): Promise<boolean> {
    const recordKey = userId === undefined ? DENY_PREFIX + key : userKey(NOT_BEFORE_PREFIX, userId);
    const found = await this.#calls.get(recordKey, this.#calls.budget(now));
    if (found === null || found === undefined) return false;
    if (userId === undefined) return true;
    const { n = 0, x, d } = parseRevocations(found);
    return (createdAt < n && x !== key) || (d !== undefined && Object.hasOwn(d, key));
  }

  /**
   * At a sealed commit: the cookies this request ended (logout, destroy, and the old id of a
   * login/regenerate) are refused from now until they expire, so a copy made before cannot be replayed;
   * they leave the user's live sessions, and a user's cookie under a new id (`issued`: its key, until when
   * its session can live) joins them.
   */
  async commit(
    state: SessionState,
    issued: { key: string; userId: string; until: number } | undefined,
  ): Promise<void> {
    const ended: Origin[] = state.discarded;
    const rotated = state.rotate && state.origin !== null ? state.origin : undefined;
    const now = state.now;
    const b = this.#calls.budget(now);
    for (const origin of rotated === undefined ? ended : [...ended, rotated]) {
      // A copy of this cookie refreshed since it was taken carries a later expiry than the one ending it
      // here: refuse the session for as long as any copy of it can live (its absolute lifetime).
      const record = origin.record;
      const until = record.createdAt + recordLifetimes(this.#ctx.options, record).absolute;
      if (until <= now) continue;
      const userId = record.userId;
      if (userId === undefined) {
        const deny = makeRecord('', 1, now, now, until);
        // false: the deny record is there already (an earlier or concurrent logout of the same cookie).
        await this.#calls.set(DENY_PREFIX + origin.key, deny, null, until - now + LIMITS.ttlSlackMs, b);
        continue;
      }
      // The session revokeSessions kept stays kept through its own regenerations.
      const successor = origin === rotated && issued?.userId === userId ? issued.key : undefined;
      await this.#changeUser(userId, b, (body) => {
        if (successor !== undefined && body.x === origin.key) body.x = successor;
        return this.#deny(body, origin.key, until, now, successor);
      });
      if (successor === undefined) await this.#changeLive(userId, b, (live) => delete live[origin.key]);
    }
    if (issued === undefined) return;
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
      body.x = exceptKey;
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
      body.n = now;
      body.x = keep;
      keepUntil = now + this.#ctx.options.longestLifetime;
    }
    denied[key] = until;
    body.d = denied;
    return keepUntil;
  }

  /**
   * Changes a user's not-before record by compare-and-set: `edit` changes its body (expired denials
   * already dropped) and says until when the record must be kept at least. SessionConflictError after
   * too many conflicts.
   */
  #changeUser(userId: string, b: Budget, edit: (body: UserRevocations) => number): Promise<void> {
    return this.#change(userKey(NOT_BEFORE_PREFIX, userId), b, (current) => {
      const body = current === null ? {} : parseRevocations(current);
      const denied = entriesAfter(body.d, b.now);
      body.d = Object.keys(denied).length > 0 ? denied : undefined;
      let until = Math.max(edit(body), current?.expiresAt ?? 0);
      for (const e of Object.values(body.d ?? {})) until = Math.max(until, e);
      const out: Record<string, unknown> = { n: body.n ?? 0 };
      if (body.x !== undefined) out.x = body.x;
      if (body.d !== undefined && Object.keys(body.d).length > 0) out.d = body.d;
      return { data: JSON.stringify(out), until };
    });
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

  /** One record changed by compare-and-set, retried on conflicts (SessionConflictError after too many). */
  async #change(
    key: string,
    b: Budget,
    next: (current: SessionRecord | null) => { data: string; until: number },
  ): Promise<void> {
    const now = b.now;
    for (let attempt = 0; attempt < LIMITS.maxMerges; attempt++) {
      const found = await this.#calls.get(key, b);
      const current = found === undefined ? null : found;
      const { data, until } = next(current);
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
