/**
 * Sealed (cookie-only) sessions: the payload is encrypted and authenticated with AES-256-GCM
 * (ASVS 5.0 11: an AEAD, a fresh 96-bit nonce from the CSPRNG per seal, replaceable keys). Each secret
 * yields a key through HKDF-SHA256; the first secret seals, every secret opens (rotation). The cookie
 * name is authenticated as associated data, so a value cannot be moved to another cookie.
 *
 * Value layout, base64url: version (1 byte) | nonce (12) | ciphertext | tag (16).
 */

import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import type { Secret } from '../cookie/index.js';
import { tellerMessage } from './errors.js';
import { pooledRandom } from './ids.js';

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const SALT = Buffer.from('teller/session/seal');
const INFO = Buffer.from('teller session seal v1 aes-256-gcm');
/** The base64url length of a sealed empty text (version, nonce and tag): anything shorter is not sealed. */
const MIN_SEALED_CHARS = Math.ceil(((1 + NONCE_BYTES + TAG_BYTES) * 4) / 3);
/** Secrets shorter than this are refused: a sealing key must be hard to guess. */
export const MIN_SEAL_SECRET_BYTES = 32;

/** Derived keys, first one sealing (KeyObjects: OpenSSL gets them without a copy per seal). */
export type SealKeys = readonly KeyObject[];

/** Derives one AES-256 key per secret (HKDF-SHA256). Throws TypeError for missing or short secrets. */
export function deriveSealKeys(secrets: readonly Secret[]): SealKeys {
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new TypeError(tellerMessage('session', 'seal.secrets must be a non-empty array'));
  }
  return secrets.map((secret, i) => {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (bytes.length < MIN_SEAL_SECRET_BYTES) {
      throw new TypeError(
        tellerMessage(
          'session',
          `seal.secrets[${i}] must be at least ${MIN_SEAL_SECRET_BYTES} bytes (use random bytes)`,
        ),
      );
    }
    return createSecretKey(Buffer.from(hkdfSync('sha256', bytes, SALT, INFO, 32)));
  });
}

/** The associated data of each cookie name, as bytes (a manager has one or two names). */
const AAD = new Map<string, Buffer>();
function aadOf(name: string): Buffer {
  let bytes = AAD.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name);
    if (AAD.size < 64) AAD.set(name, bytes);
  }
  return bytes;
}

/** Encrypts `plaintext` with the first key, binding `aad` (the cookie name). */
export function seal(plaintext: string, keys: SealKeys, aad: string): string {
  // A fresh nonce per seal from the CSPRNG (pooled: a randomBytes call would cost more than the cipher).
  const nonce = pooledRandom(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keys[0]!, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadOf(aad));
  const body = cipher.update(plaintext, 'utf8');
  cipher.final(); // GCM is a stream mode: final() adds no bytes, it computes the tag
  const out = Buffer.allocUnsafe(1 + NONCE_BYTES + body.length + TAG_BYTES);
  out[0] = VERSION;
  nonce.copy(out, 1);
  body.copy(out, 1 + NONCE_BYTES);
  cipher.getAuthTag().copy(out, 1 + NONCE_BYTES + body.length);
  return out.toString('base64url');
}

/** Decrypts a sealed value with any of the keys, or undefined for anything tampered, truncated or foreign. */
export function unseal(value: string, keys: SealKeys, aad: string): string | undefined {
  if (value.length < MIN_SEALED_CHARS || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  const raw = Buffer.from(value, 'base64url');
  if (raw.length < 1 + NONCE_BYTES + TAG_BYTES || raw[0] !== VERSION) return undefined;
  const nonce = raw.subarray(1, 1 + NONCE_BYTES);
  const body = raw.subarray(1 + NONCE_BYTES, raw.length - TAG_BYTES);
  const tag = raw.subarray(raw.length - TAG_BYTES);
  const associated = aadOf(aad);
  for (const key of keys) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(associated);
      decipher.setAuthTag(tag);
      const plaintext = decipher.update(body);
      decipher.final(); // throws on a wrong key or a tampered value, before anything is returned
      return plaintext.toString('utf8');
    } catch {
      // Wrong key or tampered: try the next key.
    }
  }
  return undefined;
}
