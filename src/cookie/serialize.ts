/**
 * Writing Set-Cookie strictly, as a server must (RFC 6265bis section 4.1): every field is checked
 * against its grammar and a bad one throws a TypeError naming it, so nothing can inject an attribute
 * (CVE-2024-47764's class).
 */
import { tellerMessage } from '../util.js';
import type { Priority, SameSite } from './set-cookie.js';
import { MAX_ATTRIBUTE_VALUE_BYTES, MAX_NAME_VALUE_BYTES } from './set-cookie.js';
import { utf8Length } from './utf8.js';

export interface SerializeOptions {
  /** A token (RFC 9110 5.6.2); must not be empty (4.1.1: servers must not produce nameless cookies). */
  name: string;
  /** `*cookie-octet`, optionally wrapped in DQUOTEs (4.1.1). Encode other data first (e.g. base64url). */
  value: string;
  /** Written as an IMF-fixdate. */
  expires?: Date;
  /** Seconds, a non-negative integer (4.1.2.2); 0 deletes the cookie. */
  maxAge?: number;
  /** A host name (4.1.2.3); one leading `.` is accepted and written as given. Omit for a host-only cookie. */
  domain?: string;
  /** Must start with `/` (4.1.2.4); any CHAR except CTLs and `;`. */
  path?: string;
  secure?: boolean;
  /** @default false */
  httpOnly?: boolean;
  /** `None` requires `secure` (4.1.2.7). Case-insensitive input, written capitalised. */
  sameSite?: SameSite | 'strict' | 'lax' | 'none';
  /** CHIPS; requires `secure`. */
  partitioned?: boolean;
  priority?: Priority | 'low' | 'medium' | 'high';
}

