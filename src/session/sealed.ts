/**
 * Sealed sessions: the session lives in the cookie itself, sealed with AES-256-GCM (expiry inside). With
 * a store beside it, ended and revoked cookies are refused (see `sealed-revocation.ts`).
 */
import {
  cookieFor,
  freshSession,
  loadedState,
  type ManagerContext,
  type RequestFacts,
  type SessionBackend,
  type SessionInfo,
} from './context.js';
import { deleteCookieLine } from './cookie-policy.js';
import { SessionTooLargeError, tellerMessage } from './errors.js';
import { storeKeyOf } from './ids.js';
import { LIMITS } from './options.js';
import {
  buildRecord,
  makeRecord,
  parseValues,
  recordLifetimes,
  serializeValues,
  touchDue,
} from './records.js';
import { type SealKeys, seal, unseal } from './seal.js';
import {
  headerBytes,
  joinParts,
  maxPartsFor,
  partCount,
  partNames,
  partsAad,
  splitSeal,
} from './sealed-parts.js';
import type { SealedRevocations } from './sealed-revocation.js';
import { Session } from './session.js';
import {
  carriedName,
  clearsCookie,
  ensureId,
  resetChanges,
  type SessionState,
  worthStoring,
} from './state.js';
import { RECORD_FORMAT } from './store.js';

/** Payload of a sealed cookie (short names: it travels in every request). */
interface SealedPayload {
  /** The record format. */
  f: number;
  /** The id. */
  i: string;
  /** The data. */
  d: string;
  /** The user. */
  u?: string;
  /** Created, last seen, expires (epoch ms). */
  c: number;
  l: number;
  e: number;
  /** Persistent ("remember me"). */
  p?: 1;
}

function isSealedPayload(value: unknown): value is SealedPayload {
  if (value === null || typeof value !== 'object') return false;
  const p = value as Record<string, unknown>;
  return (
    typeof p.f === 'number' &&
    typeof p.i === 'string' &&
    typeof p.d === 'string' &&
    (p.u === undefined || typeof p.u === 'string') &&
    typeof p.c === 'number' &&
    typeof p.l === 'number' &&
    typeof p.e === 'number'
  );
}

export class SealedBackend implements SessionBackend {
  readonly #ctx: ManagerContext;
  readonly #keys: SealKeys;
  /** Without a store: undefined, and nothing on the server remembers an ended cookie. */
  readonly #revocations: SealedRevocations | undefined;
  /** The most parts a session's cookies are split in (see `sealed-parts.ts`). */
  readonly #maxParts: number;

  constructor(ctx: ManagerContext, keys: SealKeys, revocations: SealedRevocations | undefined) {
    this.#ctx = ctx;
    this.#keys = keys;
    this.#revocations = revocations;
    this.#maxParts = maxPartsFor(ctx.options.sealedMaxBytes);
  }

