/**
 * Options of `createSessionManager`, their defaults, and the events and logger it reports to; every
 * default and cap of the session core, and `resolveOptions`, which checks the options once into the
 * {@link ResolvedOptions} the rest of the core reads. Durations are milliseconds (the cookie's Max-Age,
 * written by the codec, stays seconds as in RFC 6265bis).
 */
import type { Secret } from '../cookie/index.js';
import { checkSecret } from '../cookie/sign.js';
import { BRUTE_FORCE_DEFAULTS, type BruteForceOptions, type ResolvedBruteForce } from './brute-force.js';
import { type CookiePolicy, resolveCookiePolicy, type SessionCookieOptions } from './cookie-policy.js';
import { tellerMessage } from './errors.js';
import type { RandomSource } from './ids.js';
import { checkOptionNames } from './option-names.js';
import { deriveSealKeys, type SealKeys } from './seal.js';
import { jsonSerializer, type SessionSerializer } from './serializer.js';
import type { SessionStore } from './store.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Where log lines go. Every method is optional; `console` fits. Nothing logged carries a raw id. */
export interface SessionLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** What happened to a session. */
export type SessionEventType =
  /** A new session was stored (its first write). */
  | 'created'
  /**
   * A session express-session stored under its raw id was taken over (`legacyCookies`): it lives under the
   * hash of its id now (or a concurrent request's migration of it was found there).
   */
  | 'migrated'
  | 'login'
  | 'logout'
  | 'destroy'
  | 'regenerate'
  /** `renewAfter` rotated the id; the old one points to the new record for the grace window. */
  | 'renewed'
  /** The idle lifetime was extended (throttled touch). */
  | 'touched'
  /** A compare-and-set failed and this request's writes were re-applied onto the newest record. */
  | 'merged'
  /** A key this request read and wrote was changed meanwhile: SessionConflictError. */
  | 'conflict'
  /** The cookie named a session past its idle or absolute lifetime. */
  | 'expired'
  /** The cookie was malformed, badly signed, tampered, or named no stored session (strict mode). */
  | 'rejected'
  /** The store failed or timed out: SessionStoreError. */
  | 'store-error'
  /**
   * A request waited `lockTimeout` for another request of its session (a slow, stuck or abandoned one)
   * and went on without the lock; `detail` names the holder's route when the adapter gave one.
   */
  | 'lock-timeout'
  /** A change made after commit (the response was sent), dropped; `detail` names the call and key. */
  | 'late-write'
  /** `revokeSessions` ended a user's sessions. */
  | 'revoked'
  /**
   * A client (`ip`) sent `bruteForce.threshold` distinct unknown session ids within `bruteForce.window`: one
   * event per burst (see `bruteForce`).
   */
  | 'brute-force'
  /**
   * Stolen-id detection: a request presented an id that was retired, and the evidence that two parties hold
   * it is unambiguous (see the manager's `reuse` option). Carries `userId`, `retiredBy`, `retiredAgoMs` and
   * the request's `userAgent` and `ip` as the adapter gave them; never an id, a key or a `ref`.
   */
  | 'reuse';

/** What retired a session id (a `reuse` event's `retiredBy`). */
export type RetiredBy = 'login' | 'regenerate' | 'renewal' | 'logout' | 'destroy' | 'revoke';

/** An event for audit logs and metrics. `ref` is a prefix of the store key (a hash), never the id. */
export interface SessionEvent {
  type: SessionEventType;
  /** Epoch ms (the request's `now`). */
  at: number;
  ref?: string;
  userId?: string;
  /** The client's address, on `brute-force` and `reuse` events. */
  ip?: string;
  /** The request's user agent as given, on `reuse` events. */
  userAgent?: string;
  /** On `reuse` events: what retired the id the request presented. */
  retiredBy?: RetiredBy;
  /** On `reuse` events: how long ago (ms, by the manager's clock) the id was retired. */
  retiredAgoMs?: number;
  /** A short human explanation, e.g. the rejection reason or the count revoked. */
  detail?: string;
}

