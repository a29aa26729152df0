/**
 * The cookie-date algorithm of RFC 6265bis section 5.1.1, which every user agent uses to read the
 * Expires attribute. It is far more lenient than IMF-fixdate: it finds a time, a day of month, a
 * month and a year among delimiter-separated tokens, in any order.
 *
 * Real Expires values are nearly all IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) or its dashed
 * variant (`Sun, 06-Nov-1994 08:49:37 GMT`), a few what `Date.prototype.toString` writes: {@link fixdateMs}
 * and {@link ctimeMs} read those shapes at fixed positions and give way to the token algorithm for
 * anything else (property tests check they agree).
 */

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

/** An ASCII letter? */
function isLetter(c: number): boolean {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
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

/**
 * The month named by the three characters at text[start]: 0-11, or -1. Case-insensitive: OR-ing 0x20
 * lower-cases A-Z, and no other ASCII character lands on a-z that way.
 */
function monthAt(text: string, start: number): number {
  const a = text.charCodeAt(start) | 0x20;
  const b = text.charCodeAt(start + 1) | 0x20;
  const c = text.charCodeAt(start + 2) | 0x20;
  // A character past ASCII would spill into its neighbour's byte (`h\u0261n` packs as `jan`).
  if ((a | b | c) > 0x7f) return -1;
  return monthOf((a << 16) | (b << 8) | c);
}

/** The month three lower-case ASCII letters packed in one number name (`jan` is 0x6a616e): 0-11, or -1. */
function monthOf(packed: number): number {
  switch (packed) {
    case 0x6a616e: // jan
      return 0;
    case 0x666562: // feb
      return 1;
    case 0x6d6172: // mar
      return 2;
    case 0x617072: // apr
      return 3;
    case 0x6d6179: // may
      return 4;
    case 0x6a756e: // jun
      return 5;
    case 0x6a756c: // jul
      return 6;
    case 0x617567: // aug
      return 7;
    case 0x736570: // sep
      return 8;
    case 0x6f6374: // oct
      return 9;
    case 0x6e6f76: // nov
      return 10;
    case 0x646563: // dec
      return 11;
    default:
      return -1;
  }
}

/** `month = ( "jan" / ... / "dec" ) *OCTET` on text[start, end): 0-11, or -1. */
function parseMonth(text: string, start: number, end: number): number {
  return end - start < 3 ? -1 : monthAt(text, start);
}

/**
 * Steps 3-6 on the values found: the two-digit year rule, the ranges, and the date must exist. Epoch
 * ms, or NaN. A value not found is -1.
 */
function compose(
  hour: number,
  minute: number,
  second: number,
  day: number,
  month: number,
  year: number,
): number {
  // Steps 3 and 4: two-digit years.
  if (year >= 70 && year <= 99) year += 1900;
  else if (year >= 0 && year <= 69) year += 2000;
  // Step 5.
  if (hour === -1 || day === -1 || month === -1 || year === -1) return Number.NaN;
  if (day < 1 || day > 31 || year < 1601) return Number.NaN;
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  // Step 6: the date must exist.
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 1 && leap ? 29 : (DAYS_IN_MONTH[month] as number))) return Number.NaN;
  return (daysFromCivil(year, month + 1, day) * 86400 + hour * 3600 + minute * 60 + second) * 1000;
}

/**
 * Days from 1970-01-01 to a date of the proleptic Gregorian calendar (month 1-12), for the years 1601
 * and up that reach here: what `Date.UTC` gives, without its call into the runtime (H. Hinnant's
 * days_from_civil).
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = (y / 400) | 0;
  const yearOfEra = y - era * 400;
  const dayOfYear = (((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) | 0) + day - 1;
  const dayOfEra = yearOfEra * 365 + ((yearOfEra / 4) | 0) - ((yearOfEra / 100) | 0) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** Character classes for the fixed-position readings (ASCII only: every class they want is ASCII). */
const LETTER = 1;
const DELIMITER = 2;
const DIGIT = 4;
const COLON = 8;

/** The class bits of each ASCII character; a character from U+0080 up has none. */
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  CLASS[c] =
    (isLetter(c) ? LETTER : 0) |
    (isDelimiter(c) ? DELIMITER : 0) |
    (isDigit(c) ? DIGIT : 0) |
    (c === 0x3a ? COLON : 0);
}

/** A shape written with `L` (letter), `_` (delimiter), `9` (digit) and `:` as the class each position wants. */
function shapeOf(pattern: string): Uint8Array {
  const wants: Record<string, number> = { L: LETTER, _: DELIMITER, '9': DIGIT, ':': COLON };
  return Uint8Array.from(pattern, (c) => wants[c] as number);
}

/** IMF-fixdate and its dashed variant: `Www,_DD_Mmm_YYYY_HH:MM:SS`. */
const FIXDATE = shapeOf('LLL__99_LLL_9999_99:99:99');
/** What `Date.prototype.toString` writes (some servers send it): `Www_Mmm_DD_YYYY_HH:MM:SS`. */
const CTIME = shapeOf('LLL_LLL_99_9999_99:99:99');

