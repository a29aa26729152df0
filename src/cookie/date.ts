/**
 * The cookie-date algorithm of RFC 6265bis section 5.1.1, which every user agent uses to read the
 * Expires attribute. It is far more lenient than IMF-fixdate: it finds a time, a day of month, a
 * month and a year among delimiter-separated tokens, in any order.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

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
 * Reads 1..maxDigits leading digits of `token`, then requires the end of the token or a non-digit
 * (which the grammar lets any octets follow). Returns -1 when the token does not match.
 */
function leadingNumber(token: string, minDigits: number, maxDigits: number): number {
  let n = 0;
  let i = 0;
  while (i < token.length && isDigit(token.charCodeAt(i))) {
    if (i === maxDigits) return -1;
    n = n * 10 + (token.charCodeAt(i) - 0x30);
    i++;
  }
  return i < minDigits ? -1 : n;
}

/** time = hms-time [ non-digit *OCTET ]; hms-time = time-field ":" time-field ":" time-field. */
function parseTime(token: string): [number, number, number] | undefined {
  const out: number[] = [];
  let i = 0;
  for (let field = 0; field < 3; field++) {
    const start = i;
    let n = 0;
    while (i < token.length && isDigit(token.charCodeAt(i)) && i - start < 2) {
      n = n * 10 + (token.charCodeAt(i) - 0x30);
      i++;
    }
    if (i === start) return undefined;
    out.push(n);
    if (field < 2) {
      if (token.charCodeAt(i) !== 0x3a) return undefined;
      i++;
    }
  }
  // After the third field: the end, or a non-digit followed by anything.
  if (i < token.length && isDigit(token.charCodeAt(i))) return undefined;
  return out as [number, number, number];
}

function parseMonth(token: string): number {
  if (token.length < 3) return -1;
  return MONTHS.indexOf(token.slice(0, 3).toLowerCase());
}

/**
 * Parses a cookie-date (RFC 6265bis section 5.1.1). Returns undefined when the text does not parse
 * or names a date that does not exist (31 February, a year before 1601, 24:00:00, ...).
 */
export function parseCookieDate(text: string): Date | undefined {
  let time: [number, number, number] | undefined;
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
    const token = text.slice(start, i);
    // 5.1.1 step 2, sub-steps 1-4, in order; the first production that matches consumes the token.
    if (time === undefined) {
      const t = parseTime(token);
      if (t !== undefined) {
        time = t;
        continue;
      }
    }
    if (day === -1) {
      const d = leadingNumber(token, 1, 2);
      if (d !== -1) {
        day = d;
        continue;
      }
    }
    if (month === -1) {
      const m = parseMonth(token);
      if (m !== -1) {
        month = m;
        continue;
      }
    }
    if (year === -1) {
      const y = leadingNumber(token, 2, 4);
      if (y !== -1) year = y;
    }
  }
  // Steps 3 and 4: two-digit years.
  if (year >= 70 && year <= 99) year += 1900;
  else if (year >= 0 && year <= 69) year += 2000;
  // Step 5.
  if (time === undefined || day === -1 || month === -1 || year === -1) return undefined;
  if (day < 1 || day > 31 || year < 1601) return undefined;
  const [hour, minute, second] = time;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  // Step 6: the date must exist (no 31 April).
  const ms = Date.UTC(year, month, day, hour, minute, second);
  const date = new Date(ms);
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month) return undefined;
  return date;
}
