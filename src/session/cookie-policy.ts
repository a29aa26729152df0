/**
 * Which cookie a request uses, and the Set-Cookie lines the manager writes. Secure session cookies take
 * the `__Host-Http-` prefix (no Domain, Path=/) or `__Http-` (with a Domain or another Path), from the
 * layered-cookies draft (4.1.3.3-4): on top of what `__Host-` and `__Secure-` say (RFC 6265bis 4.1.3),
 * the server knows such a cookie came from a Set-Cookie header, never from a script. Their former names
 * (`__Host-sid`, `__Secure-sid`) are still read, and moved, for a transition (see `legacy.ts`).
 * `secure: 'auto'` is Secure over HTTPS (directly or as a trusted proxy reports it), and not over plain
 * http, loopback included, so that every browser keeps the cookie of a development server.
 */
import { type SameSite, serializeDeleteCookie, serializeSetCookie } from '../cookie/index.js';
import { tellerMessage } from './errors.js';

export interface SessionCookieOptions {
  /**
   * The cookie name. By default `__Host-Http-sid` when Secure without a Domain (and Path=/),
   * `__Http-sid` when Secure with a Domain (or another Path), `sid` otherwise (the prefixes of the
   * layered-cookies draft, 4.1.3.3-4: Secure and HttpOnly, and for `__Host-Http-` no Domain and Path=/).
   * A session cookie under the names of earlier versions, `__Host-sid` and `__Secure-sid`, is still
   * read, and moved to the new name on that response. A name given here is used as it is, never moved.
   * @default derived as above
   */
  name?: string;
  /**
   * `true`, `false`, or `'auto'`: Secure when the request is HTTPS (`context.secure`, the adapter's
   * verdict, which may come from a trusted proxy). Plain http is not Secure, loopback included (Safari
   * keeps no Secure cookie from http://localhost).
   * @default 'auto'
   */
  secure?: boolean | 'auto';
  /** RFC 6265bis 4.1.2.7. `None` needs `secure: true`. @default 'Lax' */
  sameSite?: SameSite | 'strict' | 'lax' | 'none';
  /** RFC 6265bis 4.1.2.4. @default '/' */
  path?: string;
  /** RFC 6265bis 4.1.2.3; omit for a host-only cookie (recommended). @default undefined */
  domain?: string;
}

/** The cookie settings with defaults applied. */
export interface CookiePolicy {
  readonly explicitName: string | undefined;
  readonly secure: boolean | 'auto';
  readonly sameSite: SameSite | 'strict' | 'lax' | 'none';
  readonly path: string;
  readonly domain: string | undefined;
}

/** Applies defaults and refuses combinations a browser would drop. */
export function resolveCookiePolicy(options: SessionCookieOptions = {}): CookiePolicy {
  const { name, secure = 'auto', sameSite = 'Lax', path = '/', domain } = options;
  if (secure !== true && secure !== false && secure !== 'auto') {
    throw new TypeError(tellerMessage('session', "cookie.secure must be true, false or 'auto'"));
  }
  if (String(sameSite).toLowerCase() === 'none' && secure !== true) {
    throw new TypeError(tellerMessage('session', 'cookie.sameSite None needs cookie.secure: true'));
  }
  if (name === csrfCookieName(true) || name === csrfCookieName(false)) {
    throw new TypeError(
      tellerMessage(
        'session',
        'cookie.name must not be a name of the anonymous CSRF cookie (csrf, __Host-csrf)',
      ),
    );
  }
  const policy: CookiePolicy = { explicitName: name, secure, sameSite, path, domain };
  // Let the codec validate every field now, not on the first request.
  const probe = cookieNameFor(policy, secure !== false);
  serializeSetCookie({ ...attributes(policy, secure !== false), name: probe, value: 'x' });
  if (name !== undefined && secure === 'auto' && /^__(host|secure|http)-/i.test(name)) {
    throw new TypeError(
      tellerMessage(
        'session',
        "a __Host-/__Secure-/__Http- cookie.name needs cookie.secure: true, not 'auto'",
      ),
    );
  }
  return policy;
}

/**
 * Whether a Host header value names a loopback host: `localhost` (and `*.localhost`), 127.0.0.0/8 or
 * `[::1]`, with or without a port.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (typeof host !== 'string' || host === '') return false;
  // Requests of one server name almost always the same host: remember the last answer.
  if (host === lastHost) return lastHostIsLoopback;
  lastHostIsLoopback = loopbackHost(host);
  lastHost = host;
  return lastHostIsLoopback;
}

let lastHost: string | undefined;
let lastHostIsLoopback = false;

function loopbackHost(host: string): boolean {
  let name: string;
  if (host.charCodeAt(0) === 0x5b) {
    const end = host.indexOf(']');
    if (end === -1) return false;
    name = host.slice(1, end);
    return name === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(name);
  }
  const colon = host.indexOf(':');
  name = (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  return m?.slice(1).every((part) => Number(part) <= 255) === true;
}

/**
 * Whether this request's cookie is Secure: with `'auto'`, when the request is HTTPS (the adapter's verdict,
 * from the socket or a trusted proxy). Plain http on a loopback host is not: Chromium and Firefox would
 * keep a Secure cookie from http://localhost, Safari does not, and every browser must keep the cookie of a
 * first `npm start` (SvelteKit and Remix make the development cookie not Secure for the same reason).
 */