/** When `Clear-Site-Data` is sent (see `clearSiteData`). */
export interface ClearSiteDataOptions {
  /** With the answer whose session called `destroy()`. @default true */
  destroy?: boolean;
  /**
   * With the answer whose session called `logout()`. Off by default: a logout usually keeps what the site
   * stored that is not the user's (preferences, consent); turn it on for shared computers. @default false
   */
  logout?: boolean;
}

/** Options of {@link createSessionManager}. */
export interface SessionManagerOptions {
  /** Where sessions live (server-side sessions). Give this or `seal`. With `seal`, used only for revocation. */
  store?: SessionStore;
  /**
   * Cookie-only sessions: the data lives in the cookie, sealed with AES-256-GCM. Each secret is at least
   * 32 bytes; the first seals, all open (rotation).
   *
   * Without a `store`, nothing on the server remembers a sealed session: `logout()`, `destroy()`,
   * `login()` and `regenerate()` replace the browser's cookie, but a copy of the old cookie taken before
   * keeps working until the expiry sealed inside it (idle or absolute timeout), and `revokeSessions` is
   * unavailable. With a `store`, the ended cookie is refused until it expires (a deny record, kept in the
   * user's not-before record for a logged-in session), at the cost of one store read per request.
   */
  seal?: { secrets: readonly Secret[] };
  /** The session cookie (RFC 6265bis 4.1). */
  cookie?: SessionCookieOptions;
  /** ms of inactivity after which a session ends. @default 1_800_000 (30 minutes) */
  idleTimeout?: number;
  /** ms after creation (or login) after which a session ends, however active. @default 43_200_000 (12 hours) */
  absoluteTimeout?: number;
  /**
   * ms after which an id is rotated (same data); the old id keeps working for `renewGrace`.
   * @default undefined (never)
   */
  renewAfter?: number;
  /** ms the old id keeps working after a renewal (requests in flight). @default 60_000 */
  renewGrace?: number;
  /**
   * The idle lifetime (ms) of a session after `login(user, { remember: true })`, which gets a persistent
   * cookie whose Max-Age follows it (re-sent on each touch). At most 400 days (RFC 6265bis 5.6).
   * @default 2_592_000_000 (30 days)
   */
  rememberMe?: number;
  /** The absolute lifetime (ms) of a remembered session, from its login. At most 400 days. @default 7_776_000_000 (90 days) */
  rememberMeAbsolute?: number;
  /**
   * Anonymous sessions that outlive the browser (a guest cart kept a week): ms an anonymous session lives
   * from its creation, with a persistent cookie whose Max-Age says so. It then bounds that session instead
   * of `idleTimeout` and `absoluteTimeout`; at login the session follows the user rules (`rememberMe` or a
   * session cookie). At most 400 days (RFC 6265bis 5.6).
   * @default undefined (anonymous sessions have a session cookie and the idle and absolute timeouts)
   */
  anonymousLifetime?: number;
  /**
   * Signs ids in the cookie (cookie-signature format), so forged ids are refused without a store read.
   * An array rotates: the first signs, all verify. When every secret is at least 32 bytes, it also keys the
   * anonymous CSRF cookie (HKDF-SHA256); otherwise the seal secrets do, or a key kept in the store.
   * @default undefined (unsigned ids: 256 random bits need no signature)
   */
  secret?: Secret | readonly Secret[];
  /**
   * Switching from express-session without logging everyone out: `'express-session'` makes the manager
   * accept, besides its own cookie values, express-session's `s:<id>.<signature>` signed with one of
   * `secret` (so it needs `secret`, express-session's secrets; a tampered or unsigned value is refused
   * without a store read, as always) whose id has express-session's shape (22 to 128 base64url characters:
   * uid-safe's, the default, or a UUID). Keep express-session's cookie name (`cookie: { name: 'connect.sid' }`).
   * Such a session is found under the hash of its id; when it is not there yet, a store with `migrateLegacy`
   * (`fromExpressStore(store, { legacyKeys: true })`) moves it from the raw id once. It keeps its id until
   * the next login or regenerate issues a Teller id; until then a cookie re-sent for it (a persistent one, on
   * a write) keeps express-session's format. Stored sessions only (not with `seal`).
   * @default undefined (only Teller's own cookies)
   */
  legacyCookies?: 'express-session';
  /** Turns the data into the record's `data` string and back. @default JSON, dropping `__proto__` keys */
  serializer?: SessionSerializer;
  /** The largest serialized data (bytes) a commit accepts; larger is SessionTooLargeError. @default 65_536 */
  maxDataBytes?: number;
  /**
   * Sealed sessions (`seal`): the most bytes the session's cookies may take in the Cookie header the browser
   * sends (names, `=`, values and the `; ` between them). A seal too large for one cookie (name and value over
   * 4,096 bytes) is split across numbered cookies `<name>`, `<name>.1`, ... (bound together: a part altered,
   * missing, swapped or from an earlier seal gives a fresh session), and the parts a smaller session no longer
   * uses are deleted in the same response. Past this limit a commit throws SessionTooLargeError. The default
   * fits what common proxies accept (nginx's 8 KB header buffer); keep it, with room for the request's other
   * headers, under your server's limit: the node, Express and Fastify adapters refuse at setup a limit that,
   * with 4 KB for the other headers, exceeds node's `maxHeaderSize` (16 KB by default), since node:http answers
   * 431 to every request of such a browser, logout included. @default 8_192
   */
  sealedMaxBytes?: number;
  /**
   * ms a load, a commit (all its store calls and merge retries together) or another manager call may
   * wait for the store before failing with SessionStoreError (answered 503). @default 1_000
   */
  storeTimeout?: number;
  /**
   * ms a request waits for another request of its session (the in-process lock) before it goes on without
   * it: requests of a session run one after another while their handlers are fast, and a slow, stuck or
   * abandoned one costs the next request this long at most, never an error (commits are compare-and-set;
   * only a store that declares `lockOnly` keeps the strict rule: 5 s, then SessionLockTimeoutError).
   * Measured: the counter route on SQLite holds the lock 0.2 ms at the median and 6-13 ms at p99.9 under 50
   * concurrent requests; 250 ms leaves room for handlers that make a few queries of their own.
   * @default 250
   */
  lockTimeout?: number;
  /** Least ms between two touches (idle extensions) of a session without changes. @default 60_000 */
  touchInterval?: number;
  logger?: SessionLogger;
  /**
   * Id brute-force detection: the distinct unknown session ids (malformed, badly signed, tampered, unknown to
   * the store, revoked; not expired ones) each client address sent, counted in a sliding window in a bounded
   * table; a `brute-force` event per burst, and with `policy: '429'` the burst's unknown ids answered 429
   * with Retry-After. The address is the adapter's: the socket's, or a proxy header's only with `trustProxy`.
   * A live session is never counted nor refused. `false` turns it off.
   * @default { threshold: 20, window: 60_000, maxClients: 10_000, policy: 'event' }
   */
  bruteForce?: BruteForceOptions | false;
  /**
   * Sends `Clear-Site-Data: "cookies", "storage"` with the answer that ends a session, so the browser drops
   * the site's cookies and storage (localStorage, IndexedDB, service workers) too: a shared computer keeps
   * nothing of the user. Browsers honour it over HTTPS and on localhost only, and "cookies" clears every
   * cookie of the site's registrable domain. `false` never sends it.
   * @default { destroy: true, logout: false }
   */
  clearSiteData?: ClearSiteDataOptions | false;
  /** Called for each {@link SessionEvent}; exceptions it throws are logged and ignored. */
  onEvent?: (event: SessionEvent) => void;
  /**
   * Stolen-id detection (stored sessions, and sealed sessions with a store). An id retired by `login()`,
   * `regenerate()`, renewal, `logout()`, `destroy()` or `revokeSessions` leaves a small record (until the
   * retired session's own absolute expiry, at most 30 days); `revokeSessions` writes its records in one store
   * call (the store's `retireByUser`, which every store Teller ships has; with a store without it, it deletes,
   * and a revoked id gets a fresh session and no event). A request presenting it gets a fresh session as
   * always, and a `reuse` event when the evidence is unambiguous: for an id retired by a rotation (login,
   * regenerate, renewal) only once its successor was used by a later request (the rightful browser holds the
   * new id, so someone else holds the old one); for an id retired by logout, destroy or revocation, always
   * (its browser may have missed the answer that cleared it). With `'revoke'`, a rotation reuse also ends
   * every session of that user (`revokeSessions`: a store with `deleteByUser` or `listByUser`); a logout,
   * destroy or revocation reuse never does. Sealed sessions with a store keep what ended a cookie in their
   * deny and not-before records (they have no renewal; `revokeSessions`' not-before time is marked as a
   * revocation's, so a cookie it ended raises the event too), and `'revoke'` ends the user's sealed
   * sessions with a not-before time (any store); without a store a sealed session has no server-side
   * memory, nothing is detected, and `'revoke'` is refused.
   * @default 'event'
   */
  reuse?: 'event' | 'revoke';
  /** The manager's clock (epoch ms), used when `load` gets no `context.now`. @default Date.now */
  clock?: () => number;
  /** Random bytes for ids. @default crypto.randomBytes */
  random?: RandomSource;
}

