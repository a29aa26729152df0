/**
 * Tampering that does not depend on the random bytes it tampers with. Replacing the last characters
 * of a base64url token can leave its bytes as they were: the last character carries padding bits
 * (`…A` and `…B` end the same 32 bytes), and the new characters may be the old ones. Flipping a bit
 * of a decoded byte, then encoding again, always changes the bytes.
 */
import { Buffer } from 'node:buffer';

/** `token` (base64url) with the lowest bit of one byte flipped: the last byte by default, `-1`. */
export function flipBit(token: string, byte = -1): string {
  const bytes = Buffer.from(token, 'base64url');
  const i = byte < 0 ? bytes.length + byte : byte;
  bytes[i] = bytes[i]! ^ 1;
  return bytes.toString('base64url');
}
