/**
 * Signed cookie values in the format of the `cookie-signature` package, so cookies written by
 * express-session and cookie-parser verify: `value + "." + base64(HMAC-SHA256(secret, value))`
 * without `=` padding.
 */

import { Buffer } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { tellerMessage } from '../util.js';

/** A secret as text (UTF-8) or bytes. */
export type Secret = string | Uint8Array;

/** HMAC keys under this many bytes still work, with a one-time process warning. */
export const MIN_SECRET_BYTES = 32;

let warnedShortSecret = false;

/**
 * Checks a signing secret: an empty one is a TypeError naming `field` of `part`; one shorter than
 * {@link MIN_SECRET_BYTES} gets a process warning (once).
 */
export function checkSecret(secret: Secret, field: string, part = 'cookie'): void {
  if (typeof secret === 'string') {
    if (secret.length === 0) throw new TypeError(tellerMessage(part, `${field} must not be empty`));
  } else if (!(secret instanceof Uint8Array) || secret.length === 0) {
    throw new TypeError(tellerMessage(part, `${field} must be a non-empty string or Uint8Array`));
  }
  const bytes = typeof secret === 'string' ? Buffer.byteLength(secret) : secret.length;
  if (bytes < MIN_SECRET_BYTES && !warnedShortSecret) {
    warnedShortSecret = true;
    process.emitWarning(
      tellerMessage(
        part,
        `a signing secret is shorter than ${MIN_SECRET_BYTES} bytes; use at least 32 random bytes`,
      ),
      { code: 'TELLER_SHORT_SECRET' },
    );
  }
}

function mac(value: string, secret: Secret): string {
  return createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '');
}

/** Signs `value` with `secret`: `value.signature` (cookie-signature format). */
export function sign(value: string, secret: Secret): string {
  if (typeof value !== 'string')
    throw new TypeError(tellerMessage('cookie', 'the value to sign must be a string'));
  checkSecret(secret, 'secret');
  return `${value}.${mac(value, secret)}`;
}

/**
 * Verifies a signed value against each secret (the first one signs, every one verifies: rotation)
 * and returns the value, or false. The comparison is constant-time after a length check; anything
 * after the signature makes it fail.
 */
export function unsign(input: string, secrets: Secret | readonly Secret[]): string | false {
  if (typeof input !== 'string') return false;
  const list: readonly Secret[] =
    typeof secrets === 'string' || secrets instanceof Uint8Array ? [secrets] : secrets;
  if (list.length === 0) throw new TypeError(tellerMessage('cookie', 'unsign needs at least one secret'));
  const dot = input.lastIndexOf('.');
  if (dot === -1) return false;
  const value = input.slice(0, dot);
  const given = Buffer.from(input);
  let match = false;
  for (const secret of list) {
    checkSecret(secret, 'secret');
    const expected = Buffer.from(`${value}.${mac(value, secret)}`);
    // Every secret is tried, so the time does not tell which one matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) match = true;
  }
  return match ? value : false;
}
