/**
 * The session manager: `load` turns a Cookie header into a `Session`, `commit` turns the session back
 * into store writes and Set-Cookie lines. The core sees strings and plain objects only, never
 * `req`/`res`; adapters translate.
 *
 * Guarantees (see DESIGN.md "Sessions"): strict ids, lazy storage (one store read for an unmodified
 * request, no write and no cookie), throttled touch, expiry judged by this manager's clock only,
 * renewal with a grace pointer, compare-and-set on every write with per-key re-application, an
 * in-process lock per session, store failures as typed errors within `storeTimeout`, no raw id in
 * anything logged, thrown or emitted.
 */
import { parseCookie, type Secret } from '../cookie/index.js';
import {
  type CookiePolicy,
  cookieNameFor,
  deleteCookieLine,
  isSecureRequest,
  resolveCookiePolicy,
  sessionCookieLine,
} from './cookie-policy.js';
import {
  SessionConflictError,
  SessionDestroyedError,
  SessionStoreError,
  SessionTooLargeError,
} from './errors.js';
import { decodeIdCookie, encodeIdCookie, generateId, refOf, storeKeyOf } from './ids.js';
import { KeyedLock } from './lock.js';
import {
  DEFAULTS,
  duration,
  MAX_COOKIE_LIFETIME_MS,
  type SessionEvent,
  type SessionEventType,
  type SessionManagerOptions,
} from './options.js';
import { deriveSealKeys, type SealKeys, seal, unseal } from './seal.js';
import { fromValueMap, jsonSerializer, toValueMap } from './serializer.js';
import {
  createState,
  ISSUED_AT_KEY,
  type Origin,
  replay,
  resetChanges,
  resetToFresh,
  Session,
  type SessionData,
  type SessionHost,
  type SessionState,
  stateOf,
} from './session.js';
import { RECORD_FORMAT, type SessionMeta, type SessionRecord, type SessionStore } from './store.js';

/** What the adapter knows about the request. */
export interface LoadContext {
  /** The request's time; load and commit judge expiry at this instant. @default the manager's clock */
  now?: Date | number;
  /** The adapter's verdict: HTTPS, directly or through a trusted proxy. */
  secure?: boolean;
  /** The Host header (for loopback detection with `secure: 'auto'`). */
  host?: string;
  /** Stored with the session for `listSessions`. */
  userAgent?: string;
  /** Stored with the session for `listSessions`. */
  ip?: string;
}

export interface CommitOptions {
  /** The response status; 500 and above persist nothing and set no cookie. @default 200 */
  status?: number;
}

export interface CommitResult {
  /** Set-Cookie field values to append to the response (before its headers are sent). */
  setCookie: string[];
}

/** One session of a user, as `listSessions` shows it (never the id). */
export interface SessionInfo {
  /** The store key (SHA-256 of the id): compare with `session.handle`, pass to `revokeSessions({ except })`. */
  handle: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  persistent: boolean;
  userAgent?: string;
  ip?: string;
}

export interface RevokeOptions<Data extends SessionData = SessionData> {
  /** Keep this session (e.g. the current one, for "log out other devices"): a Session or its handle. */
  except?: Session<Data> | string;
  /** @default the manager's clock */
  now?: Date | number;
}

export interface SessionManager<Data extends SessionData = SessionData> {
  /**
   * Reads the session the Cookie header names, or gives a fresh one (absent, expired, unknown, tampered:
   * never an error). Throws SessionStoreError (503) when the store fails or exceeds `storeTimeout`, and
   * SessionLockTimeoutError (503) when another request of the session held it for `lockTimeout`.
   * A loaded session holds its in-process lock until `commit` (or `session.release()`): always commit,
   * with the response status (a 5xx persists nothing), also when the handler failed.
   */
  load(cookieHeader: string | undefined | null, context?: LoadContext): Promise<Session<Data>>;
  /**
   * Persists what the request did (nothing when unchanged, or when `status` >= 500) and returns the
   * Set-Cookie lines to send before the response headers; releases the session lock. Throws
   * SessionConflictError or SessionDestroyedError (409), SessionStoreError (503), SessionTooLargeError (500).
   */
  commit(session: Session<Data>, options?: CommitOptions): Promise<CommitResult>;
  /** A user's live sessions (needs a store with `listByUser`). */
  listSessions(userId: string, options?: { now?: Date | number }): Promise<SessionInfo[]>;
  /** Ends every session of a user ("log out everywhere"), except one if asked; returns how many ended. */
  revokeSessions(userId: string, options?: RevokeOptions<Data>): Promise<number>;
  /** The cookie name this manager uses for a request. */
  cookieName(context?: Pick<LoadContext, 'secure' | 'host'>): string;
  /** Closes the store (when it can be closed); later loads throw. */
  close(): Promise<void>;
}

/** Stores keep records this much longer than their remaining lifetime (the manager judges expiry). */
const TTL_SLACK_MS = 60_000;
/** Merge attempts after compare-and-set conflicts before giving up with SessionConflictError. */
const MAX_MERGES = 16;
/** A retired record (after login/regenerate) until it is deleted: expired for every clock. */
const TOMBSTONE_TTL_MS = 10_000;
/** Not-before records (sealed-session revocation) live under keys no session key can equal. */
const NOT_BEFORE_PREFIX = 'nb.';
/**
 * Ended sealed sessions a user's not-before record lists at most (it is read on each of the user's
 * requests). Beyond, the record falls back to a not-before time: all older cookies of the user end.
 */
