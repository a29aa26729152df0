/**
 * The Cookie request header (RFC 6265bis section 4.2): parsing on the server's side, writing on the
 * user agent's side.
 */

export interface ParseCookieOptions {
  /**
   * Decodes each value. The default percent-decodes values that contain `%` and keeps the raw value
   * when an escape is malformed. Pass `(v) => v` for the literal values the RFC describes.
   * @default decodeURIComponent, keeping the raw value on error
   */
  decode?: (value: string) => string;
}

function defaultDecode(value: string): string {
  if (value.indexOf('%') === -1) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * A constructor whose instances have no prototype chain to pollute. `new NullRecord()` keeps V8's
 * fast properties, where `Object.create(null)` starts in slow dictionary mode.
 */
const NullRecord = (() => {
  const C = function NullRecord() {} as unknown as new () => Record<string, string>;
  C.prototype = Object.create(null);
  return C;
})();

/** header[start, end) without leading and trailing SP and HTAB: never U+00A0 or other Unicode spaces. */
function sliceTrimmed(header: string, start: number, end: number): string {
  while (start < end) {
    const c = header.charCodeAt(start);
    if (c !== 0x20 && c !== 0x09) break;
    start++;
  }
  while (end > start) {
    const c = header.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0x09) break;
    end--;
  }
  return header.slice(start, end);
}

/**
 * Parses a Cookie request header into a prototype-less record of name -> value. Never throws:
 * pairs without `=` or with an empty name are skipped, the first of duplicate names wins (the most
 * specific path comes first, 5.8.3), only SP and HTAB are trimmed (so "\u00a0__Host-x" cannot shadow
 * "__Host-x"). Linear in the header's length. Several Cookie headers may be joined with `; ` first
 * (RFC 6265bis 4.2.1).
 */
export function parseCookie(
  header: string | undefined | null,
  options?: ParseCookieOptions,
): Record<string, string> {
  const out = new NullRecord();
  if (typeof header !== 'string') return out;
  const decode = options?.decode;
  const len = header.length;
  let pos = 0;
  while (pos < len) {
    const eq = header.indexOf('=', pos);
    if (eq === -1) break; // no further pair can have a name
    let end = header.indexOf(';', pos);
    if (end === -1) end = len;
    if (eq > end) {
      // This pair has no '='; jump to the pair that holds the '=' found (keeps the scan linear).
      pos = header.lastIndexOf(';', eq - 1) + 1;
      continue;
    }
    const name = sliceTrimmed(header, pos, eq);
    if (name !== '' && out[name] === undefined) {
      const value = sliceTrimmed(header, eq + 1, end);
      out[name] =
        decode !== undefined ? decode(value) : value.indexOf('%') === -1 ? value : defaultDecode(value);
    }
    pos = end + 1;
  }
  return out;
}

/**
 * Writes a Cookie request header from pairs, in the given order (RFC 6265bis 5.8.3 step 4): `a=1; b=2`.
 * A nameless cookie is written as its bare value.
 */
export function serializeCookieHeader(pairs: Iterable<{ name: string; value: string }>): string {
  let out = '';
  for (const { name, value } of pairs) {
    if (out !== '') out += '; ';
    out += name === '' ? value : `${name}=${value}`;
  }
  return out;
}
