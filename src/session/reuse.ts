/**
 * Stolen-id detection (the manager's `reuse` option). An id retired by login, regenerate, renewal, logout,
 * destroy or `revokeSessions` (with a store that has `retireByUser`: every store Teller ships) leaves a
 * retirement record (`SessionRecord.retired`); a request that presents it
 * again gets a fresh session as always, and this module decides whether it is a reuse worth a `reuse`
 * event: for a rotation, only once the successor was loaded by a request presenting the new id (its record
 * no longer `unconfirmed`) and the rotation is older than the requests in flight across it. Only this
 * path (a retired id, rare) reads anything more: the ordinary request pays nothing. Sealed sessions with a
 * store apply the same rules to their deny and not-before records (`sealed-revocation.ts`, with `emitReuse`).
 */
import type { ManagerContext, RequestFacts } from './context.js';
import { tellerMessage } from './errors.js';
import { LIMITS } from './options.js';
import type { RetiredInfo, SessionRecord } from './store.js';
import type { Budget, StoreCalls } from './store-calls.js';
import { revokeUserSessions } from './users.js';

/** Whether a record carries a well-formed retirement (`retired`). */
export function isRetirement(record: SessionRecord): boolean {
  const retired = record.retired as RetiredInfo | undefined | null;
  return (
    retired !== undefined &&
    retired !== null &&
    typeof retired === 'object' &&
    typeof retired.by === 'string' &&
    typeof retired.at === 'number'
  );
}

/** Whether `by` rotated the id (the session went on under a successor). */
export function isRotation(by: RetiredInfo['by']): boolean {
  return by === 'login' || by === 'regenerate' || by === 'renewal';
}

/** The `reuse` event: who, what retired the id, how long ago, the request's user agent and ip; never an id. */
export function emitReuse(ctx: ManagerContext, retired: RetiredInfo, facts: RequestFacts): void {
  const extra: Parameters<ManagerContext['report']['emit']>[3] = {
    retiredBy: retired.by,
    retiredAgoMs: Math.max(0, facts.now - retired.at),
  };
  if (typeof retired.user === 'string') extra.userId = retired.user;
  const meta = facts.meta;
  if (meta?.userAgent !== undefined) extra.userAgent = meta.userAgent;
  if (meta?.ip !== undefined) extra.ip = meta.ip;
  ctx.report.emit('reuse', facts.now, undefined, extra);
}

/**
 * A stored session's retired id presented again (`tomb`: the record under its key): the `reuse` event when
 * the evidence is unambiguous, and with `reuse: 'revoke'` every session of the user ended after a rotation
 * reuse. A store failure here is logged, never the request's failure (it gets its fresh session).
 */
export function checkReuse(
  ctx: ManagerContext,
  calls: StoreCalls,
  tomb: SessionRecord,
  facts: RequestFacts,
  b: Budget,
): Promise<void> {
  return judgeReuse(
    ctx,
    tomb.retired!,
    facts,
    async () => {
      const next = tomb.rotatedTo ?? tomb.movedTo;
      if (typeof next !== 'string') return false;
      const successor = await calls.get(next, b);
      return successor !== null && successor !== undefined && successor.unconfirmed !== true;
    },
    // The ended ids leave retirement records too: presented again, each raises its own event (never more).
    (user) => revokeUserSessions(calls, user, undefined, b, ctx.options),
  );
}

/**
 * The rule both backends share (stored: `checkReuse`; sealed: sealed-revocation.ts), for an id `retired`
 * presented again: a rotation counts only once settled (requests in flight across it are no reuse) and once
 * `successorSeen` (the rightful browser presented the new id: an aborted rotation never did); then the `reuse`
 * event, and with `reuse: 'revoke'` after a rotation, `revokeUser` and the `revoked` event. A failure is
 * logged, never the request's failure.
 */
export async function judgeReuse(
  ctx: ManagerContext,
  retired: RetiredInfo,
  facts: RequestFacts,
  successorSeen: () => Promise<boolean>,
  revokeUser: (user: string) => Promise<number>,
): Promise<void> {
  const rotation = isRotation(retired.by);
  try {
    if (rotation && (facts.now - retired.at < LIMITS.reuseSettleMs || !(await successorSeen()))) return;
    emitReuse(ctx, retired, facts);
    const user = retired.user;
    if (rotation && ctx.options.reuse === 'revoke' && typeof user === 'string') {
      const count = await revokeUser(user);
      ctx.report.emit('revoked', facts.now, undefined, { userId: user, detail: String(count) });
    }
  } catch (error) {
    warnOf(ctx, 'stolen-id detection could not complete', error);
  }
}

/** A failure off the request's path, logged as a warning with its message (never its stack). */
export function warnOf(ctx: ManagerContext, message: string, error: unknown): void {
  ctx.report.log('warn', tellerMessage('session', message), {
    error: error instanceof Error ? error.message : String(error),
  });
}
