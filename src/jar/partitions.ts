/**
 * Partitioned cookies, CHIPS (the Partitioned attribute of draft-cutler-httpbis-partitioned-cookies,
 * as Chromium implements it): a cookie set with `Partitioned` is stored under the partition key of the
 * request that set it and is sent only with requests of the same partition key.
 *
 * A partition key is the site of the top-level document a request is made from, as Chromium's
 * `CookiePartitionKey` keys it (a `SchemefulSite`): the scheme plus the registrable domain
 * (`https://example.com`), or the scheme plus the host for an IP address or a host without a
 * registrable domain (`http://localhost`, `https://[::1]`). `ws`/`wss` count as `http`/`https`; the
 * port is not part of it.
 */
import { parse } from 'tldts';
import { tellerMessage } from '../util.js';
import { isIpAddress, requestTarget } from './host.js';

/** Chromium's `kPerPartitionDomainMaxCookies`: cookies of one embedded site within one partition. */
export const PARTITION_SITE_MAX_COOKIES = 180;
/** Chromium's `kPerPartitionDomainMaxCookieBytes`: octets of name + value of one embedded site within one partition. */
export const PARTITION_SITE_MAX_BYTES = 10240;

// Host -> its site (registrable domain, or the host): a jar meets few distinct hosts, and the public
// suffix list lookup costs more than the rest.
const siteCache = new Map<string, string>();
// topLevelSite text -> partition key.
const keyCache = new Map<string, string>();
const CACHE_SIZE = 4096;

/**
 * The site of a canonical host: its registrable domain on the public suffix list (both sections, as
 * Chromium's `INCLUDE_PRIVATE_REGISTRIES`), a label under an unknown top-level label counting as one
 * (`web-platform.test`, as the list's implicit `*` rule: WPT's `www.web-platform.test` is same-site
 * with it); else the host itself: an IP address, a public suffix, `localhost`. Also what groups a
 * partition's cookies by embedded site for its limits (Chromium's `GetKey` of the cookie's domain).
 */
export function siteOf(host: string): string {
  let site = siteCache.get(host);
  if (site === undefined) {
    site = host;
    if (!isIpAddress(host)) {
      const p = parse(host, { allowPrivateDomains: true });
      if (p.domain !== null) {
        // tldts ignores a trailing dot; the host keeps it, so does its site.
        site = host.endsWith('.') ? `${p.domain}.` : p.domain;
      }
    }
    if (siteCache.size >= CACHE_SIZE) siteCache.clear();
    siteCache.set(host, site);
  }
  return site;
}

/** The scheme of a partition key: `ws` counts as `http`, `wss` as `https`; undefined for other schemes. */
function keyScheme(protocol: string): string | undefined {
  switch (protocol) {
    case 'https:':
    case 'wss:':
      return 'https';
    case 'http:':
    case 'ws:':
      return 'http';
    default:
      return undefined;
  }
}

/**
 * The partition key of a request to `url` made as a top-level request (no `topLevelSite`): its own
 * scheme and the site of its host (the canonical host the jar already computed).
 */
export function ownPartitionKey(url: string | URL, host: string): string {
  let scheme: string | undefined;
  if (typeof url === 'string') {
    scheme = url.startsWith('https://') ? 'https' : url.startsWith('http://') ? 'http' : undefined;
    if (scheme === undefined) scheme = keyScheme(new URL(url).protocol);
  } else {
    scheme = keyScheme(url.protocol);
  }
  // The jar accepts http(s) and ws(s) URLs only, so a scheme is always found.
  return `${scheme ?? 'https'}://${siteOf(host)}`;
}

function badSite(): TypeError {
  return new TypeError(
    tellerMessage('jar', 'option topLevelSite must be an http(s) URL (or scheme://host) with a host'),
  );
}

/**
 * The partition key for a request made from a top-level document at `topLevelSite` (a URL, or
 * `scheme://host`). Throws a `TypeError` for anything else.
 */
export function partitionKeyOf(topLevelSite: string | URL): string {
  if (typeof topLevelSite === 'string') {
    let key = keyCache.get(topLevelSite);
    if (key === undefined) {
      let u: URL;
      try {
        u = new URL(topLevelSite);
      } catch (cause) {
        throw Object.assign(badSite(), { cause });
      }
      key = keyOfUrl(u);
      if (keyCache.size >= CACHE_SIZE) keyCache.clear();
      keyCache.set(topLevelSite, key);
    }
    return key;
  }
  if (topLevelSite instanceof URL) return keyOfUrl(topLevelSite);
  if (typeof (topLevelSite as { href?: unknown } | null)?.href === 'string') {
    // A URL from another realm.
    return partitionKeyOf((topLevelSite as { href: string }).href);
  }
  throw badSite();
}

function keyOfUrl(u: URL): string {
  // The host as a request's (canonical, no empty label, no ';' or ','), so that every key is one a
  // request could have.
  const target = requestTarget(u);
  const scheme = keyScheme(u.protocol);
  if (target === undefined || scheme === undefined) throw badSite();
  return `${scheme}://${siteOf(target.host)}`;
}

/**
 * Is `key` a partition key this jar could have made (for `fromJSON`): `http://` or `https://` and a
 * canonical host (the URL parser gives it back as it is: no port, path, user or trailing `/`, lower
 * case) that is its own site?
 */
export function isPartitionKey(key: string): boolean {
  const m = /^https?:\/\/(.+)$/s.exec(key);
  if (m === null) return false;
  const host = m[1]!;
  return requestTarget(key)?.host === host && siteOf(host) === host;
}

/**
 * The partition key of a cookie read from a file written before partition keys were kept (a
 * `partitioned: true` cookie without `partitionKey`): every request of such a jar was top-level, so
 * the cookie was set in the partition of its own site, over https (a Partitioned cookie is Secure).
 */
export function legacyPartitionKey(domain: string): string | undefined {
  const key = `https://${siteOf(domain)}`;
  return isPartitionKey(key) ? key : undefined;
}
