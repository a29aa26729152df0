/**
 * The cookie jar: the RFC 6265bis storage model (5.7) and retrieval algorithm (5.8.3).
 *
 * Cookies live in buckets keyed by their domain field. A retrieval for host `a.b.example` reads the
 * buckets `a.b.example` and `b.example` (every domain the host domain-matches, 5.1.3), found in one
 * pass over the host's labels, so its cost depends on the host's length and the cookies of those
 * domains only, not on the size of the jar.
 *
 * Partitioned cookies (CHIPS) live apart, in a set of such buckets per partition key: a request reads
 * the buckets of its own partition only, and a jar without partitioned cookies reads none.
 */

import type { ParsedSetCookie } from '../cookie/index.js';
import { type Expiry, parseSetCookieInternal } from '../cookie/set-cookie.js';
import { encodeOctets, utf8Length } from '../cookie/utf8.js';
import { epochMs, tellerMessage } from '../util.js';
import { DomainBuckets } from './domains.js';
import {
  type Entry,
  HOST_ONLY,
  HTTP_ONLY,
  PARTITIONED,
  packFlags,
  priorityOf,
  SAME_SITE_DEFAULT,
  SAME_SITE_MASK,
  SAME_SITE_NONE,
  SAME_SITE_STRICT,
  SECURE,
  sameSiteOf,
  snapshot,
} from './entry.js';
import { CookieRejectedError } from './errors.js';
import { domainMatch, type RequestTarget, requestTarget } from './host.js';
import { netscapeLine, parseNetscape } from './netscape.js';
import {
  ownPartitionKey,
  PARTITION_SITE_MAX_BYTES,
  PARTITION_SITE_MAX_COOKIES,
  partitionKeyOf,
  siteOf,
} from './partitions.js';
import { defaultPath, pathMatch } from './path.js';
import {
  ACCESS_UPDATE_THRESHOLD_MS,
  CHROMIUM_MAX_COOKIES,
  ChromiumSites,
  chromiumCookieDomain,
  type DomainQuotas,
  domainQuotas,
  domainVictims,
  globalTarget,
  globalVictims,
  INVALID_UTF8,
  LAX_ALLOW_UNSAFE_MS,
  profileOption,
  type Site,
} from './profile.js';
import { type LoadedCookie, readJSON } from './serialize.js';
import {
  checkHttpOnlyApi,
  checkPrefixes,
  checkSameSiteContext,
  checkSameSiteNone,
  checkSecureOrigin,
  cookieDomain,
  isSafeMethod,
  Refusal,
} from './storage.js';
import type {
  CookieContextOptions,
  CookieHeaderOptions,
  CookieJarJSON,
  CookieJarOptions,
  GetCookiesOptions,
  JarProfile,
  LoadOptions,
  NetscapeOptions,
  NetscapeResult,
  SameSiteFlag,
  SerializedCookie,
  SetCookieOptions,
  StoredCookie,
} from './types.js';

/** "Share a domain field with more than a predetermined number of other cookies" (5.7, removing excess cookies). */
const CROWDED_DOMAIN = 50;

function toMs(now: Date | number | undefined): number {
  return epochMs(now, Date.now, 'jar', 'option now');
}

function limitOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(tellerMessage('jar', `option ${name} must be a positive integer`));
  }
  return value;
}

/** Retrieval order (5.8.3 step 4): longer paths first, then earlier creation, then creation order. */
function retrievalOrder(a: Entry, b: Entry): number {
  return b.path.length - a.path.length || a.creation - b.creation || a.seq - b.seq;
}

/** Inserts into a list kept in retrieval order; a newcomer usually belongs at or near the end. */
function insertSorted(list: Entry[], entry: Entry): void {
  let i = list.length;
  while (i > 0 && retrievalOrder(list[i - 1]!, entry) > 0) i--;
  if (i === list.length) list.push(entry);
  else list.splice(i, 0, entry);
}

function creationOrder(a: Entry, b: Entry): number {
  return a.creation - b.creation || a.seq - b.seq;
}

/** The partition key of a request (CHIPS): its top-level site's, or its own for a top-level request. */
function requestPartitionKey(
  url: string | URL,
  target: RequestTarget,
  options: CookieContextOptions | undefined,
): string {
  const site = options?.topLevelSite;
  return site === undefined ? ownPartitionKey(url, target.host) : partitionKeyOf(site);
}

/**
 * The codec names its step as "RFC 6265bis 5.6 step 1: ..." (or "Chromium: ..." in the Chromium
 * profile); the jar's errors carry it apart.
 */
function codecRefusal(reason: string): Refusal {
  const m = /^RFC 6265bis (\d[\d.]*(?: step [\d.]+)?): (.*)$/s.exec(reason);
  if (m) return new Refusal(m[1]!, m[2]!);
  return reason.startsWith('Chromium: ')
    ? new Refusal('Chromium', reason.slice(10))
    : new Refusal('5.6', reason);
}

