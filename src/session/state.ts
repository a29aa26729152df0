/**
 * The mutable state of one session: what the request did (which keys it read, wrote, updated, and the
 * lifecycle calls it made), shared by the `Session` a handler sees and the manager that loads and commits
 * it. Never exposed to users.
 */
import type { Release } from './lock.js';
import type { SessionMeta, SessionRecord } from './store.js';

/**
 * The data of a session whose keys are not declared: any key, values checked when set (JSON with the
 * default serializer). Declared data (`createSessionManager<Data>`) may be any object type, an interface
 * included.
 */
export type SessionData = Record<string, unknown>;

/** Keys starting with this prefix are Teller's own (CSRF secret, flash messages) and refused to users. */
export const INTERNAL_PREFIX = 'teller:';
/** The per-session CSRF secret (sessions with a user; anonymous ones use the CSRF cookie, `csrf.ts`). */
export const CSRF_KEY = 'teller:csrf';
/** When the current id was issued (epoch ms), for `renewAfter`. */
export const ISSUED_AT_KEY = 'teller:iat';
/**
 * When the session's user last logged in (epoch ms, the manager's clock), set by every `login()`: the
 * session's `authenticatedAt` and `isFresh(maxAgeMs)` (step-up freshness). A value like the others, so it
 * travels with the data through renewals, regenerations, compare-and-set merges and sealed cookies, and
 * goes with them at logout or destroy; nothing else (a touch, a write) moves it.
 */
export const AUTHENTICATED_AT_KEY = 'teller:auth';
/** Flash messages live under this prefix and their key. */
export const FLASH_PREFIX = 'teller:flash:';

/** One write of this request, kept in order so it can be re-applied on a newer record. */
export type Op =
  | { readonly kind: 'set'; readonly value: unknown }
  | { readonly kind: 'delete' }
  | { readonly kind: 'update'; readonly fn: (current: unknown) => unknown };

/** The record this session was loaded from. */
export interface Origin {
  /** The key the record lives under. */
  key: string;
  /** When the cookie's id was an old, renewed id: its key (a pointer record to `key`). */
  pointerKey: string | undefined;
  record: SessionRecord;
}

/** What the session needs from its manager. */
export interface SessionHost {
  newId(): string;
  keyOf(id: string): string;
  /** The keys of anonymous CSRF cookies, when known without a store call (see `csrf.ts`). */
  csrfKeys(): readonly Buffer[] | undefined;
  /** Values must be plain JSON (the default serializer): `set`, `update` and `flash` check them. */
  readonly jsonOnly: boolean;
  /** Re-reads the origin record; resets local changes. */
  reload(state: SessionState): Promise<void>;
  /**
   * A change after commit (the response was sent), dropped: reports it. `call` names the method (with
   * `key`, `set` for `set("views")`; without, the call, e.g. `touch()`).
   */
  lateWrite(state: SessionState, call: string, key: string | undefined): void;
}

/** The mutable state of one session, shared with the manager (never exposed to users). */
export interface SessionState {
  readonly host: SessionHost;
  /** The request's time (epoch ms): load and commit judge expiry at the same instant. */
  readonly now: number;
  readonly secure: boolean;
  readonly cookieName: string;
  /**
   * The request carried the session cookie under this former name (`__Host-sid`, `__Secure-sid`) and none
   * under `cookieName`: commit moves it (sets `cookieName`, deletes this one; see `legacy.ts`).
   */
  readonly movedFrom: string | undefined;
  readonly meta: SessionMeta | undefined;
  /** The request's cookies (its parsed Cookie header): the CSRF cookie is looked up only when a token is used. */
  readonly cookies: Readonly<Record<string, string>> | undefined;
  /**
   * A passive request (`{ passive: true }`: a poll, a health check): its commit never touches, renews or
   * extends the session; a write is saved with the record's idle expiry and last-seen time as they were.
   */
  readonly passive: boolean;
  /** The nonce of the valid anonymous CSRF cookie the request carried (null: none); undefined until a token is used. */
  csrfCarried: Buffer | null | undefined;
  /** A new anonymous CSRF nonce, sent in the CSRF cookie at commit (the request carried no valid cookie). */
  csrfIssued: Buffer | undefined;
  /** The request carried a cookie under `cookieName`. */
  cookieSent: boolean;
  /** The current id (undefined until needed for a fresh session). */
  id: string | undefined;
  /**
   * The id of the express-session cookie the session was loaded with (`legacyCookies`): while `id` is still it,
   * a cookie re-sent for it keeps express-session's format.
   */
  legacyId: string | undefined;
  /** The store key of `id`. */
  key: string | undefined;
  origin: Origin | null;
  /**
   * The cookie named an id that login or regenerate retired: the key its session continues under (a
   * logout or destroy of this request ends that session too).
   */
  retiredTo: string | undefined;
  /** The key the session's record lives under now (the origin's, then whatever commit wrote). */
  storedKey: string | undefined;
  values: Map<string, unknown>;
  /**
   * This request's writes by key. This and the three sets below are created on first use (undefined until
   * then): most requests write nothing, and four collections per request showed in the per-request cost.
   */
  ops: Map<string, Op[]> | undefined;
  /** Keys whose base value this request read (before overwriting them). */
  readBase: Set<string> | undefined;
  /** Keys whose current value no longer depends on the base (a set or delete happened). */
  overwritten: Set<string> | undefined;
  /** Keys read, then set or deleted: a concurrent change to them is a conflict. */
  dependent: Set<string> | undefined;
  userId: string | undefined;
  /** login/logout changed the user in this request. */
  userChanged: boolean;
  /** Persistent cookie ("remember me"); undefined keeps the record's. */
  persistent: boolean | undefined;
  /** A new id at commit (regenerate, login): the origin record is retired. */
  rotate: boolean;
  /** Restart the absolute lifetime (login). */
  restartLifetime: boolean;
  /** Records ended by logout/destroy, deleted at commit. */
  discarded: Origin[];
  touchRequested: boolean;
  release: Release | undefined;
  /** The key of the in-process lock `release` ends. */
  lockKey: string | undefined;
  committed: boolean;
  accessed: boolean;
  isNew: boolean;
  /** Lifecycle events to emit when the commit succeeds. */
  lifecycle: Array<'login' | 'logout' | 'destroy' | 'regenerate'>;
}

