/**
 * Parsing of the Set-Cookie header field as a user agent does it: RFC 6265bis section 5.6, step by
 * step, plus the cookie-intrinsic checks of the storage model (5.7 steps 2-4). What depends on the
 * request (default-path, domain-match, Secure origins, prefixes) is the jar's business.
 */
import { chromiumCookieDateMs, cookieDateMs } from './date.js';
import { decodeOctets, isUtf8Octets, utf8Length } from './utf8.js';

export type SameSite = 'Strict' | 'Lax' | 'None';
export type Priority = 'Low' | 'Medium' | 'High';

/** A Set-Cookie line as a user agent receives it. Values are literal: nothing is percent-decoded. */
export interface ParsedSetCookie {
  /** The cookie-name; `''` for a nameless cookie (5.6 step 3). */
  name: string;
  value: string;
  /**
   * The effective expiry (5.7 step 6): the last valid Max-Age over the last valid Expires, capped at
   * `now` + 400 days (5.5). Max-Age <= 0 gives the earliest representable date. Absent: a session cookie.
   * Epoch ms, as every `…At` time in Teller (the sessions' `createdAt`, `expiresAt`, `authenticatedAt`):
   * a time Teller computes is a number; a date the line itself holds (`expires`) is a Date.
   */
  expiresAt?: number;
  /** The last valid Max-Age attribute, in seconds as written (before the cap). */
  maxAge?: number;
  /** The last valid Expires attribute, as parsed (before the cap). */
  expires?: Date;
  /** The last Domain attribute, its leading `.` removed and lower-cased (5.6.3); absent when empty. */
  domain?: string;
  /** The last Path attribute when it starts with `/`; absent means the default-path (5.6.4). */
  path?: string;
  secure: boolean;
  httpOnly: boolean;
  /** The last SameSite attribute's enforcement; absent for "Default" (no or an unknown value, 5.6.7). */
  sameSite?: SameSite;
  /** CHIPS (the successor draft): the cookie is keyed to the top-level site. */
  partitioned: boolean;
  /** Chromium's Priority attribute; absent when missing or unknown. */
  priority?: Priority;
}

export interface ParseSetCookieOptions {
  /** The time the response was received, for Max-Age and the 400-day cap. @default the real clock */
  now?: Date | number;
  /**
   * The line is header octets, one character per octet (U+0000-U+00FF), as Node's `fetch` and
   * `node:http` hand header values over (`u=ä` arrives as `u=Ã¤`). The size limits then count its
   * characters, and the name, value, Domain and Path are decoded as UTF-8 (an invalid sequence becomes
   * U+FFFD), so the cookie holds the text the server meant. A line with a character above U+00FF is
   * not octets, and is ignored. Without it, the line is text, measured as UTF-8.
   * @default false
   */
  octets?: boolean;
}

export type SetCookieParseResult = { ok: true; cookie: ParsedSetCookie } | { ok: false; reason: string };

/** RFC 6265bis 5.5: the cookie lifetime limit, 400 days. */
export const MAX_COOKIE_AGE_SECONDS = 400 * 24 * 60 * 60;
/** RFC 6265bis 5.6 step 5 and 5.7 step 4. */
export const MAX_NAME_VALUE_BYTES = 4096;
/** RFC 6265bis 5.6, attribute step 6. */
export const MAX_ATTRIBUTE_VALUE_BYTES = 1024;
/** The earliest date ECMAScript can represent: the expiry of a cookie with Max-Age <= 0. */
export const EARLIEST_DATE_MS = -8.64e15;

/** %x00-08 / %x0A-1F / %x7F: the CTLs that make a user agent ignore the line (HTAB excepted). */
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** %x00-1F: a single range, which the regexp engine scans about twice as fast as {@link CTL}'s. */
const C0 = /[\x00-\x1f]/;
/** A character that is no octet: the line is not in header octet form. */
const NOT_OCTET = /[^\x00-\xff]/;