/**
 * A cookie store that behaves like a browser's (RFC 6265bis 5.7 and 5.8): give it every Set-Cookie a
 * response carries with {@link CookieJar.setCookie}, ask it for the Cookie header of each request with
 * {@link CookieJar.getCookieHeader}. Time is a parameter of every operation (`now`, the real clock by
 * default). Persist it with {@link CookieJar.toJSON} / {@link CookieJar.fromJSON} or in curl's
 * `cookies.txt` format with {@link CookieJar.toNetscape} / {@link CookieJar.fromNetscape}.
 *
 * @example
 * const jar = new CookieJar();
 * jar.setCookie('sid=abc; Path=/; HttpOnly', 'https://example.com/login');
 * jar.getCookieHeader('https://example.com/account'); // 'sid=abc'
 */
/** What a retrieval picks cookies by, and where it puts them. */
interface Pick {
  readonly target: RequestTarget;
  readonly now: number;
  readonly http: boolean;
  readonly crossSite: boolean;
  readonly laxAllowed: boolean;
  /**
   * Chromium profile, Lax-allowing-unsafe: a cross-site top-level navigation with an unsafe method still
   * carries a cookie without a SameSite attribute created at or after this time (epoch ms); +Infinity
   * when the exception does not apply.
   */
  readonly laxUnsafeSince: number;
  readonly found: Entry[];
}