/**
 * text[start, end) read against `shape` at fixed positions, then the end or a delimiter and anything:
 * epoch ms, or NaN for any other text (and for a date that does not exist). The first three letters
 * must name no month (they are the weekday) and the second three a month; the twelve digits are the
 * day, the year and the time, in that order, in both shapes. One loop over a table keeps the machine
 * code small (this runs on nearly every Expires value).
 */
function shapeMs(text: string, start: number, end: number, shape: Uint8Array): number {
  const n = shape.length;
  if (end - start < n) return Number.NaN;
  if (end - start > n) {
    const c = text.charCodeAt(start + n);
    if (c > 0x7f || ((CLASS[c] as number) & DELIMITER) === 0) return Number.NaN;
  }
  let weekday = 0;
  let month = 0;
  let letters = 0;
  let date = 0;
  let time = 0;
  let digits = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(start + i);
    const want = shape[i] as number;
    if (c > 0x7f || ((CLASS[c] as number) & want) === 0) return Number.NaN;
    if (want === DIGIT) {
      if (digits < 6) date = date * 10 + (c - 0x30);
      else time = time * 10 + (c - 0x30);
      digits++;
    } else if (want === LETTER) {
      if (letters < 3) weekday = (weekday << 8) | (c | 0x20);
      else month = (month << 8) | (c | 0x20);
      letters++;
    }
  }
  if (monthOf(weekday) !== -1) return Number.NaN;
  const m = monthOf(month);
  if (m === -1) return Number.NaN;
  const day = (date / 10000) | 0;
  const hour = (time / 10000) | 0;
  const minute = ((time / 100) | 0) % 100;
  return compose(hour, minute, time % 100, day, m, date % 10000);
}

/**
 * The common shape at fixed positions: `Www,_DD_Mmm_YYYY_HH:MM:SS` (each `_` any delimiter, `Www` three
 * letters that name no month), then the end or a delimiter and anything. Epoch ms, or NaN for any
 * other text (and for a date that does not exist), which the token algorithm then reads.
 *
 * The token algorithm reads the same: `Www` is no time, day, month or year; `DD` is no time (no `:`)
 * and is the day; `Mmm` is the month; `YYYY` is no time and too long for a day, so the year;
 * `HH:MM:SS` the time. Everything after is ignored once all four are found.
 */
function fixdateMs(text: string, start: number, end: number): number {
  return shapeMs(text, start, end, FIXDATE);
}

/**
 * `Www_Mmm_DD_YYYY_HH:MM:SS` at fixed positions (`Sat Jul 24 2027 22:30:27 GMT+0000 (…)`), as
 * {@link fixdateMs} reads its shape. The token algorithm reads the same: `Www` is nothing, `Mmm` the
 * month, `DD` no time so the day, `YYYY` too long for a day so the year, then the time; all four
 * found, the rest is ignored.
 */
function ctimeMs(text: string, start: number, end: number): number {
  return shapeMs(text, start, end, CTIME);
}

/** The token algorithm (5.1.1 steps 1-2) on text[start, end), then {@link compose}: epoch ms or NaN. */
function tokensMs(text: string, start: number, end: number): number {
  let time = -1;
  let day = -1;
  let month = -1;
  let year = -1;
  let i = start;
  // Once all four are found no later token can change them (each sub-step wants its field not found yet).
  while (i < end && (time === -1 || day === -1 || month === -1 || year === -1)) {
    while (i < end && isDelimiter(text.charCodeAt(i))) i++;
    const tokenStart = i;
    while (i < end && !isDelimiter(text.charCodeAt(i))) i++;
    if (i === tokenStart) break;
    // Step 2, sub-steps 1-4 in order: the first production not yet found that matches takes the token.
    if (time === -1) {
      const t = parseTime(text, tokenStart, i);
      if (t !== -1) {
        time = t;
        continue;
      }
    }
    if (day === -1) {
      const d = leadingNumber(text, tokenStart, i, 1, 2);
      if (d !== -1) {
        day = d;
        continue;
      }
    }
    if (month === -1) {
      const m = parseMonth(text, tokenStart, i);
      if (m !== -1) {
        month = m;
        continue;
      }
    }
    if (year === -1) {
      const y = leadingNumber(text, tokenStart, i, 2, 4);
      if (y !== -1) year = y;
    }
  }
  if (time === -1) return Number.NaN;
  return compose(Math.floor(time / 10000), Math.floor(time / 100) % 100, time % 100, day, month, year);
}

/**
 * The cookie-date algorithm on text[start, end) (the codec reads an Expires value where it lies in
 * the line): epoch ms, or NaN when the text does not parse or names a date that does not exist.
 * @internal
 */
export function cookieDateMs(text: string, start: number, end: number): number {
  let ms = fixdateMs(text, start, end);
  if (Number.isNaN(ms)) ms = ctimeMs(text, start, end);
  return Number.isNaN(ms) ? tokensMs(text, start, end) : ms;
}

