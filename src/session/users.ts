/**
 * The user index of stored sessions: `listSessions` and `revokeSessions` ("log out everywhere"), on the
 * store's optional `listByUser` and `deleteByUser` abilities.
 */
import type { SessionInfo } from './context.js';
import { tellerMessage } from './errors.js';
import { isLive } from './records.js';
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

/** Deletes every record of a user but `exceptKey`; how many were deleted. */
export async function revokeUserSessions(
  calls: StoreCalls,
  userId: string,
  exceptKey: string | undefined,
  b: Budget,
): Promise<number> {
  const store = calls.store;
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
