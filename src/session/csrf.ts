/**
 * CSRF tokens. A session with a user keeps a secret of its own (`teller:csrf` in its data: the
 * synchronizer token pattern). An anonymous session gets a signed double-submit token that needs no
 * stored record: a random nonce in a cookie of its own (see `csrfCookieLine`), HMAC'd with a key every
 * process of the app shares, and the tokens the pages render carry the same nonce. Verifying an anonymous
 * token compares its nonce with the cookie the request carried and checks that cookie's HMAC, in constant
 * time: no session is read. Every token read is masked afresh (BREACH), and the two kinds of token differ in
 * length, so neither can pass for the other.
 *
 * The key: HKDF-SHA256 of each `secret` (when every one is at least 32 bytes) or else of each seal secret
 * (the first signs, all verify); with neither, 32 random bytes kept in the store under a reserved key
 * (created once by compare-and-set, read once per process and cached).
 *
 * Layouts, base64url: cookie = version (1) | nonce (32) | HMAC-SHA256(key, version | nonce) (32);
 * anonymous token = version (1) | mask (32) | nonce XOR mask (32); a user's token = mask (32) |
 * secret XOR mask (32).
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../cookie/index.js';
import { csrfCookieName } from './cookie-policy.js';
import { SessionStoreError, tellerMessage } from './errors.js';
import { pooledRandom } from './ids.js';
import { makeRecord } from './records.js';
import type { SessionState } from './state.js';
import type { SessionRecord } from './store.js';
import type { StoreCalls } from './store-calls.js';

/** Bytes of a CSRF secret (a user's) or nonce (an anonymous cookie's). */
const SECRET_BYTES = 32;
/** The first byte of an anonymous cookie and token. */
const VERSION = 1;
/** A user's token: mask | masked secret. */
const USER_TOKEN_BYTES = 2 * SECRET_BYTES;
/** An anonymous token: version | mask | masked nonce. */
const ANONYMOUS_TOKEN_BYTES = 1 + 2 * SECRET_BYTES;
/** An anonymous cookie: version | nonce | HMAC. */
const COOKIE_BYTES = 1 + SECRET_BYTES + 32;
/** No token or cookie this module writes is longer (base64url characters). */
const MAX_ENCODED = Math.ceil((COOKIE_BYTES * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const SALT = Buffer.from('teller/session/csrf');
const INFO = Buffer.from('teller anonymous csrf v1 hmac-sha256');
/** A `secret` shorter than this keys no CSRF cookie (the store's key is used instead). */
const MIN_SECRET_BYTES = 32;

/**
 * The store key of the shared key record: the store's keys of sessions are base64url SHA-256 (no '.'), and
 * the other reserved prefixes are 'nb.', 'dn.' and 'lv.'.
 */
export const CSRF_KEY_RECORD = 'ck.csrf';
/** How long the store keeps the key record (ms): ten years (a lost record only means new cookies). */
const KEY_RECORD_TTL_MS = 10 * 365 * 24 * 3_600_000;

/** One HMAC key per secret (HKDF-SHA256), or undefined when a secret is too short to key one. */
export function deriveCsrfKeys(secrets: readonly Secret[]): Buffer[] | undefined {
  const bytes = secrets.map((secret) =>
    typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret),
  );
  if (bytes.some((b) => b.length < MIN_SECRET_BYTES)) return undefined;
  return bytes.map((b) => Buffer.from(hkdfSync('sha256', b, SALT, INFO, 32)));
}

/**
 * The HMAC keys of a manager's anonymous CSRF cookies: derived from its secrets, or read from (and, the
 * first time ever, created in) the store, then cached for the life of the process.
 */
export class CsrfKeys {
  #keys: readonly Buffer[] | undefined;
  readonly #calls: StoreCalls | undefined;
  #reading: Promise<readonly Buffer[]> | undefined;

  constructor(derived: readonly Buffer[] | undefined, calls: StoreCalls | undefined) {
    this.#keys = derived;
    this.#calls = calls;
  }

  /** The keys when known without a store call (derived, or read before); the first signs, all verify. */
  get current(): readonly Buffer[] | undefined {
    return this.#keys;
  }

  /** The keys, read from the store the first time (one read per process; concurrent callers share it). */
  read(now: number): Promise<readonly Buffer[]> {
    if (this.#keys !== undefined) return Promise.resolve(this.#keys);
    this.#reading ??= this.#readOnce(now).finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #readOnce(now: number): Promise<readonly Buffer[]> {
    const calls = this.#calls;
    if (calls === undefined) throw new TypeError(tellerMessage('session', 'no key for CSRF cookies'));
    const b = calls.budget(now);
    let record: SessionRecord | null | undefined = await calls.get(CSRF_KEY_RECORD, b);
    if (record === null || record === undefined) {
      // The first process ever: create the key; if another one won the race, use its key.
      const fresh = makeRecord(
        randomBytes(SECRET_BYTES).toString('base64url'),
        1,
        now,
        now,
        now + KEY_RECORD_TTL_MS,
      );
      // Read back whatever the store holds now, won or lost: a store without compare-and-set (lockOnly)
      // accepts every writer, and every process must settle on the same key, the last one written.
      await calls.set(CSRF_KEY_RECORD, fresh, null, KEY_RECORD_TTL_MS, b);
      record = await calls.get(CSRF_KEY_RECORD, b);
    }
    const key = typeof record?.data === 'string' ? decode(record.data, SECRET_BYTES) : undefined;
    if (key === undefined) {
      throw new SessionStoreError(tellerMessage('session', 'the CSRF key record in the store is unreadable'));
    }
    this.#keys = [key];
    return this.#keys;
  }
}

/** base64url text of exactly `bytes` bytes (re-encoded alike, so no other spelling passes), or undefined. */
function decode(text: unknown, bytes: number): Buffer | undefined {
  if (typeof text !== 'string' || text.length > MAX_ENCODED || !BASE64URL.test(text)) return undefined;
  const raw = Buffer.from(text, 'base64url');
  return raw.length === bytes && raw.toString('base64url') === text ? raw : undefined;
}

/** `prefix | mask | value XOR mask`, base64url: a different text on every call for the same value. */
function mask(prefix: readonly number[], value: Buffer): string {
  const n = value.length;
  const out = Buffer.allocUnsafe(prefix.length + 2 * n);
  for (let i = 0; i < prefix.length; i++) out[i] = prefix[i]!;
  const m = pooledRandom(n);
  m.copy(out, prefix.length);
  for (let i = 0; i < n; i++) out[prefix.length + n + i] = value[i]! ^ m[i]!;
  return out.toString('base64url');
}

/** The value a masked token (after its prefix of `skip` bytes) carries. */
function unmask(raw: Buffer, skip: number): Buffer {
  const n = (raw.length - skip) / 2;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = raw[skip + i]! ^ raw[skip + n + i]!;
  return out;
}

function tag(key: Buffer, nonce: Buffer): Buffer {
  return createHmac('sha256', key).update(Buffer.of(VERSION)).update(nonce).digest();
}

/** The nonce of an anonymous CSRF cookie this app wrote (checked against every key), or null. */
function openCookie(value: string | undefined, keys: readonly Buffer[] | undefined): Buffer | null {
  if (value === undefined || keys === undefined) return null;
  const raw = decode(value, COOKIE_BYTES);
  if (raw === undefined || raw[0] !== VERSION) return null;
  const nonce = raw.subarray(1, 1 + SECRET_BYTES);
  const given = raw.subarray(1 + SECRET_BYTES);
  let valid = false;
  // Every key is tried, so the time does not tell which one matched.
  for (const key of keys) if (timingSafeEqual(tag(key, nonce), given)) valid = true;
  return valid ? Buffer.from(nonce) : null;
}

/** The nonce of the valid CSRF cookie the request carried, or null (looked up once, when a token is used). */
function carriedNonce(state: SessionState): Buffer | null {
  if (state.csrfCarried === undefined) {
    const value = state.cookies?.[csrfCookieName(state.secure)];
    state.csrfCarried = openCookie(value, state.host.csrfKeys());
  }
  return state.csrfCarried;
}

/** A token for an anonymous session: the nonce of the request's valid cookie, or of one sent at commit. */
export function anonymousToken(state: SessionState): string {
  let nonce = state.csrfIssued ?? carriedNonce(state);
  if (nonce === null) nonce = state.csrfIssued = pooledRandom(SECRET_BYTES);
  return mask([VERSION], nonce);
}

/** A token for a user's session, from its secret (base64url). */
export function userToken(secret: string): string {
  return mask([], Buffer.from(secret, 'base64url'));
}

/** A fresh secret for a user's session (base64url). */
export function newUserSecret(): string {
  return pooledRandom(SECRET_BYTES).toString('base64url');
}

/**
 * Whether `token` is valid for the session: a user's token against the session's secret (also for a
 * session stored with one before anonymous tokens existed); an anonymous token, only while the session
 * has no user, against the CSRF cookie the request carried (not one issued by this request).
 */
export function verifyToken(state: SessionState, secret: unknown, token: unknown): boolean {
  const user = decode(token, USER_TOKEN_BYTES);
  if (user !== undefined) {
    const expected = decode(secret, SECRET_BYTES);
    return expected !== undefined && timingSafeEqual(unmask(user, 0), expected);
  }
  if (state.userId !== undefined) return false;
  const raw = decode(token, ANONYMOUS_TOKEN_BYTES);
  if (raw === undefined || raw[0] !== VERSION) return false;
  const nonce = carriedNonce(state);
  return nonce !== null && timingSafeEqual(unmask(raw, 1), nonce);
}

/** The value of the anonymous CSRF cookie for `nonce`, signed with the first key. */
export function csrfCookieValue(nonce: Buffer, keys: readonly Buffer[]): string {
  return Buffer.concat([Buffer.of(VERSION), nonce, tag(keys[0]!, nonce)]).toString('base64url');
}
