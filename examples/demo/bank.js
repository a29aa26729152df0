/**
 * The demo's users and their bank accounts.
 *
 * Passwords: hashed at start with scrypt (node:crypto), a salt of their own each, checked with
 * timingSafeEqual; an unknown user costs the same scrypt run as a known one.
 *
 * Balances: one record per user in the session store itself, under a key no session can have (session keys
 * are base64url SHA-256 hashes, with no '.'), written by the store's compare-and-set (`set(key, record,
 * expectedVersion)`), retried on a conflict. So a withdrawal counts once whichever session, tab or process
 * makes it, on every store kind (SQLite, Redis, PostgreSQL, memory), without a table of the demo's own. The
 * record has no `userId`, so it never shows in a user's list of sessions.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt);
const KEY_BYTES = 32;

/** The demo accounts: shown on the login page, as in the lecture this project started from. */
export const DEMO_USERS = [
  { id: 'chuck', password: 'chuck-demo-pass', opening: 1000 },
  { id: 'jan', password: 'jan-demo-pass', opening: 400 },
];
export const WITHDRAWAL = 100;

const ACCOUNT_KEY_PREFIX = 'demo.account.';
/** Accounts are kept 400 days after their last change; a lost one opens again with its opening balance. */
const ACCOUNT_TTL_MS = 400 * 24 * 3600_000;
const MAX_ATTEMPTS = 100;

/** Hashes each demo password (scrypt, random salt); returns `check(user, password) -> user id | undefined`. */
export async function createPasswordCheck() {
  const hashes = new Map();
  for (const user of DEMO_USERS) {
    const salt = randomBytes(16);
    hashes.set(user.id, { salt, hash: await scryptAsync(user.password, salt, KEY_BYTES) });
  }
  const decoy = { salt: randomBytes(16), hash: randomBytes(KEY_BYTES) };
  return async function check(userId, password) {
    const entry = hashes.get(userId) ?? decoy;
    const hash = await scryptAsync(String(password), entry.salt, KEY_BYTES);
    const ok = timingSafeEqual(hash, entry.hash);
    return ok && entry !== decoy ? userId : undefined;
  };
}

/**
 * The balances of the demo users, kept in `store` (a Teller SessionStore). `opening(userId)` is an account's
 * first balance (default: the demo users' own, 0 for anyone else; the soak opens many accounts of its own).
 */
export function createBank(
  store,
  { opening = (userId) => DEMO_USERS.find((u) => u.id === userId)?.opening ?? 0 } = {},
) {
  const key = (userId) => `${ACCOUNT_KEY_PREFIX}${userId}`;

  async function read(userId) {
    const record = await store.get(key(userId));
    const balance = record === null ? opening(userId) : JSON.parse(record.data).balance;
    return { record, balance };
  }

  return {
    /** The user's balance in dollars. */
    async balance(userId) {
      return (await read(userId)).balance;
    },
    /**
     * Takes `amount` from the user's account: the new balance, or undefined when it is too low. A concurrent
     * withdrawal makes the compare-and-set fail, and this one runs again on the newer balance.
     */
    async withdraw(userId, amount) {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const { record, balance } = await read(userId);
        if (balance < amount) return undefined;
        const now = Date.now();
        const next = {
          format: 1,
          data: JSON.stringify({ balance: balance - amount }),
          version: (record?.version ?? 0) + 1,
          createdAt: record?.createdAt ?? now,
          lastSeenAt: now,
          expiresAt: now + ACCOUNT_TTL_MS,
        };
        if (await store.set(key(userId), next, record?.version ?? null, ACCOUNT_TTL_MS))
          return balance - amount;
      }
      throw new Error(
        `[teller] [demo] the account of ${userId} changed ${MAX_ATTEMPTS} times during one withdrawal`,
      );
    },
  };
}
