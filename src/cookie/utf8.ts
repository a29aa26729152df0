/**
 * UTF-8 helpers: the length of a string's UTF-8 without allocating, and the header octet form (one
 * character per octet) that Node's `fetch` and `node:http` use for header values.
 */
import { Buffer, isUtf8 } from 'node:buffer';

/** The UTF-8 length of a string in octets, without allocating. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      // A surrogate pair: 2 UTF-16 units, 4 octets.
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2;
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/** Any character from U+0080 up? (Such a string differs from its octet form.) */
function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return true;
  return false;
}

/**
 * Header octets (one character per octet, U+0000-U+00FF) decoded as UTF-8: what the octets say. An
 * invalid sequence becomes U+FFFD and a BOM stays (the Encoding Standard's UTF-8 decode without BOM).
 */
export function decodeOctets(octets: string): string {
  return hasNonAscii(octets) ? Buffer.from(octets, 'latin1').toString('utf8') : octets;
}

/** `text` as header octets: its UTF-8, one character per octet (what `fetch` sends for a header value). */
export function encodeOctets(text: string): string {
  return hasNonAscii(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

/** Are header octets (one character per octet) valid UTF-8? (The jar's Chromium profile asks.) */
export function isUtf8Octets(octets: string): boolean {
  return !hasNonAscii(octets) || isUtf8(Buffer.from(octets, 'latin1'));
}
