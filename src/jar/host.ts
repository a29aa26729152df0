/**
 * The request side of the jar: a request URL reduced to what RFC 6265bis needs (canonical host,
 * path, secure connection), and the host algorithms of section 5.1 (canonicalization, domain-match,
 * public suffixes).
 */
import { getPublicSuffix } from 'tldts';

/** A request URL as the storage and retrieval algorithms see it. */
export interface RequestTarget {
  /** The canonicalized host (5.1.2): lower-case, IDNA A-labels, IPv6 in brackets (`[::1]`). */
  readonly host: string;
  /** True when `host` is an IP address, which only ever domain-matches itself (5.1.3). */
  readonly isIp: boolean;
  /** The URL's path, without query or fragment (the uri-path of 5.1.4). */
  readonly path: string;
  /** The URL denotes a "secure" connection (5.7 step 13, 5.8.3 step 3). */
  readonly secure: boolean;
}

/**
 * Parses a request URL and canonicalizes its host (RFC 6265bis 5.1.2) through the WHATWG URL parser,
 * which lower-cases, converts U-labels to A-labels (UTS #46) and fails on labels that are not valid,
 * and refuses the empty labels it keeps ({@link hasEmptyLabel}). Returns undefined when the URL has
 * no host that can be canonicalized (5.7 step 9.2, 5.8.3 step 2) or is not an http(s)/ws(s) URL.
 */
export function requestTarget(url: string | URL): RequestTarget | undefined {
  let u: URL;
  if (typeof url === 'string') {
    const fast = simpleTarget(url);
    if (fast !== null) return fast;
    // URL.parse is Node 22+; a try/catch costs nothing on the success path.
    try {
      u = new URL(url);
    } catch {
      return undefined;
    }
  } else if (url instanceof URL) {
    u = url;
  } else if (typeof (url as { href?: unknown } | null)?.href === 'string') {
    // A URL from another realm (a vm context, a polyfill): parse its href.
    return requestTarget((url as { href: string }).href);
  } else {
    return undefined;
  }
  const protocol = u.protocol;
  const secureScheme = protocol === 'https:' || protocol === 'wss:';
  if (!secureScheme && protocol !== 'http:' && protocol !== 'ws:') return undefined;
  const host = u.hostname;
  // The URL parser keeps ';' and ',' in a host, but no label holds them (5.1.2): no Domain attribute could
  // name such a host, and a jar loaded from JSON refuses it, so its cookies would not survive a round trip.
  if (host === '' || hasEmptyLabel(host) || host.includes(';') || host.includes(',')) return undefined;
  return {
    host,
    isIp: isIpAddress(host),
    path: u.pathname,
    secure: secureScheme || isTrustworthyHost(host),
  };
}

/** 1 for the path characters the URL parser keeps as they are (no percent-encoding, no escapes). */
const PLAIN_PATH = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/") {
  PLAIN_PATH[c.charCodeAt(0)] = 1;
}

/**
 * The common case without the full URL parser: `http(s)://` + a lower-case ASCII host name (letters,
 * digits, `-`, `.`, no `xn--` label, not ending in a numeric label) + an optional port + a path of
 * plain characters (no `%`, no dot segments). For such URLs the WHATWG parser changes nothing, so
 * the answer is the same; anything else returns null and goes to `new URL()` (a test compares both).
 */
export function simpleTarget(url: string): RequestTarget | null {
  let i: number;
  let secure: boolean;
  if (url.startsWith('https://')) {
    i = 8;
    secure = true;
  } else if (url.startsWith('http://')) {
    i = 7;
    secure = false;
  } else {
    return null;
  }
  const hostStart = i;
  let labelStart = i;
  const len = url.length;
  for (; i < len; i++) {
    const c = url.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || c === 0x2d) continue;
    if (c >= 0x30 && c <= 0x39) continue;
    if (c === 0x2e) {
      if (i === labelStart) return null; // an empty label
      labelStart = i + 1;
      continue;
    }
    break;
  }
  // No host, or a trailing dot (the URL parser then looks at the label before it).
  if (i === hostStart || labelStart === i) return null;
  // A last label starting with a digit may be an IPv4 address, which the URL parser rewrites.
  const last = url.charCodeAt(labelStart);
  if (last >= 0x30 && last <= 0x39) return null;
  const host = url.slice(hostStart, i);
  if (host.length > 3 && host.includes('xn--')) return null;
  let c = i < len ? url.charCodeAt(i) : -1;
  if (c === 0x3a) {
    // A port: 1-5 digits up to 65535 (we ignore its value, but the URL parser rejects a bad one).
    const portStart = ++i;
    while (i < len && url.charCodeAt(i) >= 0x30 && url.charCodeAt(i) <= 0x39) i++;
    if (i - portStart > 5 || (i > portStart && Number(url.slice(portStart, i)) > 65535)) return null;
    c = i < len ? url.charCodeAt(i) : -1;
  }
  let path = '/';
  if (c === 0x2f) {
    const pathStart = i;
    let prev = 0;
    for (; i < len; i++) {
      c = url.charCodeAt(i);
      if (c === 0x3f || c === 0x23) break;
      // Anything the parser would encode or resolve: a dot segment may start at "/.".
      if (c > 0x7f || PLAIN_PATH[c] === 0 || (c === 0x2e && prev === 0x2f)) return null;
      prev = c;
    }
    path = url.slice(pathStart, i);
  } else if (c !== -1 && c !== 0x3f && c !== 0x23) {
    return null;
  }
  return { host, isIp: false, path, secure: secure || isTrustworthyHost(host) };
}

