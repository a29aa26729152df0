/**
 * The user index of stored sessions: `listSessions` and `revokeSessions` ("log out everywhere"), on the
 * store's optional `listByUser`, `deleteByUser` and `retireByUser` abilities.
 */
import type { SessionInfo } from './context.js';
import { tellerMessage } from './errors.js';
import { LIMITS, type ResolvedOptions } from './options.js';
import { isLive } from './records.js';
import type { RetireByUserOptions } from './store.js';
import type { Budget, StoreCalls } from './store-calls.js';

/** A user's live sessions, the most recently seen first. */
export async function listUserSessions(calls: StoreCalls, userId: string, b: Budget): Promise<SessionInfo[]> {
  if (calls.store.listByUser === undefined) {
    throw new TypeError(
      tellerMessage('session', 'listSessions needs server-side sessions in a store with listByUser'),
    );
  }
  const rows = await calls.listByUser(userId, b);
  const out: SessionInfo[] = [];
  for (const { key, record } of rows) {
    if (!isLive(record, b.now) || record.userId !== userId) continue;
    const info: SessionInfo = {
      handle: key,
      createdAt: record.createdAt,
      lastSeenAt: record.lastSeenAt,
      expiresAt: record.expiresAt,
      persistent: record.persistent === true,
    };
    if (record.meta?.userAgent !== undefined) info.userAgent = record.meta.userAgent;
    if (record.meta?.ip !== undefined) info.ip = record.meta.ip;
    out.push(info);
  }
  return out.sort((x, y) => y.lastSeenAt - x.lastSeenAt);
}

/**
 * What `retireByUser` needs to leave the retirement records the manager's own retirements leave (see
 * `retirement` in records.ts): `retired.by: 'revoke'` at `now`, kept until the retired session's absolute
 * expiry would have come (by its kind: remembered or not), at least `tombstoneTtlMs`, at most
 * `retiredTtlMs`, plus the store slack. A user's record never has the anonymous lifetime.
 */
export function revokeRetirement(
  options: ResolvedOptions,
  exceptKey: string | undefined,
  now: number,
): RetireByUserOptions {
  const retire: RetireByUserOptions = {
    by: 'revoke',
    at: now,
    absoluteMs: options.absoluteTimeout,
    rememberMeAbsoluteMs: options.rememberMeAbsolute,
    minMs: LIMITS.tombstoneTtlMs,
    maxMs: LIMITS.retiredTtlMs,
    slackMs: LIMITS.ttlSlackMs,
  };
  if (exceptKey !== undefined) retire.exceptKey = exceptKey;
  return retire;
}

/**
 * Ends every record of a user but `exceptKey`; how many were ended. With `options` (stolen-id detection) and a
 * store with `retireByUser` (not `lockOnly`: an express-session store's apps expect ended sessions gone),
 * each record becomes its retirement record (`retired.by: 'revoke'`) in one store call; else they are
 * deleted (`deleteByUser`, or `listByUser` then a delete each).
 */
export async function revokeUserSessions(
  calls: StoreCalls,
  userId: string,
  exceptKey: string | undefined,
  b: Budget,
  options?: ResolvedOptions,
): Promise<number> {
  const store = calls.store;
  if (options !== undefined && store.retireByUser !== undefined && store.lockOnly !== true) {
    return calls.retireByUser(userId, revokeRetirement(options, exceptKey, b.now), b);
  }
  if (store.deleteByUser !== undefined) return calls.deleteByUser(userId, exceptKey, b);
  if (store.listByUser === undefined) {
    throw new TypeError(
      tellerMessage('session', 'revokeSessions needs a store with deleteByUser or listByUser'),
    );
  }
  let count = 0;
  for (const { key } of await calls.listByUser(userId, b)) {
    if (key === exceptKey) continue;
    await calls.delete(key, b);
    count++;
  }
  return count;
}
