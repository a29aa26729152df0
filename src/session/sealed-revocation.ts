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
import { makeRecord } from './records.js';
import type { Origin, SessionState } from './state.js';
import type { Budget, StoreCalls } from './store-calls.js';

/** Not-before records live under keys no session key can equal. */
const NOT_BEFORE_PREFIX = 'nb.';
/** Deny records of ended anonymous sealed sessions (the key of their id, under this prefix). */
const DENY_PREFIX = 'dn.';

/**
 * The data of a user's not-before record: `x` the handle `revokeSessions` kept, `d` the sealed sessions
 * of this user ended by logout/login/regenerate/destroy (key -> until when they are refused, epoch ms).
 */
interface UserRevocations {
  x?: string;
  d?: Record<string, number>;
}

function parseRevocations(data: string): UserRevocations {
  if (data === '') return {};
  if (!data.startsWith('{')) return { x: data }; // the first format: the kept handle only
  try {
    const value: unknown = JSON.parse(data);
    if (value === null || typeof value !== 'object') return {};
    const { x, d } = value as Record<string, unknown>;
    const out: UserRevocations = {};
    if (typeof x === 'string') out.x = x;
    if (d !== null && typeof d === 'object') out.d = d as Record<string, number>;
    return out;
  } catch {
    return {};
  }
}

function notBeforeKey(userId: string): string {
  return NOT_BEFORE_PREFIX + storeKeyOf(`user:${userId}`);
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
    const recordKey = userId === undefined ? DENY_PREFIX + key : notBeforeKey(userId);
    const found = await this.#calls.get(recordKey, this.#calls.budget(now));
    if (found === null || found === undefined) return false;
    if (userId === undefined) return true;
    const revocations = parseRevocations(found.data);
    return (
      (createdAt < found.createdAt && revocations.x !== key) ||
      (revocations.d !== undefined && Object.hasOwn(revocations.d, key))
    );
  }

  /**
   * The cookies this request ended (logout, destroy, and the old id of a login/regenerate) are refused
   * from now until they expire, so a copy made before cannot be replayed.
   */
  async denyEnded(state: SessionState): Promise<void> {
    const ended: Origin[] = state.discarded;
    const rotated = state.rotate && state.origin !== null ? state.origin : undefined;
    if (ended.length === 0 && rotated === undefined) return;
    const now = state.now;
    const b = this.#calls.budget(now);
    for (const origin of rotated === undefined ? ended : [...ended, rotated]) {
      const until = origin.record.expiresAt;
      if (until <= now) continue;
      const userId = origin.record.userId;
      if (userId !== undefined) {
        await this.#update(userId, now, b, undefined, { key: origin.key, until });
        continue;
      }
      const record = makeRecord('', 1, now, now, until);
      // false: the deny record is there already (an earlier or concurrent logout of the same cookie).
      await this.#calls.set(DENY_PREFIX + origin.key, record, null, until - now + LIMITS.ttlSlackMs, b);
    }
  }

  /** `revokeSessions`: every sealed cookie of the user created before `now` is refused, but `exceptKey`'s. */
  async revoke(userId: string, exceptKey: string | undefined, now: number): Promise<number> {
    // ASVS 5.0 7.4.1: the sessions end on the server, not only in the browser that asked.
    await this.#update(userId, now, this.#calls.budget(now), { except: exceptKey }, undefined);
    return 1;
  }

  close(now: number): Promise<void> {
    return this.#calls.close(this.#calls.budget(now));
  }

  /**
   * Changes a user's not-before record by compare-and-set: `revoke` (a revocation: sealed cookies
   * created before `now` are refused, except that handle) and/or `deny` (one ended session's key, refused
   * until its expiry). Expired denials are dropped. SessionConflictError after too many conflicts.
   */
  async #update(
    userId: string,
    now: number,
    b: Budget,
    revoke: { except: string | undefined } | undefined,
    deny: { key: string; until: number } | undefined,
  ): Promise<void> {
    const key = notBeforeKey(userId);
    const longest = this.#ctx.options.longestLifetime;
    for (let attempt = 0; ; attempt++) {
      if (attempt >= LIMITS.maxMerges) {
        throw new SessionConflictError(
          tellerMessage(
            'session',
            'the not-before record of this user kept changing; the sessions were not revoked',
          ),
        );
      }
      const current = await this.#calls.get(key, b);
      const previous = current === null || current === undefined ? {} : parseRevocations(current.data);
      let until = revoke !== undefined ? now + longest : now;
      if (current !== null && current !== undefined) until = Math.max(until, current.expiresAt);
      const denied: Record<string, number> = Object.create(null);
      let anyDenied = false;
      for (const [k, e] of Object.entries(previous.d ?? {})) {
        if (typeof e === 'number' && e > now) {
          denied[k] = e;
          anyDenied = true;
        }
      }
      let notBefore = revoke !== undefined ? now : (current?.createdAt ?? 0);
      let except = revoke !== undefined ? revoke.except : previous.x;
      if (deny !== undefined) {
        if (Object.keys(denied).length >= LIMITS.maxDenied) {
          // Too many to list: every sealed cookie of this user from before now ends (fail closed).
          for (const k of Object.keys(denied)) delete denied[k];
          notBefore = now;
          except = undefined;
          until = Math.max(until, now + longest);
        }
        denied[deny.key] = deny.until;
        anyDenied = true;
        until = Math.max(until, deny.until);
      }
      const body: UserRevocations = {};
      if (except !== undefined) body.x = except;
      if (anyDenied) body.d = denied;
      const record = makeRecord(JSON.stringify(body), (current?.version ?? 0) + 1, notBefore, now, until);
      const expected = current === null || current === undefined ? null : current.version;
      const ttl = Math.max(0, until - now) + LIMITS.ttlSlackMs;
      if (await this.#calls.set(key, record, expected, ttl, b)) return;
    }
  }
}