/**
 * Does `domain` have an empty label, other than the root after a final `.` (a fully qualified name)?
 * The WHATWG URL parser keeps `x.com..`, `x..com` and `.x.com`, but a label must be a U-label, an
 * A-label or an NR-LDH label, so such a host fails to canonicalize (RFC 6265bis 5.1.2 step 2): its
 * cookies would pass the public-suffix check (`com..` is not on the list) and reach `y.com..`.
 */
export function hasEmptyLabel(domain: string): boolean {
  return domain.charCodeAt(0) === 0x2e || domain.includes('..');
}

/**
 * A canonical host that is an IP address: IPv6 (bracketed by the URL parser) or IPv4 (the URL parser
 * turns any host whose last label is numeric into dotted decimal, or fails).
 */
export function isIpAddress(host: string): boolean {
  if (host.charCodeAt(0) === 0x5b) return true;
  const last = host.charCodeAt(host.length - 1);
  return last >= 0x30 && last <= 0x39 && /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Hosts that user agents treat as secure over plain http (the "potentially trustworthy" origins of
 * W3C Secure Contexts): `localhost` and `*.localhost`, the IPv4 loopback 127.0.0.0/8 and `[::1]`.
 * RFC 6265bis 5.8.3 step 3 leaves "secure" to the user agent and names localhost as the example.
 */
export function isTrustworthyHost(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost') || host === '[::1]') return true;
  return host.startsWith('127.') && isIpAddress(host);
}

/**
 * Domain-match (RFC 6265bis 5.1.3): `string` domain-matches `domain` when they are identical, or
 * `domain` is a suffix of `string` preceded by a `.` and `string` is a host name, not an IP address.
 * Both inputs are canonical (lower-case).
 */
export function domainMatch(string: string, domain: string, stringIsIp = isIpAddress(string)): boolean {
  if (string === domain) return true;
  if (stringIsIp) return false;
  const cut = string.length - domain.length;
  return cut > 0 && string.charCodeAt(cut - 1) === 0x2e && string.endsWith(domain);
}

/**
 * Is `domain` a public suffix (RFC 6265bis 5.7 step 9)? Uses the public suffix list of `tldts`,
 * ICANN and private sections both, as browsers do (so `github.io` is one). A host whose last label is
 * not on the list counts as its own suffix (the list's implicit `*` rule), as for `test` or `localhost`.
 */
export function isPublicSuffix(domain: string): boolean {
  let answer = suffixCache.get(domain);
  if (answer === undefined) {
    answer = lookUpPublicSuffix(domain);
    if (suffixCache.size >= 4096) suffixCache.clear();
    suffixCache.set(domain, answer);
  }
  return answer;
}

// Remembers answers: a jar sees few distinct Domain attributes, and the list lookup costs more than
// the rest of storing a cookie.
const suffixCache = new Map<string, boolean>();

function lookUpPublicSuffix(domain: string): boolean {
  if (domain === '' || isIpAddress(domain)) return false;
  // tldts ignores a trailing dot; "com." is as public as "com".
  const bare = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  return getPublicSuffix(bare, { allowPrivateDomains: true }) === bare;
}

/** Any octet outside CHAR (%x01-7F, RFC 5234), i.e. NUL or non-ASCII (5.7 step 8). */
export function hasNonChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return true;
  }
  return false;
}