/** Builds the state of a session. */
export function createState(
  init: Pick<SessionState, 'host' | 'now' | 'secure' | 'cookieName' | 'meta' | 'cookies' | 'passive'> & {
    movedFrom?: string | undefined;
    cookieSent: boolean;
    id?: string | undefined;
    key?: string | undefined;
    origin?: Origin | null;
    values?: Map<string, unknown>;
  },
): SessionState {
  const origin = init.origin ?? null;
  return {
    host: init.host,
    now: init.now,
    secure: init.secure,
    cookieName: init.cookieName,
    movedFrom: init.movedFrom,
    meta: init.meta,
    cookies: init.cookies,
    passive: init.passive,
    csrfCarried: undefined,
    csrfIssued: undefined,
    cookieSent: init.cookieSent,
    id: init.id,
    legacyId: undefined,
    key: init.key,
    origin,
    retiredTo: undefined,
    storedKey: origin?.key,
    values: init.values ?? new Map(),
    ops: undefined,
    readBase: undefined,
    overwritten: undefined,
    dependent: undefined,
    userId: origin?.record.userId,
    userChanged: false,
    persistent: undefined,
    rotate: false,
    restartLifetime: false,
    discarded: [],
    touchRequested: false,
    release: undefined,
    lockKey: undefined,
    committed: false,
    accessed: false,
    isNew: origin === null,
    lifecycle: [],
  };
}

/** Resets what the request did to the values (not the lifecycle), e.g. after `reload()`. */
export function resetChanges(state: SessionState, values: Map<string, unknown>): void {
  state.values = values;
  state.ops = undefined;
  state.readBase = undefined;
  state.overwritten = undefined;
  state.dependent = undefined;
}

/** Turns the state into a fresh anonymous session with no values (its record is gone or ended). */
export function resetToFresh(state: SessionState): void {
  state.origin = null;
  state.isNew = true;
  state.id = undefined;
  state.key = undefined;
  state.userId = undefined;
  state.rotate = false;
  resetChanges(state, new Map());
}

/** Applies one op to a value (undefined = absent). */
export function applyOp(current: unknown, op: Op): unknown {
  if (op.kind === 'set') return op.value;
  if (op.kind === 'delete') return undefined;
  return op.fn(current);
}

/** Replays a key's ops onto `start`. */
export function replay(start: unknown, ops: readonly Op[]): unknown {
  let value = start;
  for (const op of ops) value = applyOp(value, op);
  return value;
}

/**
 * Whether a session without a stored record must be stored: it ends with data (Teller's bookkeeping
 * key `teller:iat` aside; a flash message counts, and so does a CSRF secret, which only a session with a
 * user gets), a user, or a persistent cookie.
 * `set('a', 1); delete('a')`, `delete('cart')` or `update('x', () => undefined)` store nothing.
 */
export function worthStoring(state: SessionState): boolean {
  return (
    state.userId !== undefined ||
    state.persistent === true ||
    state.values.size > (state.values.has(ISSUED_AT_KEY) ? 1 : 0)
  );
}

/** logout/destroy ran and the request carried a cookie: clear it (even when its session had expired). */
export function clearsCookie(state: SessionState): boolean {
  return state.cookieSent && (state.lifecycle.includes('logout') || state.lifecycle.includes('destroy'));
}

/** The name of the session cookie the request carried (its former name, when it is to be moved). */
export function carriedName(state: SessionState): string {
  return state.movedFrom ?? state.cookieName;
}

/** The session's id, given one now if it has none yet (a fresh session about to be stored). */
export function ensureId(state: SessionState): string {
  if (state.id === undefined) {
    state.id = state.host.newId();
    state.key = state.host.keyOf(state.id);
  }
  return state.id;
}