export const DEFAULTS = {
  idleTimeout: 30 * MINUTE,
  absoluteTimeout: 12 * HOUR,
  renewGrace: MINUTE,
  rememberMe: 30 * DAY,
  rememberMeAbsolute: 90 * DAY,
  maxDataBytes: 64 * 1024,
  sealedMaxBytes: 8 * 1024,
  storeTimeout: 1_000,
  lockTimeout: 250,
  touchInterval: MINUTE,
} as const;

/** RFC 6265bis 5.6: user agents cap cookie lifetimes at 400 days. */
export const MAX_COOKIE_LIFETIME_MS = 400 * DAY;
/** The longest timer node accepts (ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The caps of the core: fixed, not options. */
export const LIMITS = {
  /** Stores keep records this much longer than their remaining lifetime (the manager judges expiry). */
  ttlSlackMs: 60_000,
  /**
   * Compare-and-set attempts on a record other than the session's own (a retirement, a user's revocation
   * records) before giving up with SessionConflictError. A session's own commit retries instead as long as
   * its store time budget lasts.
   */
  maxMerges: 16,
  /**
   * How long a request waits for its session's lock when the store cannot compare-and-set (the lock is
   * then its only protection), before SessionLockTimeoutError (503).
   */
  lockOnlyWaitMs: 5_000,
  /** A hold of such a store nobody released is dropped after this long (its exclusivity is all it has). */
  lockOnlyStaleMs: 60_000,
  /**
   * How long a store keeps the record a logout or destroy ended (until its delete runs): an expired record,
   * so it only has to outlive the requests in flight. (Login and regenerate keep theirs longer: retiredTtlMs.)
   */
  tombstoneTtlMs: 10_000,
  /**
   * Renewal pointers followed at most from an id to its live record: each renewal within an id's grace
   * window adds one, so `renewGrace` may be at most `maxPointerHops - 1` times `renewAfter`.
   */
  maxPointerHops: 8,
  /**
   * How long at most a store keeps the record left by login or regenerate under the retired id (it links
   * to the successor for a logout carrying that id): the retired session's remaining lifetime, capped.
   */
  retiredTtlMs: 30 * DAY,
  /**
   * Requests in flight across a rotation: a request with the retired id within this long after the rotation
   * is never a reuse, even once the successor was used (a slow request sent before the browser had the new
   * id may arrive after one sent with it).
   */
  reuseSettleMs: 10_000,
  /**
   * Ended sealed sessions a user's not-before record lists at most (it is read on each of the user's
   * requests). Beyond, the record falls back to a not-before time: all older cookies of the user end.
   */
  maxDenied: 256,
  /** RFC 6265bis 5.6 step 4: a browser keeps a cookie whose name and value fit in this many octets. */
  maxCookieOctets: 4096,
  /** What of the user agent and the ip a record keeps (characters). */
  maxUserAgent: 512,
  maxIp: 64,
  maxRoute: 200,
} as const;