const MAX_DENIED = 256;
/** Deny records of ended anonymous sealed sessions (the key of their id, under this prefix). */
const DENY_PREFIX = 'dn.';

/**
 * The data of a user's not-before record (sealed mode): `x` the handle `revokeSessions` kept, `d` the
 * sealed sessions of this user ended by logout/login/regenerate/destroy (key -> their expiry, epoch ms).
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

type WriteMode = 'write' | 'touch' | 'rotate' | 'renew';

/** The request time (for events) and the monotonic deadline (performance.now()) of store calls. */
interface Budget {
  now: number;
  deadline: number;
}

/** SessionStoreErrors of store calls that exceeded the budget (as opposed to calls that failed). */
const timeouts = new WeakSet<Error>();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function toMs(now: Date | number | undefined, clock: () => number): number {
  if (now === undefined) return clock();
  const ms = now instanceof Date ? now.getTime() : now;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new TypeError('[teller] [session] context.now must be a Date or epoch milliseconds');
  }
  return ms;
}

function metaOf(context: LoadContext): SessionMeta | undefined {
  const { userAgent, ip } = context;
  if (userAgent === undefined && ip === undefined) return undefined;
  const meta: SessionMeta = {};
  if (typeof userAgent === 'string') meta.userAgent = userAgent.slice(0, 512);
  if (typeof ip === 'string') meta.ip = ip.slice(0, 64);
  return meta;
}

function secretList(secret: Secret | readonly Secret[] | undefined): readonly Secret[] | undefined {
  if (secret === undefined) return undefined;
  const list = typeof secret === 'string' || secret instanceof Uint8Array ? [secret] : [...secret];
  if (list.length === 0) throw new TypeError('[teller] [session] secret must not be an empty array');
  return list;
}