  async load(raw: string, facts: RequestFacts): Promise<Session> {
    const ctx = this.#ctx;
    const { now, cookieName, movedFrom } = facts;
    // Sealed for the name it was sent under (a former name's cookie is moved, resealed, at commit).
    const name = movedFrom ?? cookieName;
    let text: string | undefined;
    const first = raw.charCodeAt(0);
    if (first >= 0x31 && first <= 0x39) {
      // `<count>.`: a seal split across cookies (one cookie's seal begins with its version's `A`).
      const joined = joinParts(raw, partNames(name, this.#maxParts), facts.cookies, this.#maxParts);
      text = joined && unseal(joined.sealed, this.#keys, partsAad(name, joined.count));
    } else {
      text = unseal(raw, this.#keys, name);
    }
    let payload: unknown;
    try {
      payload = text === undefined ? undefined : JSON.parse(text);
    } catch {
      payload = undefined;
    }
    if (!isSealedPayload(payload) || payload.f !== RECORD_FORMAT) {
      ctx.report.emit('rejected', now, undefined, { detail: 'tampered or foreign sealed cookie' });
      ctx.guard?.miss(facts.meta?.ip, raw, now);
      return freshSession(ctx, facts, true);
    }
    const key = storeKeyOf(payload.i);
    if (now >= payload.e) {
      ctx.report.emit('expired', now, key);
      return freshSession(ctx, facts, true);
    }
    const revocations = this.#revocations;
    if (revocations !== undefined) {
      const refusal = await revocations.refusal(key, payload.u, payload.c, now);
      if (refusal !== undefined) {
        ctx.report.emit('rejected', now, key, { detail: 'revoked', userId: payload.u });
        ctx.guard?.miss(facts.meta?.ip, raw, now);
        // Off the ordinary path: a cookie presented after it was ended (stolen-id detection).
        await revocations.reuse(refusal, facts);
        return freshSession(ctx, facts, true);
      }
    }
    const record = makeRecord(payload.d, 0, payload.c, payload.l, payload.e);
    if (payload.u !== undefined) record.userId = payload.u;
    if (payload.p === 1) record.persistent = true;
    let values: Map<string, unknown>;
    try {
      values = parseValues(ctx.options, record.data);
    } catch {
      ctx.report.emit('rejected', now, key, { detail: 'unreadable data' });
      return freshSession(ctx, facts, true);
    }
    return new Session(loadedState(ctx, facts, payload.i, { key, pointerKey: undefined, record }, values));
  }

  async commit(state: SessionState): Promise<string[]> {
    const ctx = this.#ctx;
    const options = ctx.options;
    const revocations = this.#revocations;
    const now = state.now;
    const origin = state.origin;
    if (origin === null && !worthStoring(state)) {
      if (revocations !== undefined) await revocations.commit(state, undefined);
      ctx.report.lifecycle(state, state.discarded[0]?.key);
      return clearsCookie(state)
        ? this.#deleteParts(state, 1, [deleteCookieLine(options.policy, state.secure, carriedName(state))])
        : [];
    }
    const data =
      origin === null || (state.ops !== undefined && state.ops.size > 0)
        ? serializeValues(options, state.values)
        : origin.record.data;
    const changed = state.rotate || state.userChanged || (origin !== null && data !== origin.record.data);
    // Unchanged: the throttled touch or `session.touch()` re-seals it, never in a passive request (whose
    // write, when it has one, keeps the old expiry: buildRecord). A cookie under a former name is resealed
    // under the new one (legacy.ts) even when nothing changed.
    if (
      origin !== null &&
      !changed &&
      state.movedFrom === undefined &&
      (state.passive || (!state.touchRequested && !touchDue(options, origin.record, now)))
    )
      return [];
    const id = ensureId(state);
    const record = buildRecord(options, state, origin?.record ?? null, data, 0);
    const payload: SealedPayload = {
      f: RECORD_FORMAT,
      i: id,
      d: record.data,
      c: record.createdAt,
      l: record.lastSeenAt,
      e: record.expiresAt,
    };
    if (record.userId !== undefined) payload.u = record.userId;
    if (record.persistent) payload.p = 1;
    const name = state.cookieName;
    const text = JSON.stringify(payload);
    const value = seal(text, this.#keys, name);
    // The browser keeps a cookie whose name + value fit in 4096 octets (RFC 6265bis 5.6 step 4): a larger
    // seal is sealed again for its part count and split (sealed-parts.ts), within the Cookie header's limit.
    let parts: string[] | undefined;
    let size = name.length + 1 + value.length;
    if (size > LIMITS.maxCookieOctets + 1) {
      const count = partCount(name, value.length, this.#maxParts);
      if (count !== undefined) {
        parts = splitSeal(name, seal(text, this.#keys, partsAad(name, count)), count);
        size = headerBytes(partNames(name, this.#maxParts), parts);
      }
    }
    const limit = options.sealedMaxBytes;
    if (size > limit || (parts === undefined && size > LIMITS.maxCookieOctets + 1)) {
      throw new SessionTooLargeError(
        tellerMessage(
          'session',
          `the sealed session cookies would be ${size} bytes of Cookie header, more than ${limit} (sealedMaxBytes); keep less in a sealed session`,
        ),
      );
    }
    const key = state.key!;
    if (revocations !== undefined) {
      // The session this cookie carries, until its absolute lifetime ends: a user's cookie under a new id
      // joins the user's live sessions; the successor of a login or regenerate is pending until presented.
      const until = record.createdAt + recordLifetimes(options, record).absolute;
      await revocations.commit(state, { key, userId: record.userId, until });
    }
    state.storedKey = key; // the session's handle from now on (revokeSessions keeps it by this key)
    if (origin === null) ctx.report.emit('created', now, key, { userId: record.userId });
    ctx.report.lifecycle(state, key);
    if (parts === undefined) return this.#deleteParts(state, 1, [cookieFor(ctx, state, record, value)]);
    const names = partNames(name, this.#maxParts);
    const lines = parts.map((part, i) => cookieFor(ctx, state, record, part, names[i]));
    // The parts the request carried that this seal does not use (it shrank): deleted in this response.
    return this.#deleteParts(state, parts.length, lines);
  }

  /**
   * `lines` with the deletion of each part of the session cookie, from index `from` on, that the request
   * carried (a few lookups in its parsed Cookie header; none without one).
   */
  #deleteParts(state: SessionState, from: number, lines: string[]): string[] {
    const cookies = state.cookies;
    if (cookies === undefined) return lines;
    const names = partNames(state.cookieName, this.#maxParts);
    for (let i = Math.max(1, from); i < names.length; i++) {
      if (cookies[names[i]!] !== undefined) {
        lines.push(deleteCookieLine(this.#ctx.options.policy, state.secure, names[i]!));
      }
    }
    return lines;
  }

  async reload(state: SessionState): Promise<void> {
    const origin = state.origin;
    resetChanges(state, origin === null ? new Map() : parseValues(this.#ctx.options, origin.record.data));
  }

  keepKey(session: Session): string {
    return session.handle;
  }

  listSessions(_userId: string, _now: number): Promise<SessionInfo[]> {
    return Promise.reject(
      new TypeError(
        tellerMessage('session', 'listSessions needs server-side sessions in a store with listByUser'),
      ),
    );
  }

  revokeSessions(userId: string, exceptKey: string | undefined, now: number): Promise<number> {
    if (this.#revocations === undefined) {
      return Promise.reject(
        new TypeError(
          tellerMessage(
            'session',
            'revoking sessions needs a store (sealed sessions: for a not-before record)',
          ),
        ),
      );
    }
    return this.#revocations.revoke(userId, exceptKey, now);
  }

  close(now: number): Promise<void> {
    return this.#revocations?.close(now) ?? Promise.resolve();
  }
}