/** The options of a manager, checked, with every default applied. */
export interface ResolvedOptions {
  readonly store: SessionStore | undefined;
  readonly sealKeys: SealKeys | undefined;
  readonly policy: CookiePolicy;
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  readonly rememberMe: number;
  readonly rememberMeAbsolute: number;
  readonly anonymousLifetime: number | undefined;
  /** The longest absolute lifetime any session of this manager can have. */
  readonly longestLifetime: number;
  readonly renewAfter: number | undefined;
  readonly renewGrace: number;
  readonly maxDataBytes: number;
  /** The Cookie header bytes a sealed session's cookies may take (`sealed-parts.ts`). */
  readonly sealedMaxBytes: number;
  readonly storeTimeout: number;
  readonly lockTimeout: number;
  readonly touchInterval: number;
  readonly secrets: readonly Secret[] | undefined;
  /** Cookies of an earlier library this manager also accepts (see `legacy.ts`). */
  readonly legacyCookies: 'express-session' | undefined;
  readonly serializer: SessionSerializer;
  readonly clock: () => number;
  readonly random: RandomSource | undefined;
  readonly logger: SessionLogger | undefined;
  readonly onEvent: ((event: SessionEvent) => void) | undefined;
  readonly bruteForce: ResolvedBruteForce | undefined;
  readonly clearSiteData: Required<ClearSiteDataOptions>;
  readonly reuse: 'event' | 'revoke';
}

