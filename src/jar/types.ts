/** Public types of `teller/jar`. */
import type { Priority } from '../cookie/index.js';

/**
 * A stored cookie's same-site-flag (RFC 6265bis 5.7 step 17): the last valid SameSite attribute, or
 * "Default" when there was none (or an unknown value).
 */
export type SameSiteFlag = 'Strict' | 'Lax' | 'None' | 'Default';

/** Where a request or an API call comes from, relative to the top-level site (RFC 6265bis 5.2). */
export type SameSiteContext = 'same-site' | 'cross-site';

/** A cookie in the jar: the fields of the RFC 6265bis storage model (5.7). A snapshot; mutating it changes nothing. */
export interface StoredCookie {
  name: string;
  /** Literal, as received: nothing is percent-decoded. */
  value: string;
  /** The canonical domain: the request host for a host-only cookie, else the Domain attribute. */
  domain: string;
  path: string;
  /** The expiry-time; `undefined` for a session cookie (persistent-flag false). */
  expires: Date | undefined;
  hostOnly: boolean;
  secure: boolean;
  httpOnly: boolean;
  sameSite: SameSiteFlag;
  /** The Partitioned attribute as received (CHIPS): the cookie is kept in the partition of {@link partitionKey}. */
  partitioned: boolean;
  /**
   * The CHIPS partition key of a partitioned cookie: the site (scheme and registrable domain, e.g.
   * `https://shop.example`) of the top-level document of the request that set it; the cookie is sent
   * only with requests of the same key. `undefined` for an unpartitioned cookie.
   */
  partitionKey: string | undefined;
  /** Chromium's Priority attribute as received. Stored and persisted; the `'chromium'` profile evicts by it. */
  priority: Priority | undefined;
  /** The creation-time; a replacement keeps the replaced cookie's (5.7 step 23.3). */
  creation: Date;
  /** Updated by every retrieval that returns the cookie (5.8.3 step 5); eviction goes by it. */
  lastAccess: Date;
}

/**
 * Whose rules the jar follows: `'rfc'`, RFC 6265bis (the storage model of 5.7 and the retrieval of
 * 5.8); `'chromium'`, Chromium's cookie store wherever it departs from the RFC (docs/cookies.md,
 * "Profiles", lists each difference and Chromium's source for it).
 */
export type JarProfile = 'rfc' | 'chromium';

/** Options of `new CookieJar()`. */
export interface CookieJarOptions {
  /**
   * Whose rules the jar follows ({@link JarProfile}). Part of the jar's configuration: `toJSON` and
   * `toNetscape` do not record it; give it again to `CookieJar.fromJSON`/`fromNetscape`.
   * @default 'rfc'
   */
  profile?: JarProfile;
  /**
   * The most cookies the jar keeps. `'rfc'` profile: beyond it, cookies are evicted in the order of
   * RFC 6265bis 5.7 (expired, non-secure of crowded domains, crowded domains, all; least recently
   * accessed first); partitioned (CHIPS) cookies count, and within each partition the cookies of one
   * embedded site are also limited to 180 and 10 KiB of name + value, as in Chromium. `'chromium'` profile: Chromium's kMaxCookies (3,300): beyond it, the unpartitioned
   * cookies not accessed for 30 days are evicted, non-secure first, least recently accessed first, down
   * to 10/11 of it (3,000); cookies used in the last 30 days are never evicted for it.
   * @default 3000 ('rfc'), 3300 ('chromium')
   */
  maxCookies?: number;
  /**
   * `'rfc'` profile: the most cookies sharing one domain field; beyond it, that domain's expired
   * cookies go first, then its non-secure ones, then any, least recently accessed first (5.7).
   * `'chromium'` profile: the most unpartitioned cookies of one registrable domain (eTLD+1, counting
   * every subdomain's); beyond it, the domain is cut to 5/6 of it (150), least recently accessed
   * first, keeping at least 1/5, 1/3 and the rest of that number (30, 50, 70) of its Priority=Low,
   * Medium (or no Priority) and High cookies, non-secure ones going before secure ones.
   * @default 180
   */
  maxCookiesPerDomain?: number;
}

