/**
 * Session ids and store keys. An id is 32 bytes from the CSPRNG in base64url (256 bits, ASVS 5.0 7.2.3
 * asks for at least 128); the store key is SHA-256 of the id, so a leaked store holds no usable tokens
 * (Rack CVE-2019-16782's class). Nothing here ever logs or throws an id.
 */

import { hash, randomFillSync } from 'node:crypto';
import { type Secret, sign, unsign } from '../cookie/index.js';
import { tellerMessage } from './errors.js';

/** Bytes of randomness in a session id. */
export const ID_BYTES = 32;

/** base64url of 32 bytes, unpadded: 43 characters. */
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A source of random bytes (a parameter, so tests can be deterministic). @default the CSPRNG (crypto.randomFillSync, pooled) */
export type RandomSource = (size: number) => Uint8Array;

/** CSPRNG output fetched 2 KiB at a time (one call into OpenSSL instead of dozens); every byte is used once. */
const POOL = Buffer.alloc(2048);
let poolOffset = POOL.length;

/**
 * `size` fresh bytes (at most 256) from the pooled CSPRNG, copied out, the pool's copy zeroed: never handed out
 * twice. For ids, nonces and masks: a call to `crypto.randomBytes` costs more than what it returns here.
 */
export function pooledRandom(size: number): Buffer {
  if (!Number.isSafeInteger(size) || size < 0 || size > 256) return randomFillSync(Buffer.alloc(size));
  if (poolOffset + size > POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const out = Buffer.from(POOL.subarray(poolOffset, poolOffset + size));
  POOL.fill(0, poolOffset, poolOffset + size);
  poolOffset += size;
  return out;
}

/** A fresh session id: {@link ID_BYTES} bytes from `random`, base64url. */
export function generateId(random: RandomSource = pooledRandom): string {
  const bytes = random(ID_BYTES);
  if (!(bytes instanceof Uint8Array) || bytes.length !== ID_BYTES) {
    throw new TypeError(tellerMessage('session', `the random source must return ${ID_BYTES} bytes`));
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
}

/** Whether `text` has the shape of an id this library generates (checked before any store read). */
export function isWellFormedId(text: string): boolean {
  return text.length === 43 && ID_PATTERN.test(text);
}

/** The store key of an id: SHA-256, base64url. */
export function storeKeyOf(id: string): string {
  // The one-shot hash (Node 20.12+) costs a third of createHash().update().digest().
  return hash('sha256', id, 'base64url');
}

/** A short reference to a session for logs and events: a prefix of the key (the hash), never the id. */
export function refOf(key: string): string {
  return key.slice(0, 12);
}

/** The cookie value for an id: the id itself, or `id.signature` (cookie-signature format) with secrets. */
export function encodeIdCookie(id: string, secrets: readonly Secret[] | undefined): string {
  return secrets === undefined ? id : sign(id, secrets[0]!);
}

/**
 * The id carried by a cookie value, or undefined for anything this library could not have written:
 * a bad signature (rejected without a store read), a truncated or foreign value.
 */
export function decodeIdCookie(value: string, secrets: readonly Secret[] | undefined): string | undefined {
  let id: string | false = value;
  if (secrets !== undefined) {
    // A signed id is 43 + 1 + 43 characters; anything else is not ours (and costs no HMAC).
    if (value.length !== 87) return undefined;
    id = unsign(value, secrets);
    if (id === false) return undefined;
  }
  return isWellFormedId(id) ? id : undefined;
}