/** Checks `options` once and applies the defaults; a TypeError names the first bad option. */
export function resolveOptions(options: SessionManagerOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(tellerMessage('session', 'createSessionManager needs an options object'));
  }
  const store = options.store;
  if (store !== undefined) {
    for (const method of ['get', 'set', 'delete'] as const) {
      if (typeof store[method] !== 'function') {
        throw new TypeError(tellerMessage('session', `store.${method} must be a function`));
      }
    }
  }
  const sealKeys = options.seal ? deriveSealKeys(options.seal.secrets) : undefined;
  if (store === undefined && sealKeys === undefined) {
    throw new TypeError(
      tellerMessage('session', 'give a store, or seal: { secrets } for cookie-only sessions'),
    );
  }
  checkOptionNames(options as Record<string, unknown>);
  const rememberMe = duration('rememberMe', options.rememberMe, DEFAULTS.rememberMe, MAX_COOKIE_LIFETIME_MS);
  const absoluteTimeout = duration('absoluteTimeout', options.absoluteTimeout, DEFAULTS.absoluteTimeout);
  const rememberMeAbsolute = duration(
    'rememberMeAbsolute',
    options.rememberMeAbsolute,
    Math.max(DEFAULTS.rememberMeAbsolute, rememberMe),
    MAX_COOKIE_LIFETIME_MS,
  );
  const anonymousLifetime =
    options.anonymousLifetime === undefined
      ? undefined
      : duration('anonymousLifetime', options.anonymousLifetime, 0, MAX_COOKIE_LIFETIME_MS);
  const renewAfter =
    options.renewAfter === undefined ? undefined : duration('renewAfter', options.renewAfter, 0);
  const renewGrace = duration('renewGrace', options.renewGrace, DEFAULTS.renewGrace);
  // Every id issued within a grace window keeps working until its own grace ends: the chain of renewals
  // that can follow it within that window must fit in the pointers followed.
  if (renewAfter !== undefined && renewGrace > (LIMITS.maxPointerHops - 1) * renewAfter) {
    throw new TypeError(
      tellerMessage(
        'session',
        `renewGrace (${renewGrace} ms) may be at most ${LIMITS.maxPointerHops - 1} times renewAfter (${renewAfter} ms)`,
      ),
    );
  }
  const secrets = secretList(options.secret);
  const legacyCookies = legacyCookieFormat(options.legacyCookies, secrets, sealKeys);
  const serializer = options.serializer ?? jsonSerializer;
  if (typeof serializer.parse !== 'function' || typeof serializer.stringify !== 'function') {
    throw new TypeError(tellerMessage('session', 'serializer needs parse and stringify functions'));
  }
  return {
    store,
    sealKeys,
    policy: resolveCookiePolicy(options.cookie),
    idleTimeout: duration('idleTimeout', options.idleTimeout, DEFAULTS.idleTimeout),
    absoluteTimeout,
    rememberMe,
    rememberMeAbsolute,
    anonymousLifetime,
    longestLifetime: Math.max(absoluteTimeout, rememberMeAbsolute, anonymousLifetime ?? 0),
    renewAfter,
    renewGrace,
    maxDataBytes: byteCount('maxDataBytes', options.maxDataBytes, DEFAULTS.maxDataBytes),
    sealedMaxBytes: sealedMaxBytes(options.sealedMaxBytes, sealKeys),
    storeTimeout: duration('storeTimeout', options.storeTimeout, DEFAULTS.storeTimeout, MAX_TIMER_MS),
    lockTimeout: duration('lockTimeout', options.lockTimeout, DEFAULTS.lockTimeout, MAX_TIMER_MS),
    touchInterval: duration('touchInterval', options.touchInterval, DEFAULTS.touchInterval),
    secrets,
    legacyCookies,
    serializer,
    clock: options.clock ?? Date.now,
    random: options.random,
    logger: options.logger,
    onEvent: options.onEvent,
    bruteForce: bruteForceOptions(options.bruteForce),
    clearSiteData: clearSiteDataOptions(options.clearSiteData),
    reuse: reusePolicy(options.reuse, store, sealKeys),
  };
}