/** Payload of a sealed cookie (short names: it travels in every request). */
interface SealedPayload {
  f: number;
  i: string;
  d: string;
  u?: string;
  c: number;
  l: number;
  e: number;
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

/**
 * Creates a session manager.
 *
 * @example
 * const sessions = createSessionManager<{ cart: string[] }>({ store: createMemoryStore() });
 * const session = await sessions.load(req.headers.cookie, { secure: true, host: req.headers.host });
 * session.update('cart', (cart = []) => [...cart, 'apple']);
 * const { setCookie } = await sessions.commit(session, { status: 200 });
 */
export function createSessionManager<Data extends SessionData = SessionData>(
  options: SessionManagerOptions,
): SessionManager<Data> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('[teller] [session] createSessionManager needs an options object');
  }
  const store = options.store;
  if (store !== undefined) {
    for (const method of ['get', 'set', 'delete'] as const) {
      if (typeof store[method] !== 'function') {
        throw new TypeError(`[teller] [session] store.${method} must be a function`);
      }
    }
  }
  const sealKeys: SealKeys | undefined = options.seal ? deriveSealKeys(options.seal.secrets) : undefined;
  if (store === undefined && sealKeys === undefined) {
    throw new TypeError('[teller] [session] give a store, or seal: { secrets } for cookie-only sessions');
  }
  const policy: CookiePolicy = resolveCookiePolicy(options.cookie);
  const idleTimeout = duration('idleTimeout', options.idleTimeout, DEFAULTS.idleTimeout);
  const absoluteTimeout = duration('absoluteTimeout', options.absoluteTimeout, DEFAULTS.absoluteTimeout);
  const rememberMe = duration('rememberMe', options.rememberMe, DEFAULTS.rememberMe, MAX_COOKIE_LIFETIME_MS);
  const rememberMeAbsolute = duration(
    'rememberMeAbsolute',
    options.rememberMeAbsolute,
    Math.max(DEFAULTS.rememberMeAbsolute, rememberMe),
    MAX_COOKIE_LIFETIME_MS,
  );
  const renewAfter =
    options.renewAfter === undefined ? undefined : duration('renewAfter', options.renewAfter, 0);
  const renewGrace = duration('renewGrace', options.renewGrace, DEFAULTS.renewGrace);
  const maxDataBytes = duration('maxDataBytes', options.maxDataBytes, DEFAULTS.maxDataBytes);
  const storeTimeout = duration('storeTimeout', options.storeTimeout, DEFAULTS.storeTimeout, 2 ** 31 - 1);
  const lockTimeout = duration('lockTimeout', options.lockTimeout, DEFAULTS.lockTimeout, 2 ** 31 - 1);
  const touchInterval = duration('touchInterval', options.touchInterval, DEFAULTS.touchInterval);
  const secrets = secretList(options.secret);
  const serializer = options.serializer ?? jsonSerializer;
  if (typeof serializer.parse !== 'function' || typeof serializer.stringify !== 'function') {
    throw new TypeError('[teller] [session] serializer needs parse and stringify functions');
  }
  const clock = options.clock ?? Date.now;
  const random = options.random;
  const logger = options.logger;
  const onEvent = options.onEvent;
  const lock = new KeyedLock();
  let closed = false;

  // ---- reporting (never an id: refs are prefixes of the hash) ----

  const log = (
    level: 'debug' | 'info' | 'warn' | 'error',
    message: string,
    fields?: Record<string, unknown>,
  ) => {
    try {
      logger?.[level]?.(message, fields);
    } catch {
      // A broken logger must not break requests.
    }
  };
  const emit = (type: SessionEventType, at: number, key?: string, extra?: Partial<SessionEvent>): void => {
    if (onEvent === undefined) return;
    const event: SessionEvent = { type, at, ...extra };
    if (key !== undefined) event.ref = refOf(key);
    try {
      onEvent(event);
    } catch (error) {
      log('error', '[teller] [session] an onEvent hook threw', { error: String(error) });
    }
  };

  // ---- store calls: typed errors, bounded by storeTimeout ----

  /** The time a load, commit or other manager call may spend waiting for the store, in total. */
  const budget = (now: number): Budget => ({ now, deadline: performance.now() + storeTimeout });

  const call = <T>(op: string, run: (s: SessionStore) => Promise<T>, b: Budget): Promise<T> => {
    const at = b.now;
    const fail = (error: SessionStoreError): SessionStoreError => {
      log('error', error.message, { cause: error.cause instanceof Error ? error.cause.message : undefined });
      emit('store-error', at, undefined, { detail: op });
      return error;
    };
    let pending: Promise<T>;
    try {
      pending = run(store!);
    } catch (cause) {
      return Promise.reject(fail(new SessionStoreError(`[teller] [session] store ${op} failed`, { cause })));
    }
    // A store whose promises are settled when returned (in-process) cannot hang: no timeout to arm.
    if (store!.immediate === true) {
      return pending.then(undefined, (cause: unknown) => {
        throw fail(new SessionStoreError(`[teller] [session] store ${op} failed`, { cause }));
      });
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      Promise.resolve(pending).then(
        (value) => {
          if (settled) return;
          settled = true;
          if (timer !== undefined) clearTimeout(timer);
          resolve(value);
        },
        (cause: unknown) => {
          if (settled) return;
          settled = true;
          if (timer !== undefined) clearTimeout(timer);
          reject(fail(new SessionStoreError(`[teller] [session] store ${op} failed`, { cause })));
        },
      );
      // An answer already there (an in-memory store) settles before this check and needs no timer.
      queueMicrotask(() => {
        if (settled) return;
        const left = Math.max(0, b.deadline - performance.now());
        timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          const message = `[teller] [session] store ${op} did not answer in time (storeTimeout ${storeTimeout} ms for the whole operation)`;
          const error = new SessionStoreError(message);
          timeouts.add(error);
          reject(fail(error));
        }, left);
      });
    });
  };

  // ---- helpers ----

  const limits = (persistent: boolean) =>
    persistent
      ? { idle: rememberMe, absolute: rememberMeAbsolute }
      : { idle: idleTimeout, absolute: absoluteTimeout };

  const usable = (record: SessionRecord | null, now: number): record is SessionRecord =>
    record !== null &&
    typeof record === 'object' &&
    record.format === RECORD_FORMAT &&
    typeof record.data === 'string' &&
    now < record.expiresAt;

  const parseValues = (data: string): Map<string, unknown> => toValueMap(serializer.parse(data));

  const serialize = (values: Map<string, unknown>): string => {
    const text = serializer.stringify(fromValueMap(values));
    if (typeof text !== 'string')
      throw new TypeError('[teller] [session] serializer.stringify must return a string');
    const bytes = Buffer.byteLength(text);
    if (bytes > maxDataBytes) {
      throw new SessionTooLargeError(
        `[teller] [session] the session data is ${bytes} bytes, more than maxDataBytes (${maxDataBytes})`,
      );
    }
    return text;
  };

  const sameValue = (a: unknown, b: unknown): boolean => {
    if (a === b) return true;
    if (a === undefined || b === undefined) return false;
    return serializer.stringify({ v: a }) === serializer.stringify({ v: b });
  };

  const host: SessionHost = {
    newId: () => generateId(random),
    keyOf: storeKeyOf,
    reload: async (state) => {
      const origin = state.origin;
      if (origin === null || store === undefined || sealKeys !== undefined) {
        resetChanges(state, origin === null ? new Map() : parseValues(origin.record.data));
        return;
      }
      const record = await call('get', (s) => s.get(origin.key), budget(state.now));
      if (!usable(record, state.now) || record.movedTo !== undefined) {
        resetToFresh(state);
        return;
      }
      state.origin = { ...origin, record };
      state.userId = state.userChanged ? state.userId : record.userId;
      resetChanges(state, parseValues(record.data));
    },
  };

  const freshSession = (
    now: number,
    secure: boolean,
    cookieName: string,
    meta: SessionMeta | undefined,
    cookieSent: boolean,
  ): Session<Data> => new Session<Data>(createState({ host, now, secure, cookieName, meta, cookieSent }));

  /** The record a key names, following one renewal pointer; null when absent, expired or unknown. */
  const resolveOrigin = async (key: string, now: number, b: Budget): Promise<Origin | 'expired' | null> => {
    const record = await call('get', (s) => s.get(key), b);
    if (record === null || record === undefined) return null;
    if (!usable(record, now)) return 'expired';
    if (record.movedTo === undefined) return { key, pointerKey: undefined, record };
    const target = await call('get', (s) => s.get(record.movedTo!), b);
    if (!usable(target, now) || target.movedTo !== undefined) return 'expired';
    return { key: record.movedTo, pointerKey: key, record: target };
  };

  const cookieFor = (
    state: SessionState,
    record: Pick<SessionRecord, 'persistent' | 'expiresAt'>,
    value: string,
  ) =>
    sessionCookieLine(
      policy,
      state.secure,
      state.cookieName,
      value,
      record.persistent ? record.expiresAt - state.now : undefined,
    );

  const touchDue = (record: SessionRecord, now: number): boolean => {
    const { idle, absolute } = limits(record.persistent === true);
    if (Math.min(now + idle, record.createdAt + absolute) <= record.expiresAt) return false;
    return now - record.lastSeenAt >= touchInterval || record.lastSeenAt + idle - now < idle / 2;
  };

  const issuedAt = (origin: Origin, values: Map<string, unknown>): number => {
    const iat = values.get(ISSUED_AT_KEY);
    return typeof iat === 'number' ? iat : origin.record.createdAt;
  };

  /** The record to write for `values` on top of `base` (null: a new session). */
  const buildRecord = (
    state: SessionState,
    base: SessionRecord | null,
    data: string,
    version: number,
  ): SessionRecord => {
    const now = state.now;
    const persistent = state.persistent ?? base?.persistent ?? false;
    const createdAt = base === null || state.restartLifetime ? now : base.createdAt;
    const userId = state.userChanged ? state.userId : base?.userId;
    const { idle, absolute } = limits(persistent);
    const record: SessionRecord = {
      format: RECORD_FORMAT,
      data,
      version,
      createdAt,
      lastSeenAt: now,
      expiresAt: Math.min(now + idle, createdAt + absolute),
    };
    if (userId !== undefined) record.userId = userId;
    if (persistent) record.persistent = true;
    const meta = state.meta ?? base?.meta;
    if (meta !== undefined) record.meta = meta;
    return record;
  };

  const ttlOf = (record: SessionRecord, now: number): number =>
    Math.max(0, record.expiresAt - now) + TTL_SLACK_MS;

  /** This request's writes re-applied onto the newest values; SessionConflictError for read-then-written keys. */
  const reapply = (
    state: SessionState,
    origin: Origin,
    newest: Map<string, unknown>,
  ): Map<string, unknown> => {
    if (state.dependent.size > 0) {
      const before = parseValues(origin.record.data);
      for (const key of state.dependent) {
        if (!sameValue(before.get(key), newest.get(key))) {
          emit('conflict', state.now, origin.key, { detail: key });
          throw new SessionConflictError(
            `[teller] [session] "${key}" was read and written by this request and changed by another one meanwhile; nothing was saved`,
          );
        }
      }
    }
    const out = new Map(newest);
    for (const [key, ops] of state.ops) {
      const value = replay(newest.get(key), ops);
      if (value === undefined) out.delete(key);
      else out.set(key, value);
    }
    return out;
  };

  const destroyedError = (state: SessionState, key: string): SessionDestroyedError => {
    emit('conflict', state.now, key, { detail: 'destroyed' });
    return new SessionDestroyedError(
      '[teller] [session] the session was ended (logout, revoke or expiry) by another request; nothing was saved',
    );
  };

  /**
   * Ends the record under `key` for good (logout, destroy): a tombstone by compare-and-set against the
   * version this request saw (`null`: read it first), then a delete. When the compare-and-set fails,
   * the newest record is read: another process may have renewed the id meanwhile, leaving a pointer, so
   * the record it points to is ended too (otherwise the renewed session would outlive the logout).
   */
  const retire = async (key: string, expected: number | null, b: Budget, depth: number): Promise<void> => {
    let version = expected;
    for (let attempt = 0; ; attempt++) {
      if (version !== null) {
        const tombstone: SessionRecord = {
          format: RECORD_FORMAT,
          data: '',
          version: version + 1,
          createdAt: 0,
          lastSeenAt: 0,
          expiresAt: 0,
        };
        if (await call('set', (s) => s.set(key, tombstone, version, TOMBSTONE_TTL_MS), b)) break;
      }
      if (attempt >= MAX_MERGES) {
        throw new SessionConflictError('[teller] [session] the session kept changing while it was ended');
      }
      const current = await call('get', (s) => s.get(key), b);
      if (current === null || current === undefined) return;
      // A renewal pointer: end the renewed record as well (a chain is at most a few links long).
      if (current.movedTo !== undefined && depth < 4) await retire(current.movedTo, null, b, depth + 1);
      version = current.version;
    }
    await call('delete', (s) => s.delete(key), b);
  };

  // ---- commit, store mode ----

  const commitStored = async (state: SessionState): Promise<string[]> => {
    const now = state.now;
    const b = budget(now);
    const out: string[] = [];
    for (const ended of state.discarded) {
      await retire(ended.key, ended.record.version, b, 0);
      if (ended.pointerKey !== undefined) await call('delete', (s) => s.delete(ended.pointerKey!), b);
    }
    const origin = state.origin;

    if (origin === null) {
      if (!worthStoring(state)) {
        if (ended(state)) out.push(deleteCookieLine(policy, state.secure, state.cookieName));
        emitLifecycle(state, state.discarded[0]?.key);
        return out;
      }
      if (state.id === undefined) {
        state.id = host.newId();
        state.key = storeKeyOf(state.id);
      }
      const key = state.key!;
      const values = state.values;
      values.delete(ISSUED_AT_KEY);
      const record = buildRecord(state, null, serialize(values), 1);
      const ok = await call('set', (s) => s.set(key, record, null, ttlOf(record, now)), b);
      if (!ok) throw new SessionStoreError('[teller] [session] the store refused a new session (key in use)');
      state.storedKey = key;
      emit('created', now, key, { userId: record.userId });
      emitLifecycle(state, key);
      out.push(cookieFor(state, record, encodeIdCookie(state.id, secrets)));
      return out;
    }

    let mode: WriteMode | undefined;
    if (state.rotate) mode = 'rotate';
    else if (
      renewAfter !== undefined &&
      origin.pointerKey === undefined &&
      now - issuedAt(origin, state.values) >= renewAfter
    )
      mode = 'renew';
    // Writes that cancel out (set then delete, delete of an absent key, an update to the same value)
    // change nothing: no write, at most the throttled touch. The text serialized here is reused below.
    let data: string | undefined;
    if (mode === undefined && state.ops.size > 0) {
      data = serialize(state.values);
      if (data !== origin.record.data) mode = 'write';
    }
    if (mode === undefined && (state.touchRequested || touchDue(origin.record, now))) mode = 'touch';
    if (mode === undefined) return out;

    let base = origin.record;
    let baseKey = origin.key;
    let values = state.values;
    for (let attempt = 0; ; attempt++) {
      const written = await writeOnce(state, mode, baseKey, base, values, data, origin, b);
      if (written !== null) {
        state.storedKey = mode === 'rotate' || mode === 'renew' ? state.key : baseKey;
        if (attempt > 0) emit('merged', now, baseKey, { detail: String(attempt) });
        if (mode === 'rotate' || mode === 'renew') {
          out.push(cookieFor(state, written, encodeIdCookie(state.id!, secrets)));
          if (mode === 'renew') emit('renewed', now, state.key, { userId: written.userId });
        } else if (written.persistent && origin.pointerKey === undefined) {
          // A persistent cookie's Max-Age follows the session's lifetime: re-send it.
          out.push(cookieFor(state, written, encodeIdCookie(state.id!, secrets)));
        }
        if (mode === 'touch') emit('touched', now, baseKey);
        emitLifecycle(state, state.key);
        return out;
      }
      if (mode === 'touch') return out; // someone else wrote (and so touched) the session meanwhile
      if (attempt >= MAX_MERGES) {
        throw new SessionConflictError('[teller] [session] the session kept changing; gave up after retries');
      }
      // Jittered backoff from the second conflict on, so writers in lock-step cannot starve one another.
      if (attempt > 0) await sleep(Math.random() * Math.min(2 ** attempt, 50));
      let newest = await call('get', (s) => s.get(baseKey), b);
      if (usable(newest, now) && newest.movedTo !== undefined) {
        // Another process renewed the id meanwhile: write to the new record, keep the client's id.
        baseKey = newest.movedTo;
        newest = await call('get', (s) => s.get(baseKey), b);
        if (mode === 'renew') mode = 'write';
      }
      if (!usable(newest, now) || newest.movedTo !== undefined) throw destroyedError(state, baseKey);
      if (mode === 'renew') mode = 'write'; // someone else wrote; renew on a later request
      values = reapply(state, origin, parseValues(newest.data));
      data = undefined;
      base = newest;
    }
  };

  /** One compare-and-set attempt; the written record, or null on a conflict. */
  const writeOnce = async (
    state: SessionState,
    mode: WriteMode,
    baseKey: string,
    base: SessionRecord,
    values: Map<string, unknown>,
    serialized: string | undefined,
    origin: Origin,
    b: Budget,
  ): Promise<SessionRecord | null> => {
    const now = state.now;
    if (mode === 'write' || mode === 'touch') {
      const data = mode === 'touch' ? base.data : (serialized ?? serialize(values));
      const record = buildRecord(state, base, data, base.version + 1);
      const ok = await call('set', (s) => s.set(baseKey, record, base.version, ttlOf(record, now)), b);
      return ok ? record : null;
    }
    // rotate / renew: the record under a new key first, then the old key retired by compare-and-set.
    const previous = { id: state.id, key: state.key };
    if (mode === 'renew') {
      state.id = host.newId();
      state.key = storeKeyOf(state.id);
    }
    const newKey = state.key!;
    const next = new Map(values);
    if (renewAfter !== undefined && !state.restartLifetime) next.set(ISSUED_AT_KEY, now);
    else next.delete(ISSUED_AT_KEY);
    const record = buildRecord(state, base, serialize(next), 1);
    const created = await call('set', (s) => s.set(newKey, record, null, ttlOf(record, now)), b);
    if (!created)
      throw new SessionStoreError('[teller] [session] the store refused a new session (key in use)');
    const retired: SessionRecord =
      mode === 'renew'
        ? {
            format: RECORD_FORMAT,
            data: '',
            version: base.version + 1,
            createdAt: base.createdAt,
            lastSeenAt: now,
            expiresAt: Math.min(now + renewGrace, record.expiresAt),
            movedTo: newKey,
          }
        : {
            format: RECORD_FORMAT,
            data: '',
            version: base.version + 1,
            createdAt: base.createdAt,
            lastSeenAt: now,
            expiresAt: 0,
          };
    const ttl = mode === 'renew' ? renewGrace + TTL_SLACK_MS : TOMBSTONE_TTL_MS;
    const ok = await call('set', (s) => s.set(baseKey, retired, base.version, ttl), b);
    if (!ok) {
      await call('delete', (s) => s.delete(newKey), b);
      if (mode === 'renew') {
        state.id = previous.id;
        state.key = previous.key;
      }
      return null;
    }
    if (mode === 'rotate') {
      await call('delete', (s) => s.delete(baseKey), b);
      if (origin.pointerKey !== undefined) await call('delete', (s) => s.delete(origin.pointerKey!), b);
      // Another process renewed the id meanwhile: the key this request loaded is now a pointer.
      if (baseKey !== origin.key) await call('delete', (s) => s.delete(origin.key), b);
    }
    return record;
  };

  /**
   * The record `revokeSessions({ except: session })` must keep: before commit, the one the session was
   * loaded from (its commit compare-and-sets it, even when logging in); after, the one commit wrote.
   */
  const keepKey = (session: Session<Data>): string => {
    const state = stateOf(session);
    if (sealKeys !== undefined || state.committed) return session.handle;
    return state.storedKey ?? session.handle;
  };

  /**
   * Whether a session without a stored record must be stored: it ends with data (Teller's bookkeeping
   * key `teller:iat` aside; a CSRF secret or a flash message counts), a user, or a persistent cookie.
   * `set('a', 1); delete('a')`, `delete('cart')` or `update('x', () => undefined)` store nothing.
   */
  const worthStoring = (state: SessionState): boolean =>
    state.userId !== undefined ||
    state.persistent === true ||
    state.values.size > (state.values.has(ISSUED_AT_KEY) ? 1 : 0);

  /** logout/destroy ran and the request carried a cookie: clear it (even when its session had expired). */
  const ended = (state: SessionState): boolean =>
    state.cookieSent && (state.lifecycle.includes('logout') || state.lifecycle.includes('destroy'));

  const emitLifecycle = (state: SessionState, key: string | undefined): void => {
    for (const type of state.lifecycle) {
      emit(type, state.now, key, state.userId === undefined ? undefined : { userId: state.userId });
    }
  };

  // ---- sealed mode ----

  const notBeforeKey = (userId: string): string => NOT_BEFORE_PREFIX + storeKeyOf(`user:${userId}`);

  const loadSealed = async (
    raw: string,
    now: number,
    secure: boolean,
    cookieName: string,
    meta: SessionMeta | undefined,
  ): Promise<Session<Data>> => {
    const text = unseal(raw, sealKeys!, cookieName);
    let payload: unknown;
    try {
      payload = text === undefined ? undefined : JSON.parse(text);
    } catch {
      payload = undefined;
    }
    if (!isSealedPayload(payload) || payload.f !== RECORD_FORMAT) {
      emit('rejected', now, undefined, { detail: 'tampered or foreign sealed cookie' });
      return freshSession(now, secure, cookieName, meta, true);
    }
    const key = storeKeyOf(payload.i);
    if (now >= payload.e) {
      emit('expired', now, key);
      return freshSession(now, secure, cookieName, meta, true);
    }
    if (store !== undefined) {
      // One store read: a user's sealed sessions are checked against the user's record (revocations
      // and ended sessions), an anonymous one against the deny record of its own id.
      const user = payload.u;
      const denyKey = user === undefined ? DENY_PREFIX + key : notBeforeKey(user);
      const found = await call('get', (s) => s.get(denyKey), budget(now));
      let denied = false;
      if (found !== null && found !== undefined) {
        if (user === undefined) denied = true;
        else {
          const revocations = parseRevocations(found.data);
          denied =
            (payload.c < found.createdAt && revocations.x !== key) ||
            (revocations.d !== undefined && Object.hasOwn(revocations.d, key));
        }
      }
      if (denied) {
        emit('rejected', now, key, { detail: 'revoked', userId: user });
        return freshSession(now, secure, cookieName, meta, true);
      }
    }
    const record: SessionRecord = {
      format: payload.f,
      data: payload.d,
      version: 0,
      createdAt: payload.c,
      lastSeenAt: payload.l,
      expiresAt: payload.e,
    };
    if (payload.u !== undefined) record.userId = payload.u;
    if (payload.p === 1) record.persistent = true;
    let values: Map<string, unknown>;
    try {
      values = parseValues(record.data);
    } catch {
      emit('rejected', now, key, { detail: 'unreadable data' });
      return freshSession(now, secure, cookieName, meta, true);
    }
    return new Session<Data>(
      createState({
        host,
        now,
        secure,
        cookieName,
        meta,
        cookieSent: true,
        id: payload.i,
        key,
        origin: { key, pointerKey: undefined, record },
        values,
      }),
    );
  };

  /**
   * Changes a user's not-before record by compare-and-set: `revokeExcept` (a revocation: sealed cookies
   * created before `now` are refused, except that handle) and/or `deny` (one ended session's key, refused
   * until its expiry). Expired denials are dropped. SessionConflictError after MAX_MERGES conflicts.
   */
  const updateRevocations = async (
    userId: string,
    now: number,
    b: Budget,
    revoke: { except: string | undefined } | undefined,
    deny: { key: string; until: number } | undefined,
  ): Promise<void> => {
    const key = notBeforeKey(userId);
    for (let attempt = 0; ; attempt++) {
      if (attempt >= MAX_MERGES) {
        throw new SessionConflictError(
          '[teller] [session] the not-before record of this user kept changing; the sessions were not revoked',
        );
      }
      const current = await call('get', (s) => s.get(key), b);
      const previous = current === null || current === undefined ? {} : parseRevocations(current.data);
      let until = revoke !== undefined ? now + Math.max(absoluteTimeout, rememberMeAbsolute) : now;
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
        if (Object.keys(denied).length >= MAX_DENIED) {
          // Too many to list: every sealed cookie of this user from before now ends (fail closed).
          for (const k of Object.keys(denied)) delete denied[k];
          notBefore = now;
          except = undefined;
          until = Math.max(until, now + Math.max(absoluteTimeout, rememberMeAbsolute));
        }
        denied[deny.key] = deny.until;
        anyDenied = true;
        until = Math.max(until, deny.until);
      }
      const body: UserRevocations = {};
      if (except !== undefined) body.x = except;
      if (anyDenied) body.d = denied;
      const record: SessionRecord = {
        format: RECORD_FORMAT,
        data: JSON.stringify(body),
        version: (current?.version ?? 0) + 1,
        createdAt: notBefore,
        lastSeenAt: now,
        expiresAt: until,
      };
      const expected = current === null || current === undefined ? null : current.version;
      const ttl = Math.max(0, until - now) + TTL_SLACK_MS;
      if (await call('set', (s) => s.set(key, record, expected, ttl), b)) return;
    }
  };

  /**
   * Sealed mode with a store: the cookies this request ended (logout, destroy, and the old id of a
   * login/regenerate) are refused from now until they expire, so a copy made before cannot be replayed.
   */
  const denySealed = async (state: SessionState): Promise<void> => {
    const ended: Origin[] = state.discarded;
    const rotated = state.rotate && state.origin !== null ? state.origin : undefined;
    if (ended.length === 0 && rotated === undefined) return;
    const now = state.now;
    const b = budget(now);
    for (const origin of rotated === undefined ? ended : [...ended, rotated]) {
      const until = origin.record.expiresAt;
      if (until <= now) continue;
      const userId = origin.record.userId;
      if (userId !== undefined) {
        await updateRevocations(userId, now, b, undefined, { key: origin.key, until });
        continue;
      }
      const record: SessionRecord = {
        format: RECORD_FORMAT,
        data: '',
        version: 1,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: until,
      };
      const ttl = until - now + TTL_SLACK_MS;
      // false: the deny record is there already (an earlier or concurrent logout of the same cookie).
      await call('set', (s) => s.set(DENY_PREFIX + origin.key, record, null, ttl), b);
    }
  };

  const commitSealed = async (state: SessionState): Promise<string[]> => {
    if (store !== undefined) await denySealed(state);
    const now = state.now;
    const origin = state.origin;
    if (origin === null && !worthStoring(state)) {
      emitLifecycle(state, state.discarded[0]?.key);
      return ended(state) ? [deleteCookieLine(policy, state.secure, state.cookieName)] : [];
    }
    const data = origin === null || state.ops.size > 0 ? serialize(state.values) : origin.record.data;
    const changed = state.rotate || state.userChanged || (origin !== null && data !== origin.record.data);
    if (origin !== null && !changed && !state.touchRequested && !touchDue(origin.record, now)) return [];
    if (state.id === undefined) {
      state.id = host.newId();
      state.key = storeKeyOf(state.id);
    }
    const record = buildRecord(state, origin?.record ?? null, data, 0);
    const payload: SealedPayload = {
      f: RECORD_FORMAT,
      i: state.id,
      d: record.data,
      c: record.createdAt,
      l: record.lastSeenAt,
      e: record.expiresAt,
    };
    if (record.userId !== undefined) payload.u = record.userId;
    if (record.persistent) payload.p = 1;
    const value = seal(JSON.stringify(payload), sealKeys!, state.cookieName);
    // The browser limit is name + value <= 4096 octets (RFC 6265bis 5.6 step 4).
    const size = state.cookieName.length + value.length;
    if (size > 4096) {
      throw new SessionTooLargeError(
        `[teller] [session] the sealed session cookie would be ${size} bytes, more than 4096; keep less in a sealed session`,
      );
    }
    if (origin === null) emit('created', now, state.key, { userId: record.userId });
    emitLifecycle(state, state.key);
    return [cookieFor(state, record, value)];
  };

  // ---- the manager ----

  return {
    async load(cookieHeader, context = {}) {
      if (closed) throw new TypeError('[teller] [session] the session manager is closed');
      const now = toMs(context.now, clock);
      const secure = isSecureRequest(policy, context);
      const cookieName = cookieNameFor(policy, secure);
      const meta = metaOf(context);
      const raw = cookieHeader ? parseCookie(cookieHeader)[cookieName] : undefined;
      if (raw === undefined || raw === '')
        return freshSession(now, secure, cookieName, meta, raw !== undefined);
      if (sealKeys !== undefined) return loadSealed(raw, now, secure, cookieName, meta);

      const id = decodeIdCookie(raw, secrets);
      if (id === undefined) {
        emit('rejected', now, undefined, {
          detail: secrets ? 'malformed or badly signed id' : 'malformed id',
        });
        log('debug', '[teller] [session] refused a malformed session cookie');
        return freshSession(now, secure, cookieName, meta, true);
      }
      const key = storeKeyOf(id);
      let lockKey = key;
      const held = lock.acquire(key, lockTimeout);
      // Uncontended, the lock is granted at once: no await, no microtask.
      let release = typeof held === 'function' ? held : await held;
      // One budget for every store call of this load. It starts once the lock is held: time spent
      // waiting behind a slow handler is bounded by lockTimeout, and a holder whose store call timed
      // out fails its waiters at once (below), so a hung store answers every queued request in time.
      const b = budget(now);
      try {
        let found = await resolveOrigin(key, now, b);
        if (found !== null && found !== 'expired' && found.pointerKey !== undefined) {
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
            left = budget(now); // the wait was a handler's, not the store's
          }
          const record = await call('get', (s) => s.get(target), left);
          found =
            usable(record, now) && record.movedTo === undefined
              ? { key: target, pointerKey: key, record }
              : 'expired';
        }
        if (found === null || found === 'expired') {
          release();
          emit(
            found === null ? 'rejected' : 'expired',
            now,
            key,
            found === null ? { detail: 'unknown id' } : undefined,
          );
          return freshSession(now, secure, cookieName, meta, true);
        }
        let values: Map<string, unknown>;
        try {
          values = parseValues(found.record.data);
        } catch (error) {
          release();
          log('warn', '[teller] [session] a stored session could not be parsed; starting a fresh one', {
            ref: refOf(found.key),
            error: error instanceof Error ? error.message : String(error),
          });
          return freshSession(now, secure, cookieName, meta, true);
        }
        const state = createState({
          host,
          now,
          secure,
          cookieName,
          meta,
          cookieSent: true,
          id,
          key,
          origin: found,
          values,
        });
        state.release = release;
        state.lockKey = lockKey;
        return new Session<Data>(state);
      } catch (error) {
        if (error instanceof Error && timeouts.has(error)) lock.fail(lockKey, error);
        release();
        throw error;
      }
    },

    async commit(session, commitOptions = {}) {
      const state = stateOf(session);
      if (state.committed) throw new TypeError('[teller] [session] the session was already committed');
      state.committed = true;
      try {
        const status = commitOptions.status ?? 200;
        if (status >= 500) return { setCookie: [] };
        const setCookie = sealKeys !== undefined ? await commitSealed(state) : await commitStored(state);
        return { setCookie };
      } catch (error) {
        // The store is not answering: the requests queued on this session would each wait for it in turn.
        if (error instanceof Error && timeouts.has(error) && state.lockKey !== undefined) {
          lock.fail(state.lockKey, error);
        }
        throw error;
      } finally {
        session.release();
      }
    },

    async listSessions(userId, listOptions = {}) {
      if (typeof userId !== 'string' || userId === '')
        throw new TypeError('[teller] [session] userId must be a non-empty string');
      if (store?.listByUser === undefined || sealKeys !== undefined) {
        throw new TypeError(
          '[teller] [session] listSessions needs server-side sessions in a store with listByUser',
        );
      }
      const now = toMs(listOptions.now, clock);
      const rows = await call('listByUser', (s) => s.listByUser!(userId), budget(now));
      const out: SessionInfo[] = [];
      for (const { key, record } of rows) {
        if (!usable(record, now) || record.movedTo !== undefined || record.userId !== userId) continue;
        const info: SessionInfo = {
          handle: key,
          createdAt: record.createdAt,
          lastSeenAt: record.lastSeenAt,
          expiresAt: record.expiresAt,
          persistent: record.persistent === true,
        };
        if (record.meta?.userAgent !== undefined) info.userAgent = record.meta.userAgent;
        if (record.meta?.ip !== undefined) info.ip = record.meta.ip;
        out.push(info);
      }
      return out.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
    },

    async revokeSessions(userId, revokeOptions = {}) {
      if (typeof userId !== 'string' || userId === '')
        throw new TypeError('[teller] [session] userId must be a non-empty string');
      if (store === undefined) {
        throw new TypeError(
          '[teller] [session] revoking sessions needs a store (sealed sessions: for a not-before record)',
        );
      }
      const now = toMs(revokeOptions.now, clock);
      const b = budget(now);
      const except = revokeOptions.except;
      const exceptKey =
        except === undefined ? undefined : typeof except === 'string' ? except : keepKey(except);
      let count = 0;
      if (sealKeys !== undefined) {
        // Sealed cookies of this user created before now are refused from now on (ASVS 5.0 7.4.1).
        await updateRevocations(userId, now, b, { except: exceptKey }, undefined);
        count = 1;
      } else if (store.deleteByUser !== undefined) {
        count = await call(
          'deleteByUser',
          (s) => s.deleteByUser!(userId, exceptKey === undefined ? undefined : { exceptKey }),
          b,
        );
      } else if (store.listByUser !== undefined) {
        const rows = await call('listByUser', (s) => s.listByUser!(userId), b);
        for (const { key } of rows) {
          if (key === exceptKey) continue;
          await call('delete', (s) => s.delete(key), b);
          count++;
        }
      } else {
        throw new TypeError(
          '[teller] [session] revokeSessions needs a store with deleteByUser or listByUser',
        );
      }
      emit('revoked', now, undefined, { userId, detail: String(count) });
      return count;
    },

    cookieName(context = {}) {
      return cookieNameFor(policy, isSecureRequest(policy, context));
    },

    async close() {
      if (closed) return;
      closed = true;
      if (store?.close !== undefined) await call('close', (s) => s.close!(), budget(clock()));
    },
  };
}