export class CookieJar {
  /** Domain field -> its cookies, kept in retrieval order (5.8.3 step 4). No key (`__proto__`) is special. */
  readonly #buckets = new DomainBuckets();
  /** CHIPS: partition key -> the partition's cookies, by domain field as in #buckets. An empty partition goes. */
  readonly #partitions = new Map<string, DomainBuckets>();
  /** Name -> the Secure cookies of that name, for "leave secure cookies alone" (5.7 step 16). */
  readonly #secureByName = new Map<string, Entry[]>();
  readonly #maxCookies: number;
  readonly #maxPerDomain: number;
  /** `profile: 'chromium'`: every Chromium rule below hangs on this one flag (the RFC paths test it once). */
  readonly #chromium: boolean;
  /** Chromium profile only: unpartitioned cookies per registrable domain, for CookieMonster's limits. */
  readonly #sites: ChromiumSites | undefined;
  readonly #quotas: DomainQuotas | undefined;
  readonly #globalTarget: number;
  #count = 0;
  #seq = 0;
  /** The last URL string parsed, and its target: a response's Set-Cookie lines share one URL. */
  #lastUrl = '';
  #lastTarget: RequestTarget | undefined;
  /**
   * Chromium profile: the pair (`name=value`, or the bare value) of each cookie flagged INVALID_UTF8 in the
   * octets it came in (its `name` and `value` hold the text, each invalid sequence as U+FFFD); the Cookie
   * header in octets sends them back. Kept beside the entries (a rare case, made at its first use) so that
   * an entry stays small.
   */
  #octets: WeakMap<Entry, string> | undefined;
  /** The codec's answer for the effective expiry of the cookie being set (no Dates built for it). */
  readonly #expiry: Expiry = {
    at: Number.POSITIVE_INFINITY,
    invalidUtf8: false,
    pairOctets: '',
  };

  constructor(options?: CookieJarOptions) {
    this.#chromium = profileOption(options?.profile) === 'chromium';
    // Chromium: kMaxCookies (3,300) and kDomainMaxCookies (180), net/cookies/cookie_monster.cc.
    const maxCookies = this.#chromium ? CHROMIUM_MAX_COOKIES : 3000;
    this.#maxCookies = limitOption(options?.maxCookies, maxCookies, 'maxCookies');
    this.#maxPerDomain = limitOption(options?.maxCookiesPerDomain, 180, 'maxCookiesPerDomain');
    this.#sites = this.#chromium ? new ChromiumSites() : undefined;
    this.#quotas = this.#chromium ? domainQuotas(this.#maxPerDomain) : undefined;
    this.#globalTarget = globalTarget(this.#maxCookies);
  }

  /** The jar's profile: `'rfc'` (RFC 6265bis) or `'chromium'`. */
  get profile(): JarProfile {
    return this.#chromium ? 'chromium' : 'rfc';
  }

  /** The number of cookies stored; expired ones count until an operation that meets them evicts them. */
  get size(): number {
    return this.#count;
  }

  /**
   * Receives a cookie (RFC 6265bis 5.7): parses `setCookieLine` (a Set-Cookie field value) as received
   * in a response to `url`, applies the storage model's checks and stores, replaces or (when it has
   * already expired) deletes the cookie.
   *
   * @returns the stored cookie; undefined when the cookie was refused (or, with `onReject: 'throw'`,
   *   throws a {@link CookieRejectedError} naming the step) and when it arrived already expired, which
   *   deletes the cookie it replaces.
   */
  setCookie(setCookieLine: string, url: string | URL, options?: SetCookieOptions): StoredCookie | undefined {
    const now = toMs(options?.now);
    // A broken topLevelSite throws whether or not a partitioned cookie needs it.
    if (options?.topLevelSite !== undefined) partitionKeyOf(options.topLevelSite);
    const expiry = this.#expiry;
    const parsed = parseSetCookieInternal(
      setCookieLine,
      { now, octets: options?.octets === true },
      expiry,
      this.#chromium,
    );
    let outcome: Entry | Refusal | undefined;
    if (typeof parsed === 'string') {
      outcome = codecRefusal(parsed);
    } else {
      const target = this.#target(url);
      outcome =
        target === undefined
          ? new Refusal('5.7 step 10', 'the request URL has no host that can be canonicalized')
          : this.#receive(parsed, expiry.at, target, options, now, url);
    }
    if (outcome instanceof Refusal) {
      if (options?.onReject === 'throw') throw new CookieRejectedError(outcome.step, outcome.reason);
      return undefined;
    }
    return outcome === undefined ? undefined : snapshot(outcome);
  }

  #target(url: string | URL): RequestTarget | undefined {
    if (typeof url !== 'string') return requestTarget(url);
    if (url !== this.#lastUrl || this.#lastTarget === undefined) {
      this.#lastTarget = requestTarget(url);
      this.#lastUrl = url;
    }
    return this.#lastTarget;
  }

  /** 5.7 steps 7-24 for a parsed cookie expiring at `expiresAt` (epoch ms, +Infinity for a session cookie). */
  #receive(
    parsed: ParsedSetCookie,
    expiresAt: number,
    target: RequestTarget,
    options: SetCookieOptions | undefined,
    now: number,
    url: string | URL,
  ): Entry | Refusal | undefined {
    const http = options?.http !== false;
    const { name, value, secure, httpOnly } = parsed;
    // Steps 7-10.
    const where = this.#chromium
      ? chromiumCookieDomain(parsed.domain, target)
      : cookieDomain(parsed.domain, target);
    if (where instanceof Refusal) return where;
    const { domain, hostOnly } = where;
    // Step 11.
    const path = parsed.path ?? defaultPath(target.path);
    // Steps 12-13, 14-15.
    const refusal = checkSecureOrigin(secure, target) ?? checkHttpOnlyApi(httpOnly, http);
    if (refusal !== undefined) return refusal;
    const partitionKey = parsed.partitioned ? this.#partitionKey(secure, url, target, options) : undefined;
    if (partitionKey instanceof Refusal) return partitionKey;
    // Step 16.
    if (!secure && !target.secure && this.#shadowsSecureCookie(name, domain, path, now)) {
      return new Refusal('5.7 step 16', `a non-secure cookie would overlay the Secure cookie "${name}"`);
    }
    // Step 17.
    const sameSite: SameSiteFlag = parsed.sameSite ?? 'Default';
    // Steps 18-22.
    const later =
      checkSameSiteContext(
        sameSite,
        http,
        options?.sameSiteContext ?? 'same-site',
        options?.topLevelNavigation === true,
      ) ??
      checkSameSiteNone(sameSite, secure) ??
      checkPrefixes(name, value, secure, hostOnly, parsed.path, httpOnly);
    if (later !== undefined) return later;
    const entry: Entry = {
      name,
      value,
      domain,
      path,
      expiresAt,
      creation: now,
      lastAccess: now,
      seq: 0,
      partitionKey,
      flags: packFlags({
        hostOnly,
        secure,
        httpOnly,
        sameSite,
        partitioned: parsed.partitioned,
        priority: parsed.priority,
      }),
    };
    if (this.#chromium && this.#expiry.invalidUtf8) {
      entry.flags |= INVALID_UTF8;
      (this.#octets ??= new WeakMap()).set(entry, this.#expiry.pairOctets);
    }
    return this.#store(entry, http, now);
  }

  /**
   * Step 16, "leave secure cookies alone": is there a Secure cookie of this name whose domain
   * domain-matches the new one's (or vice versa) and whose path the new path path-matches?
   */
  #shadowsSecureCookie(name: string, domain: string, path: string, now: number): boolean {
    const secure = this.#secureByName.get(name);
    if (secure === undefined) return false;
    for (const old of secure) {
      // An expired cookie is gone (the jar evicts lazily).
      if (old.expiresAt <= now) continue;
      if ((domainMatch(old.domain, domain) || domainMatch(domain, old.domain)) && pathMatch(path, old.path)) {
        return true;
      }
    }
    return false;
  }

  /**
   * CHIPS: the partition key a Partitioned cookie is stored under, that of the request's top-level
   * site (the request's own site for a top-level request); refused without Secure, in both profiles,
   * as by Chromium (the CHIPS draft's storage model: "if the cookie's secure-only-flag is false, ignore
   * the cookie").
   */
  #partitionKey(
    secure: boolean,
    url: string | URL,
    target: RequestTarget,
    options: SetCookieOptions | undefined,
  ): string | Refusal {
    if (!secure) return new Refusal('CHIPS', 'a Partitioned cookie without Secure');
    return requestPartitionKey(url, target, options);
  }

  /**
   * Steps 23-24 and the eviction rules: replaces the cookie with the same name, domain, host-only-flag
   * and path (keeping its creation-time), deletes it when the new one has already expired, inserts
   * otherwise, then removes excess cookies.
   */
  #store(entry: Entry, http: boolean, now: number): Entry | Refusal | undefined {
    // A partitioned cookie's identity includes its partition key: it lives in its partition's buckets
    // (made when its first cookie comes, so that a deletion makes no empty partition).
    const key = entry.partitionKey;
    let buckets = key === undefined ? this.#buckets : this.#partitions.get(key);
    let bucket = buckets?.get(entry.domain);
    const expired = entry.expiresAt <= now;
    if (bucket !== undefined) {
      // One string per domain, shared by its cookies (the request host is a fresh string each time).
      entry.domain = bucket[0]!.domain;
      for (let i = 0; i < bucket.length; i++) {
        const old = bucket[i]!;
        if (
          old.name !== entry.name ||
          old.path !== entry.path ||
          ((old.flags ^ entry.flags) & HOST_ONLY) !== 0
        ) {
          continue;
        }
        if (old.expiresAt <= now) {
          // Expired, so already gone as far as the RFC is concerned: no replacement, a new cookie.
          this.#removeAt(bucket, i);
          break;
        }
        // Step 23.2.
        if (!http && (old.flags & HTTP_ONLY) !== 0) {
          return new Refusal('5.7 step 23.2', 'a non-HTTP API cannot overwrite an HttpOnly cookie');
        }
        if (
          this.#chromium &&
          (old.value !== entry.value ||
            (((old.flags | entry.flags) & INVALID_UTF8) !== 0 &&
              this.#octets?.get(old) !== this.#octets?.get(entry)))
        ) {
          // Chromium keeps the creation-time only when the value is unchanged
          // (`CookieMonster::MaybeDeleteEquivalentCookieAndUpdateStatus`: `creation_date_to_inherit`
          // is set when `deletion_candidate->Value() == cookie_being_set.Value()`); otherwise the
          // newcomer is a new cookie, created now, and sorts after its peers in the Cookie header.
          this.#removeAt(bucket, i);
          if (expired) return undefined;
          break;
        }
        // Step 23.3-23.4 (and the immediate eviction of an expired newcomer).
        entry.creation = old.creation;
        entry.seq = old.seq;
        if ((old.flags & SECURE) !== 0) this.#unindexSecure(old);
        if (expired) {
          this.#removeAt(bucket, i);
          return undefined;
        }
        bucket[i] = entry;
        if ((entry.flags & SECURE) !== 0) this.#indexSecure(entry);
        return entry;
      }
    }
    if (expired) return undefined;
    // Step 24 (the bucket may have just lost its last, expired, cookie).
    if (bucket?.length === 0) {
      bucket = undefined;
      // Its partition went with its last cookie (#removeAt): look it up again, or make it anew.
      if (key !== undefined) buckets = this.#partitions.get(key);
    }
    entry.seq = this.#seq++;
    buckets ??= this.#partition(key!);
    bucket ??= buckets.create(entry.domain);
    insertSorted(bucket, entry);
    this.#count++;
    if ((entry.flags & SECURE) !== 0) this.#indexSecure(entry);
    const count = this.#count;
    if (this.#sites !== undefined) {
      this.#chromiumLimits(this.#sites, this.#sites.added(entry), now);
      if (key !== undefined) this.#evictFromPartition(buckets, entry, now);
    } else {
      if (bucket.length > this.#maxPerDomain) this.#evictFromDomain(bucket, now);
      if (key !== undefined) this.#evictFromPartition(buckets, entry, now);
      if (this.#count > this.#maxCookies) this.#evictExcess(now);
    }
    // The newcomer itself may have been the one to go (e.g. the only non-secure cookie of a full domain).
    return this.#count === count || buckets.get(entry.domain)?.includes(entry)
      ? entry
      : new Refusal('5.7 (removing excess cookies)', 'the cookie was evicted at once by the cookie limits');
  }

  /** The buckets of partition `key`, created when missing. */
  #partition(key: string): DomainBuckets {
    let buckets = this.#partitions.get(key);
    if (buckets === undefined) {
      buckets = new DomainBuckets();
      this.#partitions.set(key, buckets);
    }
    return buckets;
  }

  /** Every bucket: the unpartitioned ones, then each partition's. */
  *#allBuckets(): Generator<Entry[]> {
    yield* this.#buckets.values();
    for (const buckets of this.#partitions.values()) yield* buckets.values();
  }

  // Step 16 compares a cookie with the cookies of its own partition only, as Chromium's
  // MaybeDeleteEquivalentCookieAndUpdateStatus does: a partitioned cookie, always Secure, never meets
  // it, and does not keep an unpartitioned cookie of its name out. So only unpartitioned ones are indexed.
  #indexSecure(entry: Entry): void {
    if (entry.partitionKey !== undefined) return;
    const list = this.#secureByName.get(entry.name);
    if (list === undefined) this.#secureByName.set(entry.name, [entry]);
    else list.push(entry);
  }

  #unindexSecure(entry: Entry): void {
    if (entry.partitionKey !== undefined) return;
    const list = this.#secureByName.get(entry.name);
    if (list === undefined) return;
    const i = list.indexOf(entry);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.#secureByName.delete(entry.name);
  }

  #removeAt(bucket: Entry[], index: number): void {
    const entry = bucket[index]!;
    bucket.splice(index, 1);
    this.#count--;
    if (this.#sites !== undefined) this.#sites.removed(entry);
    if ((entry.flags & SECURE) !== 0) this.#unindexSecure(entry);
    if (bucket.length !== 0) return;
    const key = entry.partitionKey;
    if (key === undefined) {
      this.#buckets.delete(entry.domain);
    } else {
      const buckets = this.#partitions.get(key)!;
      buckets.delete(entry.domain);
      if (buckets.size === 0) this.#partitions.delete(key);
    }
  }

  /**
   * CookieMonster's limits after an insertion (`CookieMonster::GarbageCollect`,
   * net/cookies/cookie_monster.cc): past `maxCookiesPerDomain` unpartitioned cookies on one registrable
   * domain (counting expired ones not yet evicted), that domain's expired cookies go, then, if still
   * past it, the domain is cut to 5/6 of it by Priority quotas ({@link domainVictims}); past
   * `maxCookies` unpartitioned cookies in all, expired cookies go, then the least recently accessed
   * down to 10/11 of it, but only cookies not accessed for 30 days ({@link globalVictims}).
   */
  #chromiumLimits(sites: ChromiumSites, site: Site | undefined, now: number): void {
    if (site !== undefined && site.count > this.#maxPerDomain) {
      const live = this.#siteCookies(site, now);
      if (live.length > this.#maxPerDomain) {
        for (const e of domainVictims(live, this.#quotas!)) this.#removeEntry(e);
      }
    }
    if (sites.total > this.#maxCookies && sites.mayPurge(now)) {
      const live: Entry[] = [];
      for (const bucket of [...this.#buckets.values()]) {
        this.#evictExpiredIn(bucket, now);
        for (const e of bucket) if ((e.flags & PARTITIONED) === 0) live.push(e);
      }
      if (live.length > this.#maxCookies) {
        const victims = new Set(globalVictims(live, this.#globalTarget, now));
        let earliest = Number.POSITIVE_INFINITY;
        for (const e of live) {
          if (victims.has(e)) this.#removeEntry(e);
          else if (e.lastAccess < earliest) earliest = e.lastAccess;
        }
        sites.purged(earliest);
      }
    }
  }

  /** The live unpartitioned cookies of a registrable domain; its expired ones are evicted on the way. */
  #siteCookies(site: Site, now: number): Entry[] {
    const live: Entry[] = [];
    for (const domain of [...site.domains.keys()]) {
      const bucket = this.#buckets.get(domain);
      if (bucket === undefined) continue;
      this.#evictExpiredIn(bucket, now);
      for (const e of bucket) if ((e.flags & PARTITIONED) === 0) live.push(e);
    }
    return live;
  }

  #removeEntry(e: Entry): void {
    const bucket = this.#buckets.get(e.domain);
    const i = bucket === undefined ? -1 : bucket.indexOf(e);
    if (i !== -1) this.#removeAt(bucket!, i);
  }

  /**
   * Per-domain limit (5.7, removing excess cookies): expired cookies first, then non-secure ones, then
   * any; the least recently accessed first within a class.
   */
  #evictFromDomain(bucket: Entry[], now: number): void {
    while (bucket.length > this.#maxPerDomain) {
      let victim = -1;
      let victimClass = 4;
      for (let i = 0; i < bucket.length; i++) {
        const e = bucket[i]!;
        const cls = e.expiresAt <= now ? 1 : (e.flags & SECURE) !== 0 ? 3 : 2;
        if (victim === -1 || cls < victimClass || (cls === victimClass && isLessRecent(e, bucket[victim]!))) {
          victim = i;
          victimClass = cls;
        }
      }
      this.#removeAt(bucket, victim);
    }
  }

  /**
   * The CHIPS limits, as Chromium's GarbageCollectPartitionedCookies: within one partition, the cookies
   * of one embedded site (the site of their domain field, `siteOf`) number at most 180 and hold at
   * most 10 KiB of name + value (UTF-8 octets). Beyond either, that site's expired cookies go, then
   * the least recently accessed, until both hold.
   */
  #evictFromPartition(buckets: DomainBuckets, entry: Entry, now: number): void {
    const site = siteOf(entry.domain);
    let count = 0;
    let bytes = 0;
    for (const bucket of buckets.values()) {
      if (siteOf(bucket[0]!.domain) !== site) continue;
      count += bucket.length;
      for (const e of bucket) bytes += utf8Length(e.name) + utf8Length(e.value);
    }
    if (count <= PARTITION_SITE_MAX_COOKIES && bytes <= PARTITION_SITE_MAX_BYTES) return;
    const live: Entry[] = [];
    for (const bucket of [...buckets.values()]) {
      if (siteOf(bucket[0]!.domain) !== site) continue;
      for (let i = bucket.length - 1; i >= 0; i--) {
        const e = bucket[i]!;
        if (e.expiresAt > now) {
          live.push(e);
          continue;
        }
        bytes -= utf8Length(e.name) + utf8Length(e.value);
        count--;
        this.#removeAt(bucket, i);
      }
    }
    live.sort((a, b) => (isLessRecent(a, b) ? -1 : isLessRecent(b, a) ? 1 : 0));
    for (const e of live) {
      if (count <= PARTITION_SITE_MAX_COOKIES && bytes <= PARTITION_SITE_MAX_BYTES) return;
      const bucket = buckets.get(e.domain)!;
      bytes -= utf8Length(e.name) + utf8Length(e.value);
      count--;
      this.#removeAt(bucket, bucket.indexOf(e));
    }
  }

  /**
   * Total limit (5.7, removing excess cookies): 1. expired cookies, 2. non-secure cookies of crowded
   * domains, 3. cookies of crowded domains, 4. all cookies; the least recently accessed first.
   */
  #evictExcess(now: number): void {
    while (this.#count > this.#maxCookies) {
      let victim: Entry | undefined;
      let victimBucket: Entry[] | undefined;
      let victimIndex = -1;
      let victimClass = 5;
      for (const bucket of this.#allBuckets()) {
        const crowded = bucket.length > CROWDED_DOMAIN + 1;
        for (let i = 0; i < bucket.length; i++) {
          const e = bucket[i]!;
          const cls = e.expiresAt <= now ? 1 : crowded ? ((e.flags & SECURE) !== 0 ? 3 : 2) : 4;
          if (victim === undefined || cls < victimClass || (cls === victimClass && isLessRecent(e, victim))) {
            victim = e;
            victimBucket = bucket;
            victimIndex = i;
            victimClass = cls;
          }
        }
      }
      if (victimBucket === undefined) return;
      this.#removeAt(victimBucket, victimIndex);
    }
  }

  /**
   * The retrieval algorithm (RFC 6265bis 5.8.3 steps 1-5) without serialization: the cookies to send
   * with a request to `url`, in order, each one's last-access-time set to `now`. Expired cookies met
   * on the way are evicted.
   */
  #retrieve(url: string | URL, options: GetCookiesOptions | undefined): Entry[] {
    const now = toMs(options?.now);
    const target = this.#target(url);
    const found: Entry[] = [];
    // Steps 1-2.
    if (target === undefined) return found;
    const http = options?.http !== false;
    const crossSite = options?.sameSiteContext === 'cross-site';
    // 5.8.3 step 3, last bullet: the Lax exception for cross-site top-level safe-method requests.
    const topLevel = crossSite && http && options?.topLevelNavigation === true;
    const safe = isSafeMethod(options?.method ?? 'GET');
    const laxAllowed = topLevel && safe;
    // Chromium: "Lax + POST", the cookies without SameSite created in the last 2 minutes (see LAX_ALLOW_UNSAFE_MS).
    const laxUnsafeSince =
      this.#chromium && topLevel && !safe ? now - LAX_ALLOW_UNSAFE_MS : Number.POSITIVE_INFINITY;
    // Step 3.
    const pick: Pick = { target, now, http, crossSite, laxAllowed, laxUnsafeSince, found };
    this.#gather(this.#buckets, pick);
    // CHIPS: the cookies of the request's partition too, if the jar has any partition.
    if (this.#partitions.size !== 0 || options?.topLevelSite !== undefined) {
      this.#gatherPartition(requestPartitionKey(url, target, options), pick);
    }
    // Step 4: done as the cookies were gathered.
    // Step 5. Chromium updates a last-access-time at most once a minute
    // (`CookieMonster::InternalUpdateCookieAccessTime`, kDefaultAccessUpdateThresholdSeconds).
    if (this.#chromium) {
      for (const e of found) if (now - e.lastAccess >= ACCESS_UPDATE_THRESHOLD_MS) e.lastAccess = now;
    } else {
      for (const e of found) e.lastAccess = now;
    }
    return found;
  }

  /**
   * Step 3 over `buckets`: the bucket of every domain the host domain-matches: for the hosts of real
   * sites, the host and each parent of more than one label, looked up by name (a one-label parent is
   * a public suffix, which holds host-only cookies only); a host of many labels goes down the tree of
   * labels instead. `pick.found` must be empty.
   */
  #gather(buckets: DomainBuckets, pick: Pick): void {
    const { target, found } = pick;
    const host = target.host;
    if (target.isIp) {
      const bucket = buckets.get(host);
      if (bucket !== undefined) this.#scan(bucket, true, pick);
      return;
    }
    const few = buckets.fewLabels;
    for (let domain = host, lookups = 0; ; lookups++) {
      if (lookups === few) {
        found.length = 0;
        const list: Entry[][] = [];
        const hostIndex = buckets.walkTree(host, list);
        for (let i = 0; i < list.length; i++) this.#scan(list[i]!, i === hostIndex, pick);
        return;
      }
      const bucket = buckets.get(domain);
      if (bucket !== undefined) this.#scan(bucket, lookups === 0, pick);
      const dot = domain.indexOf('.');
      if (dot === -1 || domain.indexOf('.', dot + 1) === -1) return;
      domain = domain.slice(dot + 1);
    }
  }

  /**
   * CHIPS: adds the cookies of partition `key` to `pick.found`, merged into retrieval order with the
   * unpartitioned ones: Chromium sorts both sets together (CookieMonster::GetCookieListWithOptions
   * gathers the unpartitioned cookies and those of each partition key, then sorts all with
   * CookieSorter: longer path first, then earlier creation), which is the order of 5.8.3 step 4.
   */
  #gatherPartition(key: string, pick: Pick): void {
    const buckets = this.#partitions.get(key);
    if (buckets === undefined) return;
    if (pick.found.length === 0) {
      this.#gather(buckets, pick);
      return;
    }
    const own: Pick = { ...pick, found: [] };
    this.#gather(buckets, own);
    for (const e of own.found) insertSorted(pick.found, e);
  }

  /** Adds the cookies of `bucket` that go with the request to `pick.found` (5.8.3 step 3); evicts expired ones. */
  #scan(bucket: Entry[], isHost: boolean, pick: Pick): void {
    const { target, now, http, crossSite, laxAllowed, laxUnsafeSince, found } = pick;
    // Buckets are kept in retrieval order: the first with matches needs no sorting.
    const first = found.length === 0;
    let expired = false;
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i]!;
      if (e.expiresAt <= now) {
        expired = true;
        continue;
      }
      const f = e.flags;
      if ((f & HOST_ONLY) !== 0 && !isHost) continue;
      if (e.path.length > 1 && !pathMatch(target.path, e.path)) continue;
      if ((f & SECURE) !== 0 && !target.secure) continue;
      if ((f & HTTP_ONLY) !== 0 && !http) continue;
      if (crossSite) {
        const sameSite = f & SAME_SITE_MASK;
        if (
          sameSite !== SAME_SITE_NONE &&
          !(laxAllowed && sameSite !== SAME_SITE_STRICT) &&
          !(sameSite === SAME_SITE_DEFAULT && e.creation >= laxUnsafeSince)
        ) {
          continue;
        }
      }
      if (first) found.push(e);
      else insertSorted(found, e);
    }
    if (expired) this.#evictExpiredIn(bucket, now);
  }

  #evictExpiredIn(bucket: Entry[], now: number): void {
    for (let i = bucket.length - 1; i >= 0; i--) {
      if (bucket[i]!.expiresAt <= now) this.#removeAt(bucket, i);
    }
  }

  /**
   * The cookies to send with a request to `url` (RFC 6265bis 5.8.3), longest path first, then earliest
   * created. With `http: false`, what a non-HTTP API such as `document.cookie` would see.
   */
  getCookies(url: string | URL, options?: GetCookiesOptions): StoredCookie[] {
    return this.#retrieve(url, options).map(snapshot);
  }

  /**
   * The Cookie header value for a request to `url` (RFC 6265bis 5.8.2, 5.8.3 step 6): `name=value`
   * pairs joined by `"; "`, a nameless cookie as its bare value; `''` when no cookie applies. With
   * `octets: true`, in header octet form (its UTF-8, one character per octet) for `fetch` to send.
   */
  getCookieHeader(url: string | URL, options?: CookieHeaderOptions): string {
    const found = this.#retrieve(url, options);
    if (this.#chromium && hasInvalidUtf8(found)) {
      // Blink's document.cookie shows nothing; the Cookie header carries the octets as they came.
      if (options?.http === false) return '';
      if (options?.octets === true) return headerOctets(found, this.#octets!);
    }
    let out = '';
    for (let i = 0; i < found.length; i++) {
      const e = found[i]!;
      if (i > 0) out += '; ';
      out += e.name === '' ? e.value : `${e.name}=${e.value}`;
    }
    return options?.octets === true ? encodeOctets(out) : out;
  }

  /**
   * Every cookie in the jar in creation order, expired ones excluded (and evicted).
   * @param options.now The current time. @default Date.now()
   */
  getAllCookies(options?: { now?: Date | number }): StoredCookie[] {
    return this.#live(toMs(options?.now)).map(snapshot);
  }

  #live(now: number): Entry[] {
    const all: Entry[] = [];
    for (const bucket of [...this.#allBuckets()]) {
      this.#evictExpiredIn(bucket, now);
      for (const e of bucket) all.push(e);
    }
    return all.sort(creationOrder);
  }

  /**
   * "The current session is over" (RFC 6265bis 5.7): removes every session cookie (persistent-flag
   * false), as a browser does when it closes. Returns how many were removed.
   */
  endSession(): number {
    let removed = 0;
    for (const bucket of [...this.#allBuckets()]) {
      for (let i = bucket.length - 1; i >= 0; i--) {
        if (bucket[i]!.expiresAt === Number.POSITIVE_INFINITY) {
          this.#removeAt(bucket, i);
          removed++;
        }
      }
    }
    return removed;
  }

  /** Removes every cookie. */
  clear(): void {
    this.#buckets.clear();
    this.#partitions.clear();
    this.#secureByName.clear();
    this.#count = 0;
    this.#sites?.clear();
  }

  /**
   * The jar as plain JSON data (so `JSON.stringify(jar)` works): every cookie not expired at `now`
   * (expired ones are evicted), with all its fields, times in epoch milliseconds, in creation order.
   * Read it back with {@link CookieJar.fromJSON}.
   * @param options.now The current time; `JSON.stringify` passes a key instead, meaning the real clock.
   *   @default Date.now()
   */
  toJSON(options?: { now?: Date | number } | string): CookieJarJSON {
    const all = this.#live(toMs(typeof options === 'object' ? options.now : undefined));
    const cookies: SerializedCookie[] = new Array(all.length);
    for (let i = 0; i < all.length; i++) {
      const e = all[i]!;
      const c: SerializedCookie = {
        name: e.name,
        value: e.value,
        domain: e.domain,
        path: e.path,
        expires: e.expiresAt === Number.POSITIVE_INFINITY ? null : e.expiresAt,
        hostOnly: (e.flags & HOST_ONLY) !== 0,
        secure: (e.flags & SECURE) !== 0,
        httpOnly: (e.flags & HTTP_ONLY) !== 0,
        sameSite: sameSiteOf(e.flags),
        partitioned: (e.flags & PARTITIONED) !== 0,
        creation: e.creation,
        lastAccess: e.lastAccess,
      };
      if (e.partitionKey !== undefined) c.partitionKey = e.partitionKey;
      const priority = priorityOf(e.flags);
      if (priority !== undefined) c.priority = priority;
      cookies[i] = c;
    }
    return { version: 1, cookies };
  }

  /**
   * A jar from {@link CookieJar.toJSON}'s output (the object or its JSON text). Every field is checked
   * (a `TypeError` names the first broken one); cookies expired at `now` are dropped.
   */
  static fromJSON(json: CookieJarJSON | string, options?: LoadOptions): CookieJar {
    const jar = new CookieJar(options);
    jar.#load(readJSON(json), toMs(options?.now));
    return jar;
  }

  /**
   * The jar in the Netscape `cookies.txt` format that curl (`-b`/`-c`) and wget (`--load-cookies`)
   * read and write: one line per cookie, `#HttpOnly_` before the domain of an HttpOnly cookie, expiry
   * 0 for a session cookie. The format has no room for SameSite, Partitioned, Priority or the
   * creation and access times, nor for a tab inside a field: such cookies (a tab is legal in a
   * cookie value) are left out. Partitioned (CHIPS) cookies are left out too, since the file cannot
   * say which partition they belong to and a reader would send them everywhere; when there are any, a
   * comment line near the top says how many (`# 2 partitioned cookies left out: ...`), and
   * {@link CookieJar.toNetscapeDetailed} returns the count. Cookies expired at `now` are left out (and
   * evicted); the lines are in creation order.
   * @param options.now The current time. @default Date.now()
   */
  toNetscape(options?: NetscapeOptions): string {
    return this.toNetscapeDetailed(options).text;
  }

  /**
   * {@link CookieJar.toNetscape}'s text and the number of partitioned cookies it left out.
   * @param options.now The current time. @default Date.now()
   */
  toNetscapeDetailed(options?: NetscapeOptions): NetscapeResult {
    let lines = '';
    let partitionedLeftOut = 0;
    for (const e of this.#live(toMs(options?.now))) {
      if (e.partitionKey !== undefined) {
        partitionedLeftOut++;
        continue;
      }
      const line = netscapeLine({
        ...e,
        hostOnly: (e.flags & HOST_ONLY) !== 0,
        secure: (e.flags & SECURE) !== 0,
        httpOnly: (e.flags & HTTP_ONLY) !== 0,
      });
      if (line !== undefined) lines += `${line}\n`;
    }
    let text = '# Netscape HTTP Cookie File\n# Written by Teller (teller/jar).\n';
    if (partitionedLeftOut > 0) {
      const cookies = partitionedLeftOut === 1 ? 'cookie' : 'cookies';
      text += `# ${partitionedLeftOut} partitioned ${cookies} left out: cookies.txt has no field for the partition\n`;
    }
    return { text: `${text}\n${lines}`, partitionedLeftOut };
  }

  /**
   * A jar from a Netscape `cookies.txt` file (curl's `-c` output, wget's `--save-cookies`). Lenient:
   * lines that are not cookies are skipped, as are cookies for a public suffix and cookies expired at
   * `now`. SameSite is "Default"; the creation order is the file's order.
   */
  static fromNetscape(text: string, options?: LoadOptions): CookieJar {
    const jar = new CookieJar(options);
    jar.#load(parseNetscape(text), toMs(options?.now));
    return jar;
  }

  #load(cookies: LoadedCookie[], now: number): void {
    for (const c of cookies) {
      if (c.expiresAt <= now) continue;
      const entry: Entry = {
        name: c.name,
        value: c.value,
        domain: c.domain,
        path: c.path,
        expiresAt: c.expiresAt,
        creation: c.creation ?? now,
        lastAccess: c.lastAccess ?? now,
        seq: 0,
        partitionKey: c.partitionKey,
        flags: packFlags(c),
      };
      this.#store(entry, true, now);
    }
  }
}