function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Removes leading and trailing WSP (SP and HTAB only) from s[start, end). */
function trimmed(s: string, start: number, end: number): string {
  while (start < end && isWsp(s.charCodeAt(start))) start++;
  while (end > start && isWsp(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

function toMs(now: Date | number | undefined): number {
  if (now === undefined) return Date.now();
  return typeof now === 'number' ? now : now.getTime();
}

const PATH = 1;
const DOMAIN = 2;
const SECURE = 3;
const EXPIRES = 4;
const MAX_AGE = 5;
const HTTP_ONLY = 6;
const SAME_SITE = 7;
const PRIORITY = 8;
const PARTITIONED = 9;

/**
 * The attribute named `name` as written in its usual spellings (`HttpOnly`, `httponly`, `HTTPONLY`),
 * 0 for any other. A `switch` on strings of the same length compares a few of them natively, where a
 * lookup in a Map would first hash the new string.
 */
function attributeSpelled(name: string): number {
  switch (name.length) {
    case 4:
      switch (name) {
        case 'Path':
        case 'path':
        case 'PATH':
          return PATH;
      }
      break;
    case 6:
      switch (name) {
        case 'Domain':
        case 'domain':
        case 'DOMAIN':
          return DOMAIN;
        case 'Secure':
        case 'secure':
        case 'SECURE':
          return SECURE;
      }
      break;
    case 7:
      switch (name) {
        case 'Expires':
        case 'expires':
        case 'EXPIRES':
          return EXPIRES;
        case 'Max-Age':
        case 'max-age':
        case 'MAX-AGE':
          return MAX_AGE;
      }
      break;
    case 8:
      switch (name) {
        case 'HttpOnly':
        case 'httponly':
        case 'HTTPONLY':
          return HTTP_ONLY;
        case 'SameSite':
        case 'samesite':
        case 'SAMESITE':
          return SAME_SITE;
        case 'Priority':
        case 'priority':
        case 'PRIORITY':
          return PRIORITY;
      }
      break;
    case 11:
      switch (name) {
        case 'Partitioned':
        case 'partitioned':
        case 'PARTITIONED':
          return PARTITIONED;
      }
      break;
  }
  return 0;
}

/** 5.6 step 7: the attribute `name` names, compared case-insensitively (as its `toLowerCase()`); 0 for none. */
function attributeOf(name: string): number {
  const known = attributeSpelled(name);
  return known !== 0 ? known : attributeSpelled(name.toLowerCase());
}

function sameSiteSpelled(value: string): SameSite | undefined {
  switch (value) {
    case 'Lax':
    case 'lax':
    case 'LAX':
      return 'Lax';
    case 'None':
    case 'none':
    case 'NONE':
      return 'None';
    case 'Strict':
    case 'strict':
    case 'STRICT':
      return 'Strict';
  }
  return undefined;
}

/** 5.6.7: the enforcement a SameSite value names, case-insensitively; undefined ("Default") when unknown. */
function sameSiteOf(value: string): SameSite | undefined {
  return sameSiteSpelled(value) ?? sameSiteSpelled(value.toLowerCase());
}

function prioritySpelled(value: string): Priority | undefined {
  switch (value) {
    case 'Low':
    case 'low':
    case 'LOW':
      return 'Low';
    case 'Medium':
    case 'medium':
    case 'MEDIUM':
      return 'Medium';
    case 'High':
    case 'high':
    case 'HIGH':
      return 'High';
  }
  return undefined;
}

/** Chromium's Priority value, case-insensitively; undefined when unknown. */
function priorityOf(value: string): Priority | undefined {
  return prioritySpelled(value) ?? prioritySpelled(value.toLowerCase());
}

/** 5.6.2 steps 1-3 on s[start, end): the Max-Age value in seconds, or undefined when the cookie-av must be ignored. */
function parseMaxAge(s: string, start: number, end: number): number | undefined {
  const negative = end > start && s.charCodeAt(start) === 0x2d;
  const first = negative ? start + 1 : start;
  if (end === first) return undefined;
  let n = 0;
  for (let j = first; j < end; j++) {
    const c = s.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return undefined;
    n = n * 10 + (c - 0x30);
  }
  // Past 15 digits the sum may round differently from the nearest double, which Number() gives.
  if (end - first > 15) n = Number(s.slice(first, end));
  return negative ? -n : n;
}

/**
 * Max-Age as Chromium reads it (`CanonicalCookie::ParseExpiration` with `base::StringToInt64`,
 * net/cookies/canonical_cookie.cc): an optional `-` or `+`, then digits. The seconds; +/-Infinity
 * when the digits overflow an int64 (Chromium saturates: `Time::Max()`/`Time::Min()`); NaN when the
 * value is no such number, and Chromium then falls back to Expires.
 */
function chromiumMaxAge(s: string, start: number, end: number): number {
  let i = start;
  const sign = i < end ? s.charCodeAt(i) : 0;
  if (sign === 0x2d || sign === 0x2b) i++;
  if (i === end) return Number.NaN;
  let n = 0;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return Number.NaN;
    n = n * 10 + (c - 0x30);
    // Past INT64_MAX: StringToInt64 stops with the saturated value.
    if (n >= 2 ** 63) return sign === 0x2d ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  return sign === 0x2d ? -n : n;
}

/**
 * Chromium refuses a cookie whose name, value, attribute name or attribute value holds an HTAB once
 * its leading and trailing SP/HTAB are trimmed (`ParsedCookie::ParseTokenValuePairs` checks each with
 * `IsValidCookieName`/`IsValidCookieValue`, which refuse every control character, HTAB included;
 * net/cookies/parsed_cookie.cc). RFC 6265bis 5.6 step 1 spares HTAB. Does `line` hold such a tab?
 */
function hasInnerTab(line: string): boolean {
  let start = 0;
  while (start <= line.length) {
    let end = line.indexOf(';', start);
    if (end === -1) end = line.length;
    const eq = line.indexOf('=', start);
    const parts =
      eq !== -1 && eq < end ? [line.slice(start, eq), line.slice(eq + 1, end)] : [line.slice(start, end)];
    for (const part of parts) if (trimmed(part, 0, part.length).includes('\t')) return true;
    start = end + 1;
  }
  return false;
}

/**
 * The parser: the cookie, or the reason the line is ignored. It reads each cookie-av where it lies in
 * the line: a date is read in place, an attribute name is looked up as it is written before it is
 * lower-cased.
 */
function parse(
  line: string,
  options: ParseSetCookieOptions | undefined,
  expiry?: Expiry,
  chromium = false,
): ParsedSetCookie | string {
  if (typeof line !== 'string') return 'the Set-Cookie value is not a string';
  const octets = options?.octets === true;
  if (octets && NOT_OCTET.test(line)) {
    return 'the Set-Cookie value is not header octets: a character is above U+00FF';
  }
  // 5.6 step 1.
  // (Most lines have no C0 character, not even HTAB, and no DEL: two fast scans say so.)
  if ((C0.test(line) && CTL.test(line)) || line.includes('\x7f')) {
    return 'RFC 6265bis 5.6 step 1: the line contains a control character';
  }
  if (chromium && line.includes('\t') && hasInnerTab(line)) {
    return 'Chromium: a tab inside the name, the value or an attribute';
  }
  // Step 2: the name-value-pair ends at the first ';'.
  const len = line.length;
  let semi = line.indexOf(';');
  if (semi === -1) semi = len;
  // Step 3: the name ends at the first '=' of the pair; no '=' means a nameless cookie.
  const eq = line.indexOf('=');
  let name: string;
  let value: string;
  if (eq === -1 || eq > semi) {
    name = '';
    value = trimmed(line, 0, semi);
  } else {
    // Step 4: trim WSP.
    name = trimmed(line, 0, eq);
    value = trimmed(line, eq + 1, semi);
  }
  // 5.7 step 2.
  if (name === '' && value === '') {
    return 'RFC 6265bis 5.7 step 2: the cookie-name and cookie-value are both empty';
  }
  // Step 5 (and 5.7 step 4). Text is at most 3 octets per UTF-16 unit; octets are 1 each.
  const nvLength = name.length + value.length;
  if (
    nvLength > MAX_NAME_VALUE_BYTES / 3 &&
    (nvLength > MAX_NAME_VALUE_BYTES ||
      (!octets && utf8Length(name) + utf8Length(value) > MAX_NAME_VALUE_BYTES))
  ) {
    return `RFC 6265bis 5.6 step 5: the cookie-name and cookie-value are longer than ${MAX_NAME_VALUE_BYTES} octets`;
  }
  if (chromium) {
    // A nameless cookie would be sent as its bare value, which would read as another cookie's
    // name=value (Chromium measures it as "Cookie.Parse.EmptyNameAmbiguousValue" and refuses it).
    if (name === '' && value.includes('=')) return 'Chromium: a nameless cookie whose value holds "="';
    if (expiry !== undefined) {
      expiry.invalidUtf8 = octets && !(isUtf8Octets(name) && isUtf8Octets(value));
      // Chromium keeps such a cookie's octets as they came and sends them back unchanged.
      if (expiry.invalidUtf8) expiry.pairOctets = name === '' ? value : `${name}=${value}`;
    }
  }
  // One literal (one object shape for both forms); octets are decoded in place.
  const cookie: ParsedSetCookie = { name, value, secure: false, httpOnly: false, partitioned: false };
  if (octets) {
    cookie.name = decodeOctets(name);
    cookie.value = decodeOctets(value);
  }
  let maxAge: number | undefined;
  let expiresMs = Number.NaN;
  // The unparsed-attributes, one cookie-av at a time.
  let pos = semi;
  // The next '=' at or after the current attribute; it only moves forward, so the scan stays linear.
  let nextEq = -1;
  while (pos < len) {
    let start = pos + 1;
    let end = line.indexOf(';', start);
    if (end === -1) end = len;
    pos = end;
    if (nextEq < start && nextEq !== len) {
      nextEq = line.indexOf('=', start);
      if (nextEq === -1) nextEq = len;
    }
    // The attribute-name is line[start, nameEnd), the attribute-value line[valueStart, end), both trimmed.
    let nameEnd: number;
    let valueStart: number;
    if (nextEq >= end) {
      nameEnd = end;
      valueStart = end;
    } else {
      nameEnd = nextEq;
      valueStart = nextEq + 1;
      while (valueStart < end && isWsp(line.charCodeAt(valueStart))) valueStart++;
      while (end > valueStart && isWsp(line.charCodeAt(end - 1))) end--;
    }
    while (start < nameEnd && isWsp(line.charCodeAt(start))) start++;
    while (nameEnd > start && isWsp(line.charCodeAt(nameEnd - 1))) nameEnd--;
    // Step 6: oversized attribute values are ignored.
    const valueLength = end - valueStart;
    if (
      valueLength > MAX_ATTRIBUTE_VALUE_BYTES / 3 &&
      (octets ? valueLength : utf8Length(line.slice(valueStart, end))) > MAX_ATTRIBUTE_VALUE_BYTES
    ) {
      continue;
    }
    // Step 7: attribute names are case-insensitive; unknown ones are ignored.
    const nameLength = nameEnd - start;
    if (nameLength < 4 || nameLength > 11) continue;
    switch (attributeOf(line.slice(start, nameEnd))) {
      case PATH: {
        // 5.6.4: an empty or relative path means the default-path; the last Path attribute wins.
        const p = octets ? decodeOctets(line.slice(valueStart, end)) : line.slice(valueStart, end);
        cookie.path = p.charCodeAt(0) === 0x2f ? p : undefined;
        break;
      }
      case DOMAIN: {
        // 5.6.3: strip one leading '.', lower-case. An empty last Domain means host-only (5.7 step 7).
        const v = octets ? decodeOctets(line.slice(valueStart, end)) : line.slice(valueStart, end);
        const d = v.charCodeAt(0) === 0x2e ? v.slice(1) : v;
        // Chromium refuses `Domain=.` (its canonical form is no host); the jar's profile needs to see it.
        cookie.domain = d !== '' ? d.toLowerCase() : chromium && v !== '' ? '.' : undefined;
        break;
      }
      case SECURE:
        cookie.secure = true;
        break;
      case EXPIRES: {
        // 5.6.1: an unparsable date ignores the cookie-av.
        if (chromium) {
          // Chromium: the last Expires attribute, parsed or not (`ParsedCookie::SetupAttributes`).
          expiresMs = chromiumCookieDateMs(line, valueStart, end);
          break;
        }
        const ms = cookieDateMs(line, valueStart, end);
        if (!Number.isNaN(ms)) expiresMs = ms;
        break;
      }
      case MAX_AGE: {
        if (chromium) {
          // Chromium: the last Max-Age attribute; NaN (no number) falls back to Expires.
          maxAge = chromiumMaxAge(line, valueStart, end);
          break;
        }
        const n = parseMaxAge(line, valueStart, end);
        if (n !== undefined) maxAge = n;
        break;
      }
      case HTTP_ONLY:
        cookie.httpOnly = true;
        break;
      case SAME_SITE:
        // 5.6.7: the last SameSite attribute wins; an unknown value is "Default".
        cookie.sameSite = sameSiteOf(line.slice(valueStart, end));
        break;
      case PRIORITY:
        cookie.priority = priorityOf(line.slice(valueStart, end));
        break;
      case PARTITIONED:
        cookie.partitioned = true;
        break;
    }
  }
  if (chromium && Number.isNaN(maxAge)) maxAge = undefined;
  // 5.7 step 6: Max-Age over Expires, each capped at 400 days (5.5).
  if (maxAge !== undefined || !Number.isNaN(expiresMs)) {
    const nowMs = toMs(options?.now);
    let at: number;
    if (maxAge !== undefined) {
      if (expiry === undefined) cookie.maxAge = maxAge;
      at = maxAge <= 0 ? EARLIEST_DATE_MS : nowMs + Math.min(maxAge, MAX_COOKIE_AGE_SECONDS) * 1000;
    } else {
      at = Math.min(expiresMs, nowMs + MAX_COOKIE_AGE_SECONDS * 1000);
    }
    if (expiry !== undefined) {
      expiry.at = at;
      return cookie;
    }
    if (!Number.isNaN(expiresMs)) cookie.expires = new Date(expiresMs);
    cookie.expiresAt = at;
  } else if (expiry !== undefined) {
    expiry.at = Number.POSITIVE_INFINITY;
  }
  return cookie;
}

/** Where {@link parseSetCookieInternal} puts the effective expiry. @internal */
export interface Expiry {
  /** Epoch ms; +Infinity for a session cookie. */
  at: number;
  /** Chromium mode with octets: the name or value octets are not valid UTF-8. */
  invalidUtf8: boolean;
  /** When `invalidUtf8`: the cookie's pair as it comes in the Cookie header, in octets (`name=value`, or the bare value). */
  pairOctets: string;
}

/**
 * {@link parseSetCookieDetailed} for the jar, which reads the effective expiry as a number: the cookie
 * without `expiresAt`, `expires` and `maxAge` (no Date built), its expiry in `expiry.at`, or the reason
 * it is ignored. @internal
 */
export function parseSetCookieInternal(
  line: string,
  options: ParseSetCookieOptions,
  expiry: Expiry,
  chromium: boolean,
): ParsedSetCookie | string {
  return parse(line, options, expiry, chromium);
}

/**
 * Parses one Set-Cookie field value (RFC 6265bis 5.6) and says why when a user agent would ignore it.
 * Never throws.
 */
export function parseSetCookieDetailed(line: string, options?: ParseSetCookieOptions): SetCookieParseResult {
  const result = parse(line, options, undefined);
  return typeof result === 'string' ? { ok: false, reason: result } : { ok: true, cookie: result };
}

/**
 * Parses one Set-Cookie field value as a user agent does (RFC 6265bis 5.6). Returns undefined when
 * the RFC says to ignore the line; {@link parseSetCookieDetailed} says why. Never throws.
 */
export function parseSetCookie(line: string, options?: ParseSetCookieOptions): ParsedSetCookie | undefined {
  const result = parse(line, options, undefined);
  return typeof result === 'string' ? undefined : result;
}