export function isSecureRequest(policy: CookiePolicy, context: { secure?: boolean }): boolean {
  if (policy.secure !== 'auto') return policy.secure;
  return context.secure === true;
}

/** The cookie name for a request that is (or is not) Secure. */
export function cookieNameFor(policy: CookiePolicy, secure: boolean): string {
  if (policy.explicitName !== undefined) return policy.explicitName;
  if (!secure) return 'sid';
  // __Host-Http- also needs Path=/ (layered cookies 4.1.3.4); with another path __Http- still applies.
  return policy.domain === undefined && policy.path === '/' ? '__Host-Http-sid' : '__Http-sid';
}

/**
 * The name earlier versions of Teller gave the session cookie of such a request (RFC 6265bis 4.1.3's
 * `__Host-` and `__Secure-` prefixes), read when the request carries none under {@link cookieNameFor}'s
 * name; undefined when the name did not change (plain http, or a `cookie.name` of the user's).
 */
export function formerCookieNameFor(policy: CookiePolicy, secure: boolean): string | undefined {
  if (policy.explicitName !== undefined || !secure) return undefined;
  return policy.domain === undefined && policy.path === '/' ? '__Host-sid' : '__Secure-sid';
}

function attributes(policy: CookiePolicy, secure: boolean) {
  return {
    path: policy.path,
    domain: policy.domain,
    secure,
    httpOnly: true,
    // SameSite=None without Secure is refused by browsers; resolveCookiePolicy forbids it upfront.
    sameSite: policy.sameSite,
  };
}

/** Values up to this length may use a cached ending (Teller's ids are some 43-120 characters). */
const MAX_CACHED_VALUE = 512;

/** A session cookie line's attributes (what follows `name=value`) for one cookie name. */
interface Ending {
  readonly name: string;
  readonly ending: string;
}

/** By policy: the ending for Secure and for non-Secure requests, made on first use. */
const endings = new WeakMap<CookiePolicy, [Ending | undefined, Ending | undefined]>();

/** The cached ending of a session cookie line without Max-Age; undefined for a name other than the policy's usual one. */
function sessionCookieEnding(policy: CookiePolicy, secure: boolean, name: string): string | undefined {
  let pair = endings.get(policy);
  if (pair === undefined) endings.set(policy, (pair = [undefined, undefined]));
  const slot = secure ? 0 : 1;
  let cached = pair[slot];
  if (cached === undefined) {
    const probe = serializedLine(policy, secure, name, 'x', undefined);
    const head = `${name}=x`;
    if (!probe.startsWith(head)) return undefined;
    pair[slot] = cached = { name, ending: probe.slice(head.length) };
  }
  return cached.name === name ? cached.ending : undefined;
}

/**
 * A Set-Cookie line for the session cookie: a session cookie without `maxAgeMs`, else persistent with
 * Max-Age in whole seconds (the codec's unit, RFC 6265bis 4.1.2.2).
 */
export function sessionCookieLine(
  policy: CookiePolicy,
  secure: boolean,
  name: string,
  value: string,
  maxAgeMs?: number,
): string {
  // A session cookie (no Max-Age) ends the same way on every response of a policy: its attributes are
  // serialized once. The value is Teller's own encoding of an id (base64url, or express-session's
  // URI-encoded form), a cookie-value by construction; a long one still goes through the full serializer.
  if (maxAgeMs === undefined && value.length <= MAX_CACHED_VALUE) {
    const ending = sessionCookieEnding(policy, secure, name);
    if (ending !== undefined) return `${name}=${value}${ending}`;
  }
  return serializedLine(policy, secure, name, value, maxAgeMs);
}

/** {@link sessionCookieLine} through the codec's serializer, every check applied. */
function serializedLine(
  policy: CookiePolicy,
  secure: boolean,
  name: string,
  value: string,
  maxAgeMs: number | undefined,
): string {
  // A literal of one fixed shape: spreading attributes() here made serialization ten times slower.
  return serializeSetCookie({
    name,
    value,
    maxAge: maxAgeMs === undefined ? undefined : Math.max(1, Math.floor(maxAgeMs / 1000)),
    path: policy.path,
    domain: policy.domain,
    secure,
    httpOnly: true,
    sameSite: policy.sameSite,
  });
}

/**
 * The name of the anonymous CSRF cookie (see `csrf.ts`): `__Host-csrf` when Secure (by the session cookie's
 * rule), `csrf` otherwise.
 */
export function csrfCookieName(secure: boolean): string {
  return secure ? '__Host-csrf' : 'csrf';
}

/**
 * The Set-Cookie line of the anonymous CSRF cookie: host-only and Path=/ (so `__Host-` applies when
 * Secure), HttpOnly, SameSite=Lax, a session cookie (gone when the browser closes).
 */
export function csrfCookieLine(secure: boolean, value: string): string {
  return serializeSetCookie({
    name: csrfCookieName(secure),
    value,
    path: '/',
    secure,
    httpOnly: true,
    sameSite: 'Lax',
  });
}

/** A Set-Cookie line that deletes the session cookie (same name, path, domain and Secure). */
export function deleteCookieLine(policy: CookiePolicy, secure: boolean, name: string): string {
  return serializeDeleteCookie(name, attributes(policy, secure));
}