/** Options shared by storing and retrieving. */
export interface CookieContextOptions {
  /** The current time (epoch ms or a Date). @default Date.now() */
  now?: Date | number;
  /**
   * True for HTTP (a Set-Cookie header, a Cookie header); false for a "non-HTTP" API such as
   * `document.cookie`, which can neither see nor set nor overwrite HttpOnly cookies (5.7 steps 15 and
   * 23.2, 5.8.3 step 3).
   * @default true
   */
  http?: boolean;
  /**
   * The request's (or the calling document's) relation to the top-level site (5.2). The jar does not
   * know the browsing context, so the caller says; programs without one are same-site.
   * @default 'same-site'
   */
  sameSiteContext?: SameSiteContext;
  /**
   * The request navigates a top-level traversable: then cross-site responses may set SameSite cookies
   * (5.7 step 18.3) and cross-site safe-method requests carry Lax/Default ones (5.8.3 step 3).
   * @default false
   */
  topLevelNavigation?: boolean;
  /**
   * The URL (or `scheme://host`) of the top-level document the request is made from, for partitioned
   * cookies (CHIPS): a `Partitioned` cookie is stored under, and sent only with requests of, the
   * partition key derived from it as Chromium does, the scheme plus the registrable domain
   * (`https://news.example`; the scheme plus the host for an IP address or a host without one).
   * Unpartitioned cookies ignore it. A `TypeError` for a value that is not an http(s) URL with a host.
   * @default the request URL itself (a top-level request)
   */
  topLevelSite?: string | URL;
}

/** Options of `jar.setCookie()`. */
export interface SetCookieOptions extends CookieContextOptions {
  /**
   * What a refused cookie does: `'ignore'` returns undefined, as a user agent does; `'throw'` throws a
   * {@link CookieRejectedError} naming the RFC step.
   * @default 'ignore'
   */
  onReject?: 'ignore' | 'throw';
  /**
   * The line is header octets, one character per octet, as Node's `fetch` and `node:http` hand
   * header values over (`u=ä` arrives as `u=Ã¤`): the 4096-octet limit counts them as they are, and
   * the jar stores the text they encode as UTF-8 (see the codec's `ParseSetCookieOptions.octets`).
   * Without it, the line is text, measured as UTF-8. In the Chromium profile, a name or value whose
   * octets are not UTF-8 is also kept as those octets, which `getCookieHeader(url, { octets: true })`
   * sends back unchanged, as Chromium does.
   * @default false
   */
  octets?: boolean;
}

/** Options of `jar.getCookies()` and `jar.getCookieHeader()`. */
export interface GetCookiesOptions extends CookieContextOptions {
  /**
   * The request method: a cross-site top-level navigation carries Lax cookies only with a safe method
   * (GET, HEAD, OPTIONS, TRACE; 5.8.3 step 3). In the Chromium profile, with another method it still
   * carries the cookies without a SameSite attribute at most 2 minutes old ("Lax + POST").
   * @default 'GET'
   */
  method?: string;
}

/** Options of `jar.getCookieHeader()`. */
export interface CookieHeaderOptions extends GetCookiesOptions {
  /**
   * Return the header as octets, one character per octet (its UTF-8), the form in which `fetch`
   * sends a header string; without it, the header is text, and `fetch` would refuse a character
   * above U+00FF and send one from U+0080 to U+00FF as a single octet.
   * @default false
   */
  octets?: boolean;
}

/** Options of `CookieJar.fromJSON()` and `CookieJar.fromNetscape()`. */
export interface LoadOptions extends CookieJarOptions {
  /** Cookies expired at this time are not loaded. @default Date.now() */
  now?: Date | number;
}

/** Options of `jar.toNetscape()` and `jar.toNetscapeDetailed()`. */
export interface NetscapeOptions {
  /** The current time: cookies expired at it are left out (and evicted). @default Date.now() */
  now?: Date | number;
}

/** What `jar.toNetscapeDetailed()` returns. */
export interface NetscapeResult {
  /** The `cookies.txt` text, as `jar.toNetscape()` returns it. */
  text: string;
  /**
   * The partitioned (CHIPS) cookies left out: the format has no field for the partition key. When
   * not 0, the text says so in a comment line.
   */
  partitionedLeftOut: number;
}

/** One cookie of {@link CookieJarJSON}. Times are epoch milliseconds. */
export interface SerializedCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  /** Epoch ms; null for a session cookie. */
  expires: number | null;
  hostOnly: boolean;
  secure: boolean;
  httpOnly: boolean;
  sameSite: SameSiteFlag;
  partitioned: boolean;
  /**
   * The partition key of a partitioned cookie (`scheme://host`, see {@link StoredCookie.partitionKey});
   * absent for an unpartitioned one. A `partitioned: true` cookie without it (a file written before
   * keys were kept) is read into the partition of its own site, `https://` + its registrable domain.
   */
  partitionKey?: string;
  priority?: Priority;
  creation: number;
  lastAccess: number;
}

/** What `jar.toJSON()` returns and `CookieJar.fromJSON()` reads (`JSON.stringify(jar)` works). */
export interface CookieJarJSON {
  version: 1;
  /** In creation order. */
  cookies: SerializedCookie[];
}
