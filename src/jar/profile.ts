/**
 * The jar's Chromium profile (`new CookieJar({ profile: 'chromium' })`): the places where Chromium's
 * cookie store departs from RFC 6265bis, each with the Chromium source that decides it. The parsing
 * differences (HTAB, a nameless cookie holding `=`, Max-Age, Expires) are the codec's internal Chromium
 * mode (src/cookie/set-cookie.ts, src/cookie/date.ts); this module holds the domain rules and
 * CookieMonster's limits and eviction (net/cookies/cookie_monster.cc).
 */
import { domainToASCII } from 'node:url';
import { getDomain } from 'tldts';
import { tellerMessage } from '../util.js';
import { type Entry, PARTITIONED, SECURE } from './entry.js';
import { hasNonChar, type RequestTarget } from './host.js';
import { type CookieDomain, cookieDomain, Refusal } from './storage.js';
import type { JarProfile } from './types.js';

/** The `profile` option: 'rfc' (the default) or 'chromium'; a `TypeError` for anything else. */
export function profileOption(value: unknown): JarProfile {
  if (value === undefined || value === 'rfc') return 'rfc';
  if (value === 'chromium') return 'chromium';
  throw new TypeError(tellerMessage('jar', `option profile must be 'rfc' or 'chromium'`));
}

/**
 * Steps 7-10 as Chromium does them (`cookie_util::GetCookieDomainWithString`,
 * net/cookies/cookie_util.cc). `attribute` is the codec's Domain attribute ('.' for `Domain=.`).
 * - `Domain=.` is refused: it canonicalizes to no host (RFC 6265bis strips the dot: host-only).
 * - A Domain attribute equal to the request host when that host is an IP address (a leading dot
 *   aside) makes a host cookie, as no Domain attribute would ("We match IE/Firefox in allowing a
 *   domain=IPADDR if it matches ... It should be treated as a host cookie"); RFC 6265bis stores a
 *   domain cookie of that IP, which neither replaces nor is replaced by the host-only one.
 * - A non-ASCII Domain attribute is converted to its A-label (`CanonicalizeHost`; Chromium only warns,
 *   `WARN_DOMAIN_NON_ASCII`, while the feature `kCookieDomainRejectNonASCII` is off); RFC 6265bis
 *   step 8 refuses it.
 * Everything else is the RFC's rule, which gives Chromium's answers.
 */
export function chromiumCookieDomain(
  attribute: string | undefined,
  target: RequestTarget,
): CookieDomain | Refusal {
  let attr = attribute;
  if (attr === '.') return new Refusal('Chromium', 'the Domain attribute "." names no host');
  if (attr !== undefined && target.isIp && attr === target.host)
    return { domain: target.host, hostOnly: true };
  if (attr !== undefined && hasNonChar(attr)) {
    const aLabel = domainToASCII(attr);
    if (aLabel === '') return new Refusal('Chromium', `the Domain attribute "${attr}" is no host name`);
    attr = aLabel;
  }
  return cookieDomain(attr, target);
}

/**
 * An entry flag above entry.ts's eight bits: the cookie's name or value octets (received with
 * `octets: true`) were not UTF-8, which Chromium's `document.cookie` cannot show (see the jar's
 * `getCookieHeader`). Kept in memory only: the jar stores the decoded text, and JSON has no room for it.
 */
export const INVALID_UTF8 = 1 << 8;

/**
 * kLaxAllowUnsafeMaxAge (2 minutes): Chromium's "Lax + POST" mitigation. A cookie without a SameSite
 * attribute is Lax by default, but while it is at most this old (`CanonicalCookie::IsRecentlyCreated`,
 * `Now() - creation_date <= age`) its effective SameSite is `LAX_MODE_ALLOW_UNSAFE`
 * (`CanonicalCookie::GetEffectiveSameSite`), which a cross-site top-level navigation with an unsafe
 * method (the context `SAME_SITE_LAX_METHOD_UNSAFE`, a cross-site form POST) still carries
 * (`CanonicalCookie::IncludeForRequestURL`). An explicit `SameSite=Lax` never gets it.
 */
export const LAX_ALLOW_UNSAFE_MS = 120_000;

