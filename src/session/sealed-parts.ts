/**
 * Sealed sessions past one cookie: a seal too large for one cookie (name and value over 4,096 octets, RFC
 * 6265bis 5.6 step 4) is split across numbered cookies `<name>`, `<name>.1`, `<name>.2`, ... (a prefix such as
 * `__Host-Http-` is on every part's name, so every part keeps its rules).
 *
 * One seal, cut in pieces: the first part's value is `<count>.` followed by the first piece, the others carry
 * the following pieces, and the seal of a split session binds its part count (the associated data is the
 * cookie name, a space, which no cookie name holds, and the count). The pieces are joined in order and opened
 * as one AES-GCM seal, so a part altered, missing, swapped, or taken from another (an earlier) seal fails its
 * tag: the request gets a fresh session, never a mix of two seals. A part beyond the count the first part
 * names is never read (a leftover of a concurrent response, say), and the next response that sets the session
 * deletes it. A one-cookie seal is as before (its value begins with the version's `A`, never a digit), so the
 * ordinary request reads nothing more than it did.
 *
 * The limit is the bytes those cookies take in the Cookie header the browser sends (names, `=`, values and
 * the `; ` between them): `sealedMaxBytes`, 8,192 by default (nginx's default header buffer; what common
 * proxies accept).
 */
import { LIMITS } from './options.js';

/** The associated data of a seal split in `count` parts (a one-cookie seal's is the name alone). */
export function partsAad(name: string, count: number): string {
  return `${name} ${count}`;
}

/**
 * The most parts a manager whose limit is `maxBytes` reads or deletes: each part but the last fills a
 * cookie (some 4 KB), so a count above this comes from no seal of this manager.
 */
export function maxPartsFor(maxBytes: number): number {
  return Math.min(99, Math.ceil(maxBytes / 2048) + 1);
}

/** The names of the parts of `name`, index 1 upward (index 0 is the name itself), made once per name. */
const NAMES = new Map<string, string[]>();
export function partNames(name: string, maxParts: number): readonly string[] {
  let names = NAMES.get(name);
  if (names === undefined || names.length < maxParts) {
    names = [name];
    for (let i = 1; i < maxParts; i++) names.push(`${name}.${i}`);
    if (NAMES.size < 64 || NAMES.has(name)) NAMES.set(name, names);
  }
  return names;
}

function digits(n: number): number {
  return n < 10 ? 1 : 2;
}

/** What each of `count` parts of `name` can carry of the seal (characters of base64url, one octet each). */
function capacities(name: string, count: number): number[] {
  const out: number[] = [];
  // The first part: `<count>.` before its piece; the others: the name's `.<index>` suffix.
  out.push(LIMITS.maxCookieOctets - name.length - digits(count) - 1);
  for (let i = 1; i < count; i++) out.push(LIMITS.maxCookieOctets - name.length - 1 - digits(i));
  return out;
}

/** How many parts a seal of `length` characters takes (2 or more), or undefined when past `maxParts`. */
export function partCount(name: string, length: number, maxParts: number): number | undefined {
  for (let count = 2; count <= maxParts; count++) {
    let room = 0;
    for (const one of capacities(name, count)) {
      if (one <= 0) return undefined; // a name too long to leave room for a piece
      room += one;
    }
    if (room >= length) return count;
  }
  return undefined;
}

/** The values of the `count` parts of `sealed` (the first with its `<count>.`), each piece as full as it fits. */
export function splitSeal(name: string, sealed: string, count: number): string[] {
  const values: string[] = [];
  let at = 0;
  capacities(name, count).forEach((room, i) => {
    const piece = sealed.slice(at, at + room);
    at += piece.length;
    values.push(i === 0 ? `${count}.${piece}` : piece);
  });
  return values;
}

/** The bytes the cookies `name`, `name.1`, ... with these values take in a Cookie header. */
export function headerBytes(names: readonly string[], values: readonly string[]): number {
  let bytes = 2 * (values.length - 1);
  values.forEach((value, i) => {
    bytes += names[i]!.length + 1 + value.length;
  });
  return bytes;
}

/**
 * The seal a split session's cookies carry, joined, and its part count; undefined when the first part's count
 * is malformed or out of range, or a part is missing or empty. `first` is the first part's value (it begins
 * with a digit).
 */
export function joinParts(
  first: string,
  names: readonly string[],
  cookies: Readonly<Record<string, string>> | undefined,
  maxParts: number,
): { sealed: string; count: number } | undefined {
  const dot = first.indexOf('.');
  if (dot !== 1 && dot !== 2) return undefined;
  const count = dot === 1 ? first.charCodeAt(0) - 0x30 : Number(first.slice(0, 2));
  if (!(count >= 2 && count <= maxParts) || `${count}` !== first.slice(0, dot) || cookies === undefined) {
    return undefined;
  }
  let sealed = first.slice(dot + 1);
  for (let i = 1; i < count; i++) {
    const piece = cookies[names[i]!];
    if (piece === undefined || piece === '') return undefined;
    sealed += piece;
  }
  return { sealed, count };
}