/** Checks a duration option: a positive finite number of ms. */
function duration(name: string, value: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new TypeError(
      tellerMessage('session', `${name} must be a positive number of milliseconds (at most ${max})`),
    );
  }
  return value;
}

/** Checks a size option: a positive whole number of bytes. */
function byteCount(name: string, value: unknown, fallback: number): number {
  return count(name, value, fallback, ' of bytes');
}

/** `sealedMaxBytes`, checked: only with `seal`, and room for at least one cookie's worth of seal. */
function sealedMaxBytes(value: unknown, sealKeys: SealKeys | undefined): number {
  if (value !== undefined && sealKeys === undefined) {
    throw new TypeError(tellerMessage('session', 'sealedMaxBytes applies to sealed sessions (seal)'));
  }
  const bytes = byteCount('sealedMaxBytes', value, DEFAULTS.sealedMaxBytes);
  if (bytes < 1024) {
    throw new TypeError(tellerMessage('session', 'sealedMaxBytes must be at least 1024 bytes'));
  }
  return bytes;
}

/** The signing secrets, each checked now (empty: an error; shorter than 32 bytes: a warning), not at the first commit. */
function secretList(secret: Secret | readonly Secret[] | undefined): readonly Secret[] | undefined {
  if (secret === undefined) return undefined;
  const single = typeof secret === 'string' || secret instanceof Uint8Array;
  const list = single ? [secret] : Array.isArray(secret) ? [...secret] : undefined;
  if (list === undefined) {
    throw new TypeError(
      tellerMessage('session', 'secret must be a string, a Uint8Array or an array of them'),
    );
  }
  if (list.length === 0) throw new TypeError(tellerMessage('session', 'secret must not be an empty array'));
  for (const [i, one] of list.entries()) checkSecret(one, single ? 'secret' : `secret[${i}]`, 'session');
  return list;
}

