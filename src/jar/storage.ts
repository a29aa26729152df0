/**
 * The request-dependent steps of the RFC 6265bis storage model (section 5.7), one function per step.
 * Each returns a {@link Refusal} when the step says to ignore the cookie, and nothing otherwise. The
 * steps that need the cookie store (16, 23) live in the jar. Steps 1-6 are the codec's
 * (`parseSetCookieDetailed`): it ignores lines with CTLs (5.6 step 1, which covers 5.7 step 3), empty
 * name-and-value (step 2), oversized name+value (step 4), and computes the expiry (step 6, with the
 * 400-day cap of 5.5).
 */
import { domainMatch, hasNonChar, isPublicSuffix, type RequestTarget } from './host.js';
import type { SameSiteContext, SameSiteFlag } from './types.js';

/** Why a cookie was ignored: the RFC 6265bis section and step, and what it checks. */
export class Refusal {
  constructor(
    readonly step: string,
    readonly reason: string,
  ) {}
}

/** The domain field of a cookie being stored and whether it is host-only (5.7 steps 7-10). */
export interface CookieDomain {
  domain: string;
  hostOnly: boolean;
}

/**
 * Steps 7-10: the domain-attribute (the codec already took the last one, stripped a leading `.` and
 * lower-cased it; empty means none) must be ASCII (step 8), must not be a public suffix unless it is
 * the request host itself, which makes the cookie host-only (step 9), and the request host must
 * domain-match it (step 10). Without one, the cookie is host-only for the request host.
 */
export function cookieDomain(
  domainAttribute: string | undefined,
  target: RequestTarget,
): CookieDomain | Refusal {
  let attr = domainAttribute;
  if (attr !== undefined) {
    if (hasNonChar(attr)) return new Refusal('5.7 step 8', `the Domain attribute "${attr}" is not ASCII`);
    if (isPublicSuffix(attr)) {
      if (attr !== target.host) {
        return new Refusal('5.7 step 9', `the Domain attribute "${attr}" is a public suffix`);
      }
      attr = undefined;
    }
  }
  if (attr === undefined) return { domain: target.host, hostOnly: true };
  if (!domainMatch(target.host, attr, target.isIp)) {
    return new Refusal('5.7 step 10', `the request host "${target.host}" does not domain-match "${attr}"`);
  }
  return { domain: attr, hostOnly: false };
}

/** Step 13: a Secure cookie only from a secure connection. */
export function checkSecureOrigin(secure: boolean, target: RequestTarget): Refusal | undefined {
  if (secure && !target.secure) {
    return new Refusal('5.7 step 13', 'a Secure cookie from a connection that is not secure');
  }
  return undefined;
}

/** Step 15: a non-HTTP API cannot create an HttpOnly cookie. */
export function checkHttpOnlyApi(httpOnly: boolean, http: boolean): Refusal | undefined {
  if (httpOnly && !http) return new Refusal('5.7 step 15', 'an HttpOnly cookie from a non-HTTP API');
  return undefined;
}

/**
 * Step 18: a cookie that is not SameSite=None is refused from a non-HTTP API of a cross-site document
 * (18.1), and from a cross-site response unless it navigates a top-level traversable (18.2-18.4).
 */
export function checkSameSiteContext(
  sameSite: SameSiteFlag,
  http: boolean,
  context: SameSiteContext,
  topLevelNavigation: boolean,
): Refusal | undefined {
  if (sameSite === 'None' || context === 'same-site') return undefined;
  if (!http) return new Refusal('5.7 step 18.1', `a SameSite=${sameSite} cookie from a cross-site document`);
  if (topLevelNavigation) return undefined;
  return new Refusal(
    '5.7 step 18.4',
    `a SameSite=${sameSite} cookie from a cross-site request that is not a top-level navigation`,
  );
}

/** Step 19: SameSite=None requires Secure. */
export function checkSameSiteNone(sameSite: SameSiteFlag, secure: boolean): Refusal | undefined {
  if (sameSite === 'None' && !secure) return new Refusal('5.7 step 19', 'SameSite=None without Secure');
  return undefined;
}

