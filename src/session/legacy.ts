/**
 * Sessions of an earlier library or an earlier Teller, taken over.
 *
 * Teller's own former cookie names (always on, nothing to configure): the session cookie was `__Host-sid`
 * (`__Secure-sid` with a Domain or another Path) before it became `__Host-Http-sid` (`__Http-sid`), the
 * prefixes of the layered-cookies draft that also say a script did not set it. A request that carries none
 * under the new name is read from the former one, and its response moves the cookie: it sets the new name
 * (the same session, same id) and deletes the former one, so no session is logged out by the upgrade. A
 * `cookie.name` of the user's is never moved; plain http's `sid` did not change.
 *
 * express-session's sessions (`legacyCookies: 'express-session'`): express-session's cookie
 * (`s:` + the id + `.` + cookie-signature's HMAC), and its session object turned into a Teller record that a
 * store's `migrateLegacy` writes under the hash of the id. Nothing here runs unless the option is on and the
 * cookie was not one of Teller's own, so the ordinary request path pays nothing for it.
 *
 * The id stays the one express-session issued (its store key is its hash, as for any id) until the next login
 * or regenerate gives a Teller id; a cookie re-sent for it meanwhile keeps express-session's format, which both
 * this manager and express-session read.
 */
import { type Secret, sign, unsign } from '../cookie/index.js';
import type { ManagerContext, RequestFacts } from './context.js';
import { type CookiePolicy, deleteCookieLine, formerCookieNameFor } from './cookie-policy.js';
import { tellerMessage } from './errors.js';
import { refOf } from './ids.js';
import type { ResolvedOptions } from './options.js';
import { lifetimes, makeRecord, serializeValues, ttlOf } from './records.js';
import { type AnySession, stateOf } from './session.js';
import { INTERNAL_PREFIX, type SessionState } from './state.js';
import type { LegacyAdopter, SessionMeta, SessionRecord } from './store.js';
import type { Budget, StoreCalls } from './store-calls.js';

/**
 * The former name the request's session cookie was sent under, when it carries none under the current
 * name (`cookieName`) but one under the name earlier versions gave it; else undefined. Only asked when the
 * current name is absent, so a request of the new name pays nothing.
 */
export function formerCookieOf(
  policy: CookiePolicy,
  secure: boolean,
  cookies: Readonly<Record<string, string>> | undefined,
): string | undefined {
  if (cookies === undefined) return undefined;
  const former = formerCookieNameFor(policy, secure);
  return former !== undefined && cookies[former] !== undefined ? former : undefined;
}

/**
 * A response's Set-Cookie lines for a session read under a former name (`state.movedFrom`): once they set
 * the cookie under the new name (the backend wrote it: a session stored, moved, rotated), the former cookie
 * is deleted (Max-Age=0, its Path, Domain and Secure, as the prefix requires), so the browser keeps one.
 * Lines that set no new cookie (a write that lost a race, a logout's deletion of the former cookie) are
 * left as they are: the former cookie is then read again next time.
 */
export function movedCookieLines(policy: CookiePolicy, state: SessionState, lines: string[]): string[] {
  const former = state.movedFrom;
  if (former === undefined) return lines;
  const head = `${state.cookieName}=`;
  const formerHead = `${former}=`;
  let sets = false;
  for (const line of lines) {
    if (line.startsWith(formerHead)) return lines; // already deleted (logout, destroy)
    if (line.startsWith(head)) sets = true;
  }
  return sets ? [...lines, deleteCookieLine(policy, state.secure, former)] : lines;
}

/**
 * express-session's id: uid-safe's base64url (24 bytes, 32 characters, by default), or what a `genid` of
 * base64url characters makes (a UUID, hex), at least 22 characters (128 bits of base64url) and at most 128.
 */
const LEGACY_ID = /^[A-Za-z0-9_-]{22,128}$/;
const LEGACY_ID_MIN = 22;
const LEGACY_ID_MAX = 128;
/** cookie-signature's HMAC-SHA256, base64 without padding. */
const SIGNATURE_LENGTH = 43;

/**
 * The id carried by express-session's cookie value `s:<id>.<signature>` (as parsed: percent-decoded), or
 * undefined unless it is signed with one of `secrets` (constant-time) and the id has express-session's shape.
 * The shape is checked first, so junk costs no HMAC.
 */
export function decodeLegacyCookie(value: string, secrets: readonly Secret[]): string | undefined {
  const dot = value.length - SIGNATURE_LENGTH - 1;
  if (dot < 2 + LEGACY_ID_MIN || dot > 2 + LEGACY_ID_MAX) return undefined;
  if (value.charCodeAt(0) !== 0x73 || value.charCodeAt(1) !== 0x3a || value.charCodeAt(dot) !== 0x2e) {
    return undefined; // not "s:" ... "."
  }
  const id = value.slice(2, dot);
  if (!LEGACY_ID.test(id)) return undefined;
  return unsign(value.slice(2), secrets) === id ? id : undefined;
}

/** express-session's cookie value for `id`: `s:` + cookie-signature with the first secret. */
export function encodeLegacyCookie(id: string, secrets: readonly Secret[]): string {
  return `s:${sign(id, secrets[0]!)}`;
}

