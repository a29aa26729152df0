/**
 * The sessions of one scale run, each one a function of its index `i` (nothing per session is kept in the
 * bench's own heap, so the memory store's heap growth is the store's alone):
 *
 * - ids: SHA-256 of `<seed>:<i>`, base64url (43 characters: an id of the manager's shape); the store key is the
 *   manager's own `storeKeyOf(id)`, the cookie value the id itself (the manager runs without `secrets`);
 * - `i < 3,000`: the sessions of three users (`revoke-0`, `revoke-1`, `revoke-2`), 1,000 each, all live: the
 *   revoke phase ends them;
 * - the others: 10% of all N expired (spread evenly over the indices), one in four logged in (`user-<i>>3>`,
 *   two sessions per user), every one with a user agent and an ip of its own (fresh strings, as each request's
 *   headers are);
 * - the request stream reads and writes the live ones among the first three quarters of the others; the write
 *   phase deletes live ones from the last quarter (one per new session, so the store stays at N).
 *
 * Times (the store's and manager's clock, `loadAt` when its batch is loaded): a live session was created up
 * to 20 minutes before, last seen at `loadAt`, and expires 30 minutes after that (idle lifetime); an expired
 * one expires within the minute after `loadAt`. Each is written with the manager's ttl (`expiresAt - now` plus its
 * 60 s slack). Advancing the clock by {@link EXPIRE_AFTER_MS} then leaves exactly the expired 10% past their
 * drop time. With `realClock` (Redis), the expired ones get a ttl of at most a second instead.
 */
import { createHash } from 'node:crypto';

export const REVOKE_USERS = 3;
export const SESSIONS_PER_REVOKED_USER = 1_000;
const REVOKE_END = REVOKE_USERS * SESSIONS_PER_REVOKED_USER;
const MINUTE = 60_000;
const IDLE_MS = 30 * MINUTE;
/** The manager's ttl slack (LIMITS.ttlSlackMs): stores keep a record this much past its expiry. */
const TTL_SLACK_MS = MINUTE;
/** How far the clock moves after loading: every expired session is then past its drop time, no live one is. */
export const EXPIRE_AFTER_MS = 3 * MINUTE;
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** `storeKeyOf`: the manager's own (from the built package), so the keys are the ones its requests look up. */
export function createPopulation(size, seed, storeKeyOf, { realClock = false } = {}) {
  if (!(size >= REVOKE_END * 2))
    throw new RangeError(`a scale run needs at least ${REVOKE_END * 2} sessions`);
  const others = size - REVOKE_END;
  const expiredCount = Math.floor(size / 10);
  /** Expired: exactly size/10 of the others, spread evenly (where floor(j * expiredCount / others) steps). */
  const step = (j) => Math.floor((j * expiredCount) / others);
  const expired = (i) => i >= REVOKE_END && step(i - REVOKE_END + 1) > step(i - REVOKE_END);
  const streamEnd = REVOKE_END + Math.floor(others * 0.75);

  const idOf = (i) => createHash('sha256').update(`${seed}:${i}`).digest('base64url');
  const userOf = (i) => {
    if (i < REVOKE_END) return `revoke-${Math.floor(i / SESSIONS_PER_REVOKED_USER)}`;
    return i % 4 === 1 ? `user-${i >> 3}` : undefined;
  };

  /** The record of session `i` as the manager writes it, and its ttl, at store time `loadAt`. */
  function recordOf(i, loadAt) {
    let createdAt;
    let lastSeenAt;
    let expiresAt;
    if (expired(i)) {
      expiresAt = loadAt + (i % MINUTE);
      lastSeenAt = expiresAt - IDLE_MS;
      createdAt = lastSeenAt;
    } else {
      createdAt = loadAt - (i % (20 * MINUTE));
      lastSeenAt = loadAt;
      expiresAt = lastSeenAt + IDLE_MS;
    }
    const record = {
      format: 1,
      data: `{"n":${i % 100},"cart":[]}`,
      version: 1,
      createdAt,
      lastSeenAt,
      expiresAt,
      meta: {
        userAgent: Buffer.from(UA).toString('latin1'),
        ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      },
    };
    const userId = userOf(i);
    if (userId !== undefined) record.userId = userId;
    // A backend with its own time (Redis) drops the expired ones itself: within a second of loading.
    if (realClock && expired(i)) return { record, ttlMs: 1 + (i % 1_000) };
    return { record, ttlMs: expiresAt - loadAt + TTL_SLACK_MS };
  }

  /** A random live session of the request stream. */
  function streamPick() {
    for (;;) {
      const i = REVOKE_END + Math.floor(Math.random() * (streamEnd - REVOKE_END));
      if (!expired(i)) return i;
    }
  }

  /** The live sessions the write phase may delete, last first. */
  function* deletable() {
    for (let i = size - 1; i >= streamEnd; i--) if (!expired(i)) yield i;
  }

  return {
    size,
    expiredCount,
    idOf,
    keyOf: (i) => storeKeyOf(idOf(i)),
    userOf,
    expired,
    recordOf,
    streamPick,
    deletable,
    revokeUsers: Array.from({ length: REVOKE_USERS }, (_, u) => `revoke-${u}`),
  };
}
