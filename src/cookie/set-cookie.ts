/**
 * Parsing of the Set-Cookie header field as a user agent does it: RFC 6265bis section 5.6, step by
 * step, plus the cookie-intrinsic checks of the storage model (5.7 steps 2-4). What depends on the
 * request (default-path, domain-match, Secure origins, prefixes) is the jar's business.
 */
import { parseCookieDate } from './date.js';
import { decodeOctets, utf8Length } from './utf8.js';

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
   */
  expiresAt?: Date;
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

/** 5.6.2 steps 1-3: the Max-Age value in seconds, or undefined when the cookie-av must be ignored. */
function parseMaxAge(value: string): number | undefined {
  const negative = value.charCodeAt(0) === 0x2d;
  const first = negative ? 1 : 0;
  if (value.length === first) return undefined;
  for (let j = first; j < value.length; j++) {
    const c = value.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  const n = Number(value.slice(first));
  return negative ? -n : n;
}

/**
 * Parses one Set-Cookie field value (RFC 6265bis 5.6) and says why when a user agent would ignore it.
 * Never throws.
 */
export function parseSetCookieDetailed(line: string, options?: ParseSetCookieOptions): SetCookieParseResult {
  if (typeof line !== 'string') return { ok: false, reason: 'the Set-Cookie value is not a string' };
  const octets = options?.octets === true;
  if (octets && NOT_OCTET.test(line)) {
    return { ok: false, reason: 'the Set-Cookie value is not header octets: a character is above U+00FF' };
  }
  // 5.6 step 1.
  if (CTL.test(line)) {
    return { ok: false, reason: 'RFC 6265bis 5.6 step 1: the line contains a control character' };
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
    return { ok: false, reason: 'RFC 6265bis 5.7 step 2: the cookie-name and cookie-value are both empty' };
  }
  // Step 5 (and 5.7 step 4). Text is at most 3 octets per UTF-16 unit; octets are 1 each.
  const nvLength = name.length + value.length;
  if (
    nvLength > MAX_NAME_VALUE_BYTES / 3 &&
    (nvLength > MAX_NAME_VALUE_BYTES ||
      (!octets && utf8Length(name) + utf8Length(value) > MAX_NAME_VALUE_BYTES))
  ) {
    return {
      ok: false,
      reason: `RFC 6265bis 5.6 step 5: the cookie-name and cookie-value are longer than ${MAX_NAME_VALUE_BYTES} octets`,
    };
  }
  // One literal (one object shape for both forms); octets are decoded in place.
  const cookie: ParsedSetCookie = { name, value, secure: false, httpOnly: false, partitioned: false };
  if (octets) {
    cookie.name = decodeOctets(name);
    cookie.value = decodeOctets(value);
  }
  let maxAge: number | undefined;
  let expires: Date | undefined;
  // The unparsed-attributes, one cookie-av at a time.
  let pos = semi;
  // The next '=' at or after the current attribute; it only moves forward, so the scan stays linear.
  let nextEq = -1;
  while (pos < len) {
    const start = pos + 1;
    let end = line.indexOf(';', start);
    if (end === -1) end = len;
    pos = end;
    if (nextEq < start && nextEq !== len) {
      nextEq = line.indexOf('=', start);
      if (nextEq === -1) nextEq = len;
    }
    const avEq = nextEq;
    let attrName: string;
    let attrValue: string;
    if (avEq >= end) {
      attrName = trimmed(line, start, end);
      attrValue = '';
    } else {
      attrName = trimmed(line, start, avEq);
      attrValue = trimmed(line, avEq + 1, end);
    }
    // Step 6: oversized attribute values are ignored.
    if (
      attrValue.length > MAX_ATTRIBUTE_VALUE_BYTES / 3 &&
      (octets ? attrValue.length : utf8Length(attrValue)) > MAX_ATTRIBUTE_VALUE_BYTES
    ) {
      continue;
    }
    // Step 7: attribute names are case-insensitive; unknown ones are ignored.
    switch (attrName.length) {
      case 4:
        // 5.6.4: an empty or relative path means the default-path; the last Path attribute wins.
        if (attrName.toLowerCase() === 'path') {
          const p = octets ? decodeOctets(attrValue) : attrValue;
          cookie.path = p.charCodeAt(0) === 0x2f ? p : undefined;
        }
        break;
      case 6:
        if (attrName.toLowerCase() === 'domain') {
          // 5.6.3: strip one leading '.', lower-case. An empty last Domain means host-only (5.7 step 7).
          const v = octets ? decodeOctets(attrValue) : attrValue;
          const d = v.charCodeAt(0) === 0x2e ? v.slice(1) : v;
          cookie.domain = d === '' ? undefined : d.toLowerCase();
        } else if (attrName.toLowerCase() === 'secure') {
          cookie.secure = true;
        }
        break;
      case 7:
        if (attrName.toLowerCase() === 'expires') {
          // 5.6.1: an unparsable date ignores the cookie-av.
          const d = parseCookieDate(attrValue);
          if (d !== undefined) expires = d;
        } else if (attrName.toLowerCase() === 'max-age') {
          const n = parseMaxAge(attrValue);
          if (n !== undefined) maxAge = n;
        }
        break;
      case 8:
        if (attrName.toLowerCase() === 'httponly') {
          cookie.httpOnly = true;
        } else if (attrName.toLowerCase() === 'samesite') {
          // 5.6.7: the last SameSite attribute wins; an unknown value is "Default".
          const v = attrValue.toLowerCase();
          cookie.sameSite =
            v === 'lax' ? 'Lax' : v === 'strict' ? 'Strict' : v === 'none' ? 'None' : undefined;
        } else if (attrName.toLowerCase() === 'priority') {
          const v = attrValue.toLowerCase();
          cookie.priority =
            v === 'low' ? 'Low' : v === 'medium' ? 'Medium' : v === 'high' ? 'High' : undefined;
        }
        break;
      case 11:
        if (attrName.toLowerCase() === 'partitioned') cookie.partitioned = true;
        break;
    }
  }
  // 5.7 step 6: Max-Age over Expires, each capped at 400 days (5.5).
  if (maxAge !== undefined || expires !== undefined) {
    const nowMs = toMs(options?.now);
    const limitMs = nowMs + MAX_COOKIE_AGE_SECONDS * 1000;
    let at: number;
    if (maxAge !== undefined) {
      cookie.maxAge = maxAge;
      at = maxAge <= 0 ? EARLIEST_DATE_MS : nowMs + Math.min(maxAge, MAX_COOKIE_AGE_SECONDS) * 1000;
    } else {
      at = Math.min(expires!.getTime(), limitMs);
    }
    if (expires !== undefined) cookie.expires = expires;
    cookie.expiresAt = new Date(at);
  }
  return { ok: true, cookie };
}

/**
 * Parses one Set-Cookie field value as a user agent does (RFC 6265bis 5.6). Returns undefined when
 * the RFC says to ignore the line; {@link parseSetCookieDetailed} says why. Never throws.
 */
export function parseSetCookie(line: string, options?: ParseSetCookieOptions): ParsedSetCookie | undefined {
  const result = parseSetCookieDetailed(line, options);
  return result.ok ? result.cookie : undefined;
}
