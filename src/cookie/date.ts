/**
 * The cookie-date algorithm of RFC 6265bis section 5.1.1, which every user agent uses to read the
 * Expires attribute. It is far more lenient than IMF-fixdate: it finds a time, a day of month, a
 * month and a year among delimiter-separated tokens, in any order.
 */

/** "jan".."dec" packed as three lower-case char codes -> month index. */
const MONTHS = new Map(
  ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map((m, i) => [
    (m.charCodeAt(0) << 16) | (m.charCodeAt(1) << 8) | m.charCodeAt(2),
    i,
  ]),
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
  // OR-ing 0x20 lower-cases A-Z; no other octet lands on a-z that way.
  const key =
    ((text.charCodeAt(start) | 0x20) << 16) |
    ((text.charCodeAt(start + 1) | 0x20) << 8) |
    (text.charCodeAt(start + 2) | 0x20);
  return MONTHS.get(key) ?? -1;
}

/**
 * Parses a cookie-date (RFC 6265bis section 5.1.1). Returns undefined when the text does not parse
 * or names a date that does not exist (31 April, 29 February 2025, a year before 1601, 24:00:00).
 */
export function parseCookieDate(text: string): Date | undefined {
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