/**
 * Chromium profile: does a cookie hold octets (received with `octets: true`) that are not UTF-8? Then
 * `document.cookie` returns `""` (Blink turns the cookie line into a string with `String::FromUTF8`,
 * which fails on invalid UTF-8, so one such cookie hides them all), and the Cookie header in octets
 * sends that cookie's octets as they came ({@link headerOctets}).
 */
function hasInvalidUtf8(found: Entry[]): boolean {
  for (const e of found) if ((e.flags & INVALID_UTF8) !== 0) return true;
  return false;
}

/**
 * Chromium profile, the Cookie header in octets when a cookie's octets are not UTF-8: Chromium stores a
 * cookie's name and value as the octets it received (`ParsedCookie` works on the header's bytes; nothing
 * decodes them) and sends them back as they came, where the jar's text would send U+FFFD's UTF-8.
 */
function headerOctets(found: Entry[], octets: WeakMap<Entry, string>): string {
  let out = '';
  for (let i = 0; i < found.length; i++) {
    const e = found[i]!;
    if (i > 0) out += '; ';
    out += octets.get(e) ?? encodeOctets(e.name === '' ? e.value : `${e.name}=${e.value}`);
  }
  return out;
}

function isLessRecent(a: Entry, b: Entry): boolean {
  return a.lastAccess < b.lastAccess || (a.lastAccess === b.lastAccess && a.seq < b.seq);
}