/** kDefaultAccessUpdateThresholdSeconds: a retrieval updates a last-access-time at most once a minute. */
export const ACCESS_UPDATE_THRESHOLD_MS = 60_000;
/** kMaxCookies: the most unpartitioned cookies before a global purge. */
export const CHROMIUM_MAX_COOKIES = 3300;
/** kSafeFromGlobalPurgeDays: the global purge spares cookies accessed in the last 30 days. */
const SAFE_FROM_GLOBAL_PURGE_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * The per-domain numbers for a limit of `max` (kDomainMaxCookies, 180 by default): past `max`, cut to
 * `target` (kDomainMaxCookies - kDomainPurgeCookies: 150), keeping at least `low`/`medium`/`high`
 * cookies of each Priority (kDomainCookiesQuotaLow 30, kDomainCookiesQuotaMedium 50,
 * kDomainCookiesQuotaHigh 70). Other limits scale the same fractions.
 */
export interface DomainQuotas {
  readonly max: number;
  readonly target: number;
  readonly low: number;
  readonly medium: number;
  readonly high: number;
}

export function domainQuotas(max: number): DomainQuotas {
  const target = max - Math.floor(max / 6);
  const low = Math.floor(target / 5);
  const medium = Math.floor(target / 3);
  return { max, target, low, medium, high: target - low - medium };
}

/** The global target for a limit of `max`: kMaxCookies - kPurgeCookies (3,300 - 300), scaled. */
export function globalTarget(max: number): number {
  return max - Math.floor(max / 11);
}

/** Chromium's CookiePriority of an entry: the Priority attribute, Medium (COOKIE_PRIORITY_DEFAULT) without one. */
function priorityRank(e: Entry): number {
  const p = (e.flags >> 6) & 3;
  return p === 0 ? 2 : p;
}

/** LRACookieSorter: least recently accessed first, then the earlier created. */
function leastRecentFirst(a: Entry, b: Entry): number {
  return a.lastAccess - b.lastAccess || a.creation - b.creation || a.seq - b.seq;
}

/**
 * `CookieMonster::GarbageCollect`'s per-domain purge on the live cookies of one registrable domain
 * (`live.length` > `quotas.max`): the cookies to delete, so that `quotas.target` remain. The cookies go
 * least recently accessed first, in six rounds of `PurgeLeastRecentMatches`: Low non-secure, Low,
 * Medium non-secure, High non-secure, Medium, High; a round leaves its priority's quota standing (and,
 * in a non-secure round, the secure cookies of that priority count toward it).
 */
export function domainVictims(live: Entry[], quotas: DomainQuotas): Entry[] {
  const sorted = live.slice().sort(leastRecentFirst);
  let goal = sorted.length - quotas.target;
  const victims: Entry[] = [];
  const rounds: readonly (readonly [priority: number, protectSecure: boolean])[] = [
    [1, true],
    [1, false],
    [2, true],
    [3, true],
    [2, false],
    [3, false],
  ];
  for (const [priority, protectSecure] of rounds) {
    if (goal === 0) break;
    const quota = priority === 1 ? quotas.low : priority === 2 ? quotas.medium : quotas.high;
    let atPriority = 0;
    let secureAtPriority = 0;
    for (const e of sorted) {
      if (priorityRank(e) !== priority) continue;
      atPriority++;
      if ((e.flags & SECURE) !== 0) secureAtPriority++;
    }
    if (atPriority <= quota) continue;
    let deletable = atPriority - (protectSecure ? Math.max(secureAtPriority, quota) : quota);
    for (let i = 0; i < sorted.length && goal > 0 && deletable > 0; ) {
      const e = sorted[i]!;
      if (priorityRank(e) === priority && !(protectSecure && (e.flags & SECURE) !== 0)) {
        victims.push(e);
        sorted.splice(i, 1);
        goal--;
        deletable--;
      } else {
        i++;
      }
    }
  }
  return victims;
}

/**
 * `CookieMonster::GarbageCollect`'s global purge on every live unpartitioned cookie (`live.length` >
 * the limit): down to `target`, non-secure cookies first, then secure ones, least recently accessed
 * first, but never a cookie accessed since `now` - 30 days (kSafeFromGlobalPurgeDays), so a jar of
 * recently used cookies keeps them all, past the limit.
 */