/** token = 1*tchar (RFC 9110 5.6.2). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE ) (4.1.1). */
const COOKIE_VALUE =
  /^(?:[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*|"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")$/;
/** A subdomain of LDH labels (RFC 1034 3.5 as enhanced by RFC 1123 2.1), one optional leading dot. */
const DOMAIN =
  /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** path-value = *av-octet, starting with "/" (4.1.2.4). */
const PATH = /^\/[\x20-\x3a\x3c-\x7e]*$/;

// Maps, not object literals: a lookup of "constructor" or "__proto__" must find nothing.
const SAME_SITE = new Map<string, SameSite>([
  ['strict', 'Strict'],
  ['lax', 'Lax'],
  ['none', 'None'],
]);
const PRIORITY = new Map<string, Priority>([
  ['low', 'Low'],
  ['medium', 'Medium'],
  ['high', 'High'],
]);

/**
 * The error for a bad field: it names the field and the rule, never the value, which may be a secret
 * (a session token with one stray character must not end up in a log).
 */
function invalid(field: string, rule: string): TypeError {
  return new TypeError(tellerMessage('cookie', `option ${field} is invalid: ${rule}`));
}

/** Where `value`, not a cookie-value, first breaks the grammar (for the error; the value is not echoed). */
function badValueIndex(value: string): number {
  const quoted = value.length >= 2 && value.charCodeAt(0) === 0x22 && value.endsWith('"');
  const start = quoted ? 1 : 0;
  const end = quoted ? value.length - 1 : value.length;
  for (let i = start; i < end; i++) {
    if (!COOKIE_VALUE.test(value[i]!)) return i;
  }
  return end;
}

/** A cookie name prefix (RFC 6265bis 4.1.3; `__Http-` and `__Host-Http-` from the layered-cookies draft, 4.1.3.3-4). */
type Prefix = '__Host-Http-' | '__Host-' | '__Http-' | '__Secure-';

/**
 * The prefix `name` begins with, matched case-insensitively as user agents do (RFC 6265bis 5.4; the
 * layered-cookies draft's "Store a Cookie" byte-lowercases the name for all four).
 */
function prefixOf(name: string): Prefix | undefined {
  if (name.length >= 7 && name.charCodeAt(0) === 0x5f && name.charCodeAt(1) === 0x5f) {
    const head = name.slice(0, 12).toLowerCase();
    if (head === '__host-http-') return '__Host-Http-';
    if (head.startsWith('__host-')) return '__Host-';
    if (head.startsWith('__http-')) return '__Http-';
    if (head.startsWith('__secure-')) return '__Secure-';
  }
  return undefined;
}

/**
 * Writes a Set-Cookie field value. Throws a TypeError naming the field for an invalid name, value,
 * domain, path, date, max-age, same-site or priority, and for cookies a user agent would refuse:
 * `__Host-` without Secure, `Path=/` and no Domain; `__Secure-` without Secure; `__Http-` without
 * Secure and HttpOnly; `__Host-Http-` without Secure, HttpOnly, `Path=/` and no Domain (the prefixes
 * matched case-insensitively); `SameSite=None` or `Partitioned` without Secure; a name and value over
 * 4096 octets.
 */
export function serializeSetCookie(cookie: SerializeOptions): string {
  const { name, value } = cookie;
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw invalid('name', "must be a token (RFC 9110 5.6.2): letters, digits and !#$%&'*+-.^_`|~, not empty");
  }
  if (typeof value !== 'string') throw invalid('value', 'must be a string');
  if (!COOKIE_VALUE.test(value)) {
    throw invalid(
      'value',
      `character ${badValueIndex(value)} is not a cookie-octet (RFC 6265bis 4.1.1: printable ASCII except DQUOTE, comma, semicolon and backslash, optionally inside DQUOTEs); encode other data first, e.g. base64url`,
    );
  }
  if (name.length + value.length > MAX_NAME_VALUE_BYTES) {
    throw invalid(
      'value',
      `name and value are ${name.length + value.length} octets (at most ${MAX_NAME_VALUE_BYTES})`,
    );
  }
  let out = `${name}=${value}`;

  if (cookie.maxAge !== undefined) {
    const m = cookie.maxAge;
    if (typeof m !== 'number' || !Number.isSafeInteger(m) || m < 0) {
      throw invalid('maxAge', 'must be a non-negative integer number of seconds');
    }
    out += `; Max-Age=${m}`;
  }
  if (cookie.domain !== undefined) {
    const d = cookie.domain;
    if (typeof d !== 'string' || d.length > 253 || !DOMAIN.test(d)) {
      throw invalid(
        'domain',
        'must be a host name (RFC 6265bis 4.1.2.3): labels of letters, digits and inner hyphens, at most 63 each, joined by dots, one optional leading dot, at most 253 characters',
      );
    }
    out += `; Domain=${d}`;
  }
  if (cookie.path !== undefined) {
    const p = cookie.path;
    // A trailing space is av-octet, but a user agent trims it (5.6 step 4): the cookie would get another path.
    if (
      typeof p !== 'string' ||
      !PATH.test(p) ||
      p.endsWith(' ') ||
      utf8Length(p) > MAX_ATTRIBUTE_VALUE_BYTES
    ) {
      throw invalid(
        'path',
        `must start with "/" and hold printable ASCII or spaces but no semicolon (RFC 6265bis 4.1.2.4) and no trailing space (a user agent trims it), at most ${MAX_ATTRIBUTE_VALUE_BYTES} octets`,
      );
    }
    out += `; Path=${p}`;
  }
  if (cookie.expires !== undefined) {
    const e = cookie.expires;
    if (!(e instanceof Date) || Number.isNaN(e.getTime())) throw invalid('expires', 'must be a valid Date');
    const year = e.getUTCFullYear();
    if (year < 1601 || year > 9999) throw invalid('expires', 'must be a date in the years 1601 to 9999');
    out += `; Expires=${e.toUTCString()}`;
  }
  if (cookie.httpOnly) out += '; HttpOnly';
  if (cookie.secure) out += '; Secure';
  if (cookie.partitioned) {
    if (!cookie.secure) throw invalid('partitioned', 'Partitioned requires secure: true');
    out += '; Partitioned';
  }
  if (cookie.priority !== undefined) {
    const p = typeof cookie.priority === 'string' ? PRIORITY.get(cookie.priority.toLowerCase()) : undefined;
    if (p === undefined) throw invalid('priority', 'must be Low, Medium or High');
    out += `; Priority=${p}`;
  }
  if (cookie.sameSite !== undefined) {
    const s = typeof cookie.sameSite === 'string' ? SAME_SITE.get(cookie.sameSite.toLowerCase()) : undefined;
    if (s === undefined) throw invalid('sameSite', 'must be Strict, Lax or None');
    if (s === 'None' && !cookie.secure) throw invalid('sameSite', 'SameSite=None requires secure: true');
    out += `; SameSite=${s}`;
  }

  const prefix = prefixOf(name);
  if (prefix !== undefined) {
    // Every prefix needs Secure (4.1.3.1-4).
    if (!cookie.secure) throw invalid('secure', `a cookie named ${prefix}… requires secure: true`);
    // __Host- and __Host-Http-: no Domain, Path=/ (4.1.3.2, 4.1.3.4).
    if (prefix === '__Host-' || prefix === '__Host-Http-') {
      if (cookie.domain !== undefined)
        throw invalid('domain', `a cookie named ${prefix}… must not have a domain`);
      if (cookie.path !== '/') throw invalid('path', `a cookie named ${prefix}… requires path: "/"`);
    }
    // __Http- and __Host-Http-: HttpOnly (layered cookies 4.1.3.3-4), so that only a Set-Cookie header
    // can have set it, never a script.
    if ((prefix === '__Http-' || prefix === '__Host-Http-') && !cookie.httpOnly) {
      throw invalid('httpOnly', `a cookie named ${prefix}… requires httpOnly: true`);
    }
  }
  return out;
}

/**
 * A Set-Cookie field value that deletes the cookie: an empty value, `Max-Age=0` and an Expires in
 * 1970 (for old clients). Give the same path and domain (and secure, for prefixed names) it was set with.
 */
export function serializeDeleteCookie(
  name: string,
  options?: Omit<SerializeOptions, 'name' | 'value' | 'expires' | 'maxAge'>,
): string {
  return serializeSetCookie({ ...options, name, value: '', maxAge: 0, expires: new Date(0) });
}
