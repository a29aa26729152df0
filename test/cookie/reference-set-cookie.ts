/**
 * The Set-Cookie parser and cookie-date algorithm as they were before issue 12 made them fast: RFC
 * 6265bis 5.6 and 5.1.1 transcribed step by step, each attribute sliced out and lower-cased, each
 * date read token by token. Kept as the oracle the property tests hold the fast parser to
 * (test/cookie/fast-path.test.ts); not part of the package.
 */
import {
  EARLIEST_DATE_MS,
  MAX_ATTRIBUTE_VALUE_BYTES,
  MAX_COOKIE_AGE_SECONDS,
  MAX_NAME_VALUE_BYTES,
  type ParsedSetCookie,
  type ParseSetCookieOptions,
  type SetCookieParseResult,
} from '../../src/cookie/index.js';
import { decodeOctets, utf8Length } from '../../src/cookie/utf8.js';

/** "jan".."dec" -> month index. */
const MONTHS = new Map(
  ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map((m, i) => [m, i]),
);

/** Days per month in a non-leap year. */
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** 5.1.1 step 1: delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E. */
function isDelimiter(c: number): boolean {
  return (
    c === 0x09 ||
    (c >= 0x20 && c <= 0x2f) ||
    (c >= 0x3b && c <= 0x40) ||
    (c >= 0x5b && c <= 0x60) ||
    (c >= 0x7b && c <= 0x7e)
  );
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * `min*maxDIGIT [ non-digit *OCTET ]` on text[start, end): the number, or -1 when the token does not
 * match (too few or too many leading digits).
 */
function leadingNumber(text: string, start: number, end: number, min: number, max: number): number {
  let n = 0;
  let i = start;
  while (i < end && isDigit(text.charCodeAt(i))) {
    if (i - start === max) return -1;
    n = n * 10 + (text.charCodeAt(i) - 0x30);
    i++;
  }
  return i - start < min ? -1 : n;
}

/**
 * `time = hms-time [ non-digit *OCTET ]`, `hms-time = time-field ":" time-field ":" time-field`,
 * `time-field = 1*2DIGIT` on text[start, end): seconds since midnight, or -1 when the token does not
 * match. Each field is returned scaled so the caller can check the ranges: h*10000 + m*100 + s.
 */
function parseTime(text: string, start: number, end: number): number {
  let i = start;
  let packed = 0;
  for (let field = 0; field < 3; field++) {
    const fieldStart = i;
    let n = 0;
    while (i < end && i - fieldStart < 2 && isDigit(text.charCodeAt(i))) {
      n = n * 10 + (text.charCodeAt(i) - 0x30);
      i++;
    }
    if (i === fieldStart) return -1;
    packed = packed * 100 + n;
    if (field < 2) {
      if (i >= end || text.charCodeAt(i) !== 0x3a) return -1;
      i++;
    }
  }
  // After the third field: the end of the token, or a non-digit followed by anything.
  if (i < end && isDigit(text.charCodeAt(i))) return -1;
  return packed;
}

/** `month = ( "jan" / ... / "dec" ) *OCTET` on text[start, end): 0-11, or -1. */
function parseMonth(text: string, start: number, end: number): number {
  if (end - start < 3) return -1;
  // The RFC's case-insensitive match is ASCII only: lower-case A-Z and nothing else.
  const key = text.slice(start, start + 3).replace(/[A-Z]/g, (c) => c.toLowerCase());
  return MONTHS.get(key) ?? -1;
}

/**
 * Parses a cookie-date (RFC 6265bis section 5.1.1). Returns undefined when the text does not parse
 * or names a date that does not exist (31 April, 29 February 2025, a year before 1601, 24:00:00).
 */
export function referenceCookieDate(text: string): Date | undefined {
  if (typeof text !== 'string') return undefined;
  let time = -1;
  let day = -1;
  let month = -1;
  let year = -1;
  const len = text.length;
  let i = 0;
  while (i < len) {
    while (i < len && isDelimiter(text.charCodeAt(i))) i++;
    const start = i;
    while (i < len && !isDelimiter(text.charCodeAt(i))) i++;
    if (i === start) break;
    // Step 2, sub-steps 1-4 in order: the first production not yet found that matches takes the token.
    if (time === -1) {
      const t = parseTime(text, start, i);
      if (t !== -1) {
        time = t;
        continue;
      }
    }
    if (day === -1) {
      const d = leadingNumber(text, start, i, 1, 2);
      if (d !== -1) {
        day = d;
        continue;
      }
    }
    if (month === -1) {
      const m = parseMonth(text, start, i);
      if (m !== -1) {
        month = m;
        continue;
      }
    }
    if (year === -1) {
      const y = leadingNumber(text, start, i, 2, 4);
      if (y !== -1) year = y;
    }
  }
  // Steps 3 and 4: two-digit years.
  if (year >= 70 && year <= 99) year += 1900;
  else if (year >= 0 && year <= 69) year += 2000;
  // Step 5.
  if (time === -1 || day === -1 || month === -1 || year === -1) return undefined;
  if (day < 1 || day > 31 || year < 1601) return undefined;
  const hour = Math.floor(time / 10000);
  const minute = Math.floor(time / 100) % 100;
  const second = time % 100;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  // Step 6: the date must exist.
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 1 && leap ? 29 : (DAYS_IN_MONTH[month] as number))) return undefined;
  return new Date(Date.UTC(year, month, day, hour, minute, second));
}

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
export function referenceParseSetCookie(line: string, options?: ParseSetCookieOptions): SetCookieParseResult {
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
          const d = referenceCookieDate(attrValue);
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
    cookie.expiresAt = at;
  }
  return { ok: true, cookie };
}