export function globalVictims(live: Entry[], target: number, now: number): Entry[] {
  const safeDate = now - SAFE_FROM_GLOBAL_PURGE_MS;
  let goal = live.length - target;
  const victims: Entry[] = [];
  const nonSecure = live.filter((e) => (e.flags & SECURE) === 0).sort(leastRecentFirst);
  const secure = live.filter((e) => (e.flags & SECURE) !== 0).sort(leastRecentFirst);
  for (const group of [nonSecure, secure]) {
    const limit = Math.min(goal, group.length);
    for (let i = 0; i < limit && group[i]!.lastAccess < safeDate; i++) {
      victims.push(group[i]!);
      goal--;
    }
    if (goal === 0) break;
  }
  return victims;
}

/** The unpartitioned cookies of one registrable domain, counted per domain field. */
interface Site {
  readonly key: string;
  count: number;
  /** Domain field -> how many of the site's unpartitioned cookies have it. */
  readonly domains: Map<string, number>;
}

/**
 * CookieMonster's key: the registrable domain (eTLD+1, private registries included) of a cookie's
 * domain, or the domain itself when it has none (an IP address, `localhost`, a public suffix).
 */
function siteKey(domain: string): string {
  let key = siteKeyCache.get(domain);
  if (key === undefined) {
    key = getDomain(domain, { allowPrivateDomains: true }) ?? domain;
    if (siteKeyCache.size >= 4096) siteKeyCache.clear();
    siteKeyCache.set(domain, key);
  }
  return key;
}

const siteKeyCache = new Map<string, string>();

/**
 * How many unpartitioned cookies each registrable domain holds, kept as the jar inserts and removes
 * (Chromium counts `cookies_.count(key)`, partitioned cookies apart), and the earliest last-access-time
 * a global purge could meet (`earliest_access_time_`, so a jar of recent cookies skips the purge).
 */
export class ChromiumSites {
  readonly #sites = new Map<string, Site>();
  readonly #byDomain = new Map<string, Site>();
  #total = 0;
  #earliestAccess = Number.NEGATIVE_INFINITY;

  /** Unpartitioned cookies in the jar. */
  get total(): number {
    return this.#total;
  }

  /** The site `entry` joined, or undefined for a partitioned cookie (its limits are the partition's). */
  added(entry: Entry): Site | undefined {
    if ((entry.flags & PARTITIONED) !== 0) return undefined;
    let site = this.#byDomain.get(entry.domain);
    if (site === undefined) {
      const key = siteKey(entry.domain);
      site = this.#sites.get(key);
      if (site === undefined) {
        site = { key, count: 0, domains: new Map() };
        this.#sites.set(key, site);
      }
      this.#byDomain.set(entry.domain, site);
    }
    site.count++;
    site.domains.set(entry.domain, (site.domains.get(entry.domain) ?? 0) + 1);
    this.#total++;
    if (entry.lastAccess < this.#earliestAccess) this.#earliestAccess = entry.lastAccess;
    return site;
  }

  removed(entry: Entry): void {
    if ((entry.flags & PARTITIONED) !== 0) return;
    const site = this.#byDomain.get(entry.domain);
    if (site === undefined) return;
    site.count--;
    this.#total--;
    const left = (site.domains.get(entry.domain) ?? 1) - 1;
    if (left > 0) {
      site.domains.set(entry.domain, left);
      return;
    }
    site.domains.delete(entry.domain);
    this.#byDomain.delete(entry.domain);
    if (site.count === 0) this.#sites.delete(site.key);
  }

  /** May a global purge find a cookie not accessed since `safeDate`? */
  mayPurge(now: number): boolean {
    return this.#earliestAccess < now - SAFE_FROM_GLOBAL_PURGE_MS;
  }

  /** After a global purge: the earliest last-access-time left (a lower bound, as Chromium keeps it). */
  purged(earliest: number): void {
    this.#earliestAccess = earliest;
  }

  clear(): void {
    this.#sites.clear();
    this.#byDomain.clear();
    this.#total = 0;
    this.#earliestAccess = Number.NEGATIVE_INFINITY;
  }
}

export type { Site };