/** Does `s` begin with `prefix` (lower-case ASCII), case-insensitively (5.4)? */
function hasPrefix(s: string, prefix: string): boolean {
  return (
    s.length >= prefix.length &&
    s.charCodeAt(0) === 0x5f &&
    s.charCodeAt(1) === 0x5f &&
    s.slice(0, prefix.length).toLowerCase() === prefix
  );
}

/**
 * Steps 20-22, the cookie name prefixes, matched case-insensitively (5.4): `__Secure-` needs Secure;
 * `__Host-` needs Secure, host-only and a Path attribute of `/`; a nameless cookie's value may not
 * look like a prefixed name.
 *
 * And the two prefixes of RFC 6265bis's successor draft, layered cookies (draft-ietf-httpbis-layered-
 * cookies, 4.1.3.3-4 and "Store a Cookie", 5.4.3 steps 15-17): `__Http-` needs Secure and HttpOnly
 * ("Http-prefix compatible"), `__Host-Http-` needs what `__Host-` needs (checked above, as the draft's
 * step 14 does for every name starting with `__host-`) and HttpOnly; a nameless cookie's value may not
 * begin with `__Http-` either. A non-HTTP API (`http: false`) can therefore set neither: with HttpOnly
 * step 15 refused it already, without it this does. (The draft's definition of "Http-prefix compatible"
 * reads "http-only is false", against its own 4.1.3.3-4 and the purpose of the prefix; Teller follows
 * 4.1.3.3-4, as Chromium does, see test/e2e/http-prefixes.test.ts.)
 *
 * `pathAttribute` is the Path attribute when it starts with `/`. An empty or relative Path attribute
 * (the codec reports it as absent) therefore fails step 21.3 here; RFC 6265bis would accept it when
 * the default-path is `/`, its successor draft (layered cookies) refuses it, as do browsers.
 */
export function checkPrefixes(
  name: string,
  value: string,
  secure: boolean,
  hostOnly: boolean,
  pathAttribute: string | undefined,
  httpOnly: boolean,
): Refusal | undefined {
  if (name === '') {
    if (hasPrefix(value, '__secure-') || hasPrefix(value, '__host-')) {
      return new Refusal('5.7 step 22', 'a nameless cookie whose value begins with a cookie prefix');
    }
    if (hasPrefix(value, '__http-')) {
      return new Refusal(
        'layered-cookies 5.4.3 step 17',
        'a nameless cookie whose value begins with a cookie prefix',
      );
    }
    return undefined;
  }
  if (!secure && hasPrefix(name, '__secure-')) {
    return new Refusal('5.7 step 20', 'a __Secure- cookie without Secure');
  }
  if (hasPrefix(name, '__host-')) {
    if (!secure) return new Refusal('5.7 step 21.1', 'a __Host- cookie without Secure');
    if (!hostOnly) return new Refusal('5.7 step 21.2', 'a __Host- cookie with a Domain attribute');
    if (pathAttribute !== '/') return new Refusal('5.7 step 21.3', 'a __Host- cookie without Path=/');
    if (!httpOnly && hasPrefix(name, '__host-http-')) {
      return new Refusal('layered-cookies 5.4.3 step 16', 'a __Host-Http- cookie without HttpOnly');
    }
  } else if (hasPrefix(name, '__http-')) {
    if (!secure) return new Refusal('layered-cookies 5.4.3 step 15', 'a __Http- cookie without Secure');
    if (!httpOnly) return new Refusal('layered-cookies 5.4.3 step 15', 'a __Http- cookie without HttpOnly');
  }
  return undefined;
}

/** The safe methods of RFC 9110 9.2.1, for SameSite=Lax (5.8.3 step 3). */
export function isSafeMethod(method: string): boolean {
  switch (method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
      return true;
    default:
      return false;
  }
}