/** `legacyCookies`, checked: a format Teller reads, with the secrets that format always signs with. */
function legacyCookieFormat(
  value: unknown,
  secrets: readonly Secret[] | undefined,
  sealKeys: SealKeys | undefined,
): 'express-session' | undefined {
  if (value === undefined) return undefined;
  if (value !== 'express-session') {
    throw new TypeError(tellerMessage('session', "legacyCookies must be 'express-session'"));
  }
  if (secrets === undefined) {
    throw new TypeError(
      tellerMessage(
        'session',
        "legacyCookies: 'express-session' needs secret (express-session's secret: it signs every cookie)",
      ),
    );
  }
  if (sealKeys !== undefined) {
    throw new TypeError(tellerMessage('session', 'legacyCookies needs stored sessions (a store), not seal'));
  }
  return value;
}

/** `bruteForce`, checked, with its defaults (undefined: turned off). */
function bruteForceOptions(value: unknown): ResolvedBruteForce | undefined {
  if (value === false) return undefined;
  if (value === undefined) return { ...BRUTE_FORCE_DEFAULTS };
  if (value === null || typeof value !== 'object') {
    throw new TypeError(tellerMessage('session', 'bruteForce must be an object or false'));
  }
  const given = value as BruteForceOptions;
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(BRUTE_FORCE_DEFAULTS, name)) unknownOption(`bruteForce.${name}`);
  }
  const policy = given.policy ?? BRUTE_FORCE_DEFAULTS.policy;
  if (policy !== 'event' && policy !== '429') {
    throw new TypeError(tellerMessage('session', "bruteForce.policy must be 'event' or '429'"));
  }
  return {
    threshold: count('bruteForce.threshold', given.threshold, BRUTE_FORCE_DEFAULTS.threshold),
    window: duration('bruteForce.window', given.window, BRUTE_FORCE_DEFAULTS.window),
    maxClients: count('bruteForce.maxClients', given.maxClients, BRUTE_FORCE_DEFAULTS.maxClients),
    policy,
  };
}

/** `reuse`, checked: 'revoke' needs a way to end a user's sessions. */
function reusePolicy(
  value: unknown,
  store: SessionStore | undefined,
  sealKeys: SealKeys | undefined,
): 'event' | 'revoke' {
  if (value === undefined || value === 'event') return 'event';
  if (value !== 'revoke') throw new TypeError(tellerMessage('session', "reuse must be 'event' or 'revoke'"));
  if (store === undefined) {
    // Sealed sessions without a store: nothing on the server remembers an ended cookie.
    throw new TypeError(
      tellerMessage('session', "reuse: 'revoke' needs a store (sealed sessions: for their deny records)"),
    );
  }
  // Sealed sessions end a user's cookies with the not-before record: any store will do.
  if (sealKeys !== undefined) return 'revoke';
  if (typeof store.deleteByUser !== 'function' && typeof store.listByUser !== 'function') {
    throw new TypeError(
      tellerMessage('session', "reuse: 'revoke' needs a store with deleteByUser or listByUser"),
    );
  }
  return 'revoke';
}

/** `clearSiteData`, checked, with its defaults. */
function clearSiteDataOptions(value: unknown): Required<ClearSiteDataOptions> {
  if (value === false) return { destroy: false, logout: false };
  if (value === undefined) return { destroy: true, logout: false };
  if (value === null || typeof value !== 'object') {
    throw new TypeError(tellerMessage('session', 'clearSiteData must be an object or false'));
  }
  const given = value as Record<string, unknown>;
  const flag = (name: 'destroy' | 'logout', fallback: boolean): boolean => {
    const one = given[name];
    if (one === undefined) return fallback;
    if (typeof one !== 'boolean') {
      throw new TypeError(tellerMessage('session', `clearSiteData.${name} must be a boolean`));
    }
    return one;
  };
  for (const name of Object.keys(given)) {
    if (name !== 'destroy' && name !== 'logout') unknownOption(`clearSiteData.${name}`);
  }
  return { destroy: flag('destroy', true), logout: flag('logout', false) };
}

function unknownOption(name: string): never {
  throw new TypeError(tellerMessage('session', `unknown option ${name}`));
}

/** Checks a count option: a positive whole number (`of`: its unit, for the message). */
function count(name: string, value: unknown, fallback: number, of = ''): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(tellerMessage('session', `${name} must be a positive whole number${of}`));
  }
  return value;
}