/** A session taken over: the record and its ttl; or why not. */
export type Adoption = { record: SessionRecord; ttlMs: number } | { refused: string };

/**
 * express-session's session object as a Teller record at `now` (the manager's clock):
 * - the data is the object without `cookie` (and without keys Teller reserves, `teller:...`), serialized by the
 *   manager's serializer within `maxDataBytes`;
 * - a `cookie.expires` (the browser holds a persistent cookie until then) makes it persistent and bounds its
 *   expiry. One already past does not: the store returned the session, so by the store's own expiry it lives
 *   (connect-redis and connect-pg-simple `touch` a rolling session's TTL, never its stored cookie), and
 *   express-session would serve it. Without one (a browser-session cookie), it is not persistent. Without a
 *   future bound, it lives the idle lifetime from now;
 * - either way Teller's lifetimes apply from now on: the expiry is at most now + the idle and absolute
 *   lifetimes of such a session, and its creation (the start of its absolute lifetime) is now, express-session
 *   keeping no creation time (`cookie.originalMaxAge` is the cookie's lifetime, not the session's age).
 */
export function adoptExpressSession(
  options: ResolvedOptions,
  now: number,
  meta: SessionMeta | undefined,
  session: unknown,
): Adoption {
  if (session === null || typeof session !== 'object' || Array.isArray(session)) {
    return { refused: 'it is not an object' };
  }
  const fields = session as Record<string, unknown>;
  const cookie = fields.cookie;
  let until: number | undefined;
  if (cookie !== undefined && cookie !== null) {
    if (typeof cookie !== 'object') return { refused: 'its cookie is not an object' };
    const expires = (cookie as { expires?: unknown }).expires;
    if (expires !== undefined && expires !== null) {
      until =
        expires instanceof Date
          ? expires.getTime()
          : typeof expires === 'string'
            ? Date.parse(expires)
            : typeof expires === 'number'
              ? expires
              : Number.NaN;
      if (!Number.isFinite(until)) return { refused: 'its cookie.expires is not a date' };
    }
  }
  // A past expires on a session the store still returns: express-session's stores judge expiry themselves, and
  // their `touch` (rolling sessions with resave off) extends their own expiry, not the stored cookie's. So the
  // store's word stands, as it does for express-session: a persistent session, the idle lifetime from now.
  const persistentCookie = until !== undefined;
  if (until !== undefined && until <= now) until = undefined;
  const values = new Map<string, unknown>();
  for (const name of Object.keys(fields)) {
    if (name === 'cookie' || name === '__proto__' || name.startsWith(INTERNAL_PREFIX)) continue;
    const value = fields[name];
    if (value !== undefined) values.set(name, value);
  }
  let data: string;
  try {
    data = serializeValues(options, values);
  } catch (error) {
    return { refused: error instanceof Error ? error.message : String(error) };
  }
  // As buildRecord: an anonymous session with anonymousLifetime is persistent too.
  const persistent = persistentCookie || options.anonymousLifetime !== undefined;
  const { idle, absolute } = lifetimes(options, persistent, undefined);
  const expiresAt = Math.min(now + idle, now + absolute, until ?? Number.POSITIVE_INFINITY);
  const record = makeRecord(data, 1, now, now, expiresAt);
  if (persistent) record.persistent = true;
  if (meta !== undefined) record.meta = meta;
  return { record, ttlMs: ttlOf(record, now) };
}

/**
 * After a miss on `key` (the hash of the legacy `id`): the session the store takes over from the raw id, or
 * null. Only called for a store with `migrateLegacy`. A session not taken over is logged (its reason; never
 * the id), and the request gets a fresh session.
 */
export async function migrateLegacySession(
  ctx: ManagerContext,
  calls: StoreCalls,
  id: string,
  key: string,
  facts: RequestFacts,
  b: Budget,
): Promise<SessionRecord | null> {
  const adopt: LegacyAdopter = (session) => {
    const adopted = adoptExpressSession(ctx.options, facts.now, facts.meta, session);
    if ('record' in adopted) return adopted;
    ctx.report.log(
      adopted.refused === 'expired' ? 'debug' : 'warn',
      tellerMessage('session', 'a session of express-session was not taken over; a fresh one starts'),
      { ref: refOf(key), reason: adopted.refused },
    );
    return null;
  };
  const record = (await calls.migrateLegacy(id, key, adopt, b)) ?? null;
  if (record !== null) ctx.report.emit('migrated', facts.now, key);
  return record;
}

/**
 * express-session's per-session cookie lifetime (`req.session.cookie.maxAge = ms`, `cookie.expires = null` on the
 * drop-in `teller/adapters/express-session`): makes the session's cookie persistent (its record then has the
 * lifetimes of a remembered session, `rememberMe`, with Max-Age re-sent on each write) or a browser-session
 * cookie, at the next write, as `login(user, { remember })` does for a user. Does not itself make a fresh session
 * worth storing unless `persistent` (the caller only marks sessions it stores). After commit, nothing.
 */
export function setPersistent(session: AnySession, persistent: boolean): void {
  const state = stateOf(session);
  if (state.committed) return;
  state.accessed = true;
  state.persistent = persistent;
}