/**
 * Chromium's delimiters for its Expires tokenizer (`kDelimiters` of `ParseCookieExpirationTime`,
 * net/cookies/cookie_util.cc): HTAB, SP and the ASCII punctuation except `:`. Letters, digits, `:`
 * and every character above U+007E are token characters.
 */
function isChromiumDelimiter(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c <= 0x7e && c !== 0x3a && !isDigit(c) && !isLetter(c));
}

/** Three ASCII characters at text[start] (so {@link monthAt}'s packing cannot mistake others for a month). */
function isAscii3(text: string, start: number): boolean {
  return (text.charCodeAt(start) | text.charCodeAt(start + 1) | text.charCodeAt(start + 2)) < 0x80;
}

/** C's `atoi` on the leading digits of text[start, end) (a Chromium numeric token starts with one). */
function atoi(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end && isDigit(text.charCodeAt(i)); i++) n = n * 10 + (text.charCodeAt(i) - 0x30);
  return n;
}

/**
 * Chromium's time token on text[start, end): three fields of one or two digits separated by `:`, and
 * nothing after the third field: h*10000 + m*100 + s, or -1. Its source reads the token with
 * `sscanf(token, "%2u:%2u:%2u")`, which would ignore a suffix, but Chromium 156 ignores the whole date
 * when the time holds one (`00:00:00Z`: a session cookie, measured by the differential run of issue 18),
 * so the token must end after the seconds.
 */
function chromiumTime(text: string, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x3a && !isDigit(c)) return -1;
  }
  return parseTime(text, start, end);
}

/**
 * Chromium's Expires parser (`cookie_util::ParseCookieExpirationTime`, net/cookies/cookie_util.cc), for
 * the jar's `profile: 'chromium'`: epoch ms, or NaN when Chromium ignores the date. It is not the
 * RFC 6265bis 5.1.1 algorithm:
 * - a token starting with a letter is the month when it begins with a month's three letters (case
 *   aside), any later one is ignored;
 * - a token starting with a digit and holding a `:` is the time when it is three fields of one or two
 *   digits and nothing else (so `00:00:00Z` is no time: see {@link chromiumTime}), never a day or a year;
 * - any other token starting with a digit is the day when no day was found and it has at most 2
 *   characters (so `6th` is no day), else the year when no year was found and it has at most 5
 *   characters (`12abc` is the year 12), read by `atoi`;
 * - years 70-99 gain 1900, years 0-69 gain 2000 (a one-digit year is one of them);
 * - the date must exist (`base::Time::FromUTCExploded` round-trips it: no 31 April, no second 60),
 *   but any year is taken: before 1601 is a date in the past, where RFC 6265bis ignores the attribute.
 * @internal
 */
export function chromiumCookieDateMs(text: string, start: number, end: number): number {
  let time = -1;
  let day = -1;
  let month = -1;
  let year = -1;
  let i = start;
  while (i < end) {
    while (i < end && isChromiumDelimiter(text.charCodeAt(i))) i++;
    const tokenStart = i;
    while (i < end && !isChromiumDelimiter(text.charCodeAt(i))) i++;
    if (i === tokenStart) break;
    if (!isDigit(text.charCodeAt(tokenStart))) {
      if (month === -1 && i - tokenStart >= 3 && isAscii3(text, tokenStart))
        month = monthAt(text, tokenStart);
      continue;
    }
    const length = i - tokenStart;
    const colon = text.indexOf(':', tokenStart);
    if (colon !== -1 && colon < i) {
      if (time === -1) time = chromiumTime(text, tokenStart, i);
    } else if (day === -1 && length <= 2) {
      day = atoi(text, tokenStart, i);
    } else if (year === -1 && length <= 5) {
      year = atoi(text, tokenStart, i);
    }
  }
  if (time === -1 || day === -1 || month === -1 || year === -1) return Number.NaN;
  if (year >= 70 && year <= 99) year += 1900;
  else if (year <= 69) year += 2000;
  const hour = Math.floor(time / 10000);
  const minute = Math.floor(time / 100) % 100;
  const second = time % 100;
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 1 && leap ? 29 : (DAYS_IN_MONTH[month] as number))) return Number.NaN;
  return (daysFromCivil(year, month + 1, day) * 86400 + hour * 3600 + minute * 60 + second) * 1000;
}

/** The two readings apart, for the property test that checks they agree. @internal */
export const cookieDateReadings = { fixdateMs, ctimeMs, tokensMs };

/**
 * Parses a cookie-date (RFC 6265bis section 5.1.1). Returns undefined when the text does not parse
 * or names a date that does not exist (31 April, 29 February 2025, a year before 1601, 24:00:00).
 */
export function parseCookieDate(text: string): Date | undefined {
  if (typeof text !== 'string') return undefined;
  const ms = cookieDateMs(text, 0, text.length);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
