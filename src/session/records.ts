/**
 * Records: how the core builds them and judges them. Every record is made by {@link makeRecord} (so
 * `format` is written once) and judged live by {@link isUsable} / {@link isLive} against the manager's
 * clock; lifetimes, store TTLs and the touch throttle live here too. Also the session values as the
 * record carries them (the serializer, the size cap, the comparison merges use).
 */
import { SessionTooLargeError, tellerMessage } from './errors.js';
import { LIMITS, type ResolvedOptions } from './options.js';
import { fromValueMap, jsonSerializer, toValueMap } from './serializer.js';
import { ISSUED_AT_KEY, type Origin, type SessionState } from './state.js';
import { RECORD_FORMAT, type RetiredInfo, type SessionRecord } from './store.js';

/** A record of the current format; the optional fields (userId, persistent, movedTo, meta) are added by callers. */
export function makeRecord(
  data: string,
  version: number,
  createdAt: number,
  lastSeenAt: number,
  expiresAt: number,
): SessionRecord {
  return { format: RECORD_FORMAT, data, version, createdAt, lastSeenAt, expiresAt };
}

/** A record this version can read whose lifetime has not ended at `now` (it may be a renewal pointer). */
export function isUsable(record: SessionRecord | null | undefined, now: number): record is SessionRecord {
  return (
    record !== null &&
    typeof record === 'object' &&
    record.format === RECORD_FORMAT &&
    typeof record.data === 'string' &&
    now < record.expiresAt
  );
}

/** A usable record that holds a session (not a renewal pointer). */
export function isLive(record: SessionRecord | null | undefined, now: number): record is SessionRecord {
  return isUsable(record, now) && record.movedTo === undefined;
}

/**
 * The idle and absolute lifetimes of a session: an anonymous one with `anonymousLifetime` (fixed from its
 * creation), a remembered ("remember me") one, or one with a session cookie.
 */
export function lifetimes(
  options: ResolvedOptions,
  persistent: boolean,
  userId: string | undefined,
): { idle: number; absolute: number } {
  const anonymous = options.anonymousLifetime;
  if (userId === undefined && anonymous !== undefined) return { idle: anonymous, absolute: anonymous };
  return persistent
    ? { idle: options.rememberMe, absolute: options.rememberMeAbsolute }
    : { idle: options.idleTimeout, absolute: options.absoluteTimeout };
}

/** The lifetimes of the session a record holds. */
export function recordLifetimes(
  options: ResolvedOptions,
  record: SessionRecord,
): { idle: number; absolute: number } {
  return lifetimes(options, record.persistent === true, record.userId);
}

/** How long a store must keep a record: its remaining lifetime by the manager's clock, plus slack. */
export function ttlOf(record: SessionRecord, now: number): number {
  return Math.max(0, record.expiresAt - now) + LIMITS.ttlSlackMs;
}

/** Whether an unchanged session's idle lifetime should be extended now (the throttled touch). */
export function touchDue(options: ResolvedOptions, record: SessionRecord, now: number): boolean {
  const { idle, absolute } = recordLifetimes(options, record);
  if (Math.min(now + idle, record.createdAt + absolute) <= record.expiresAt) return false;
  return now - record.lastSeenAt >= options.touchInterval || record.lastSeenAt + idle - now < idle / 2;
}

/** The record to write for the session's `data` on top of `base` (null: a new session). */
export function buildRecord(
  options: ResolvedOptions,
  state: SessionState,
  base: SessionRecord | null,
  data: string,
  version: number,
): SessionRecord {
  const now = state.now;
  const createdAt = base === null || state.restartLifetime ? now : base.createdAt;
  const userId = state.userChanged ? state.userId : base?.userId;
  // An anonymous session with anonymousLifetime has a persistent cookie; a user's follows login's `remember`.
  const anonymous = userId === undefined && options.anonymousLifetime !== undefined;
  const persistent = anonymous || (state.persistent ?? base?.persistent ?? false);
  const { idle, absolute } = lifetimes(options, persistent, userId);
  let expiresAt = Math.min(now + idle, createdAt + absolute);
  let lastSeenAt = now;
  // A request that loaded before newer ones and commits after them (a merge) never pulls back the idle
  // lifetime they extended, unless it changes the session's user or lifetimes itself.
  if (base !== null && !state.userChanged && !state.restartLifetime && state.persistent === undefined) {
    if (state.passive) {
      // A passive request (a poll) extends nothing: its write keeps the idle expiry and last-seen time.
      expiresAt = Math.min(base.expiresAt, createdAt + absolute);
      lastSeenAt = base.lastSeenAt;
    } else {
      expiresAt = Math.max(expiresAt, Math.min(base.expiresAt, createdAt + absolute));
      lastSeenAt = Math.max(now, base.lastSeenAt);
    }
  }
  const record = makeRecord(data, version, createdAt, lastSeenAt, expiresAt);
  if (userId !== undefined) record.userId = userId;
  if (persistent) record.persistent = true;
  const meta = state.meta ?? base?.meta;
  if (meta !== undefined) record.meta = meta;
  return record;
}

/** When the session's current id was issued (for `renewAfter`). */
export function issuedAt(origin: Origin, values: Map<string, unknown>): number {
  const iat = values.get(ISSUED_AT_KEY);
  return typeof iat === 'number' ? iat : origin.record.createdAt;
}

/** The session's values as records carry them: parsed, serialized within `maxDataBytes`, compared. */
export function parseValues(options: ResolvedOptions, data: string): Map<string, unknown> {
  return toValueMap(options.serializer.parse(data));
}

export function serializeValues(options: ResolvedOptions, values: Map<string, unknown>): string {
  const serializer = options.serializer;
  const text = serializer.stringify(fromValueMap(values, serializer === jsonSerializer));
  if (typeof text !== 'string') {
    throw new TypeError(tellerMessage('session', 'serializer.stringify must return a string'));
  }
  // A UTF-16 code unit is at most 3 bytes of UTF-8: a text that short cannot be too large (no count needed).
  if (text.length * 3 <= options.maxDataBytes) return text;
  const bytes = Buffer.byteLength(text);
  if (bytes > options.maxDataBytes) {
    throw new SessionTooLargeError(
      tellerMessage(
        'session',
        `the session data is ${bytes} bytes, more than maxDataBytes (${options.maxDataBytes})`,
      ),
    );
  }
  return text;
}

/** Whether two values serialize alike (a merge's test for "changed meanwhile"). */
export function sameValue(options: ResolvedOptions, a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return options.serializer.stringify({ v: a }) === options.serializer.stringify({ v: b });
}

/** A retirement record's fields and store ttl (see {@link SessionRecord.retired}). */
export interface Retirement {
  retired: RetiredInfo;
  ttl: number;
}

/**
 * What a record retired by `by` at `now` leaves: who held the session (`user`, else the record's user), what
 * retired it and when, kept until the retired session's absolute expiry would have come (at least the
 * tombstone's time, at most `retiredTtlMs`).
 */
export function retirement(
  options: ResolvedOptions,
  base: SessionRecord,
  by: RetiredInfo['by'],
  now: number,
  user = base.userId,
): Retirement {
  const retired: RetiredInfo = { by, at: now };
  if (user !== undefined) retired.user = user;
  const end = base.createdAt + recordLifetimes(options, base).absolute;
  const keep = Math.min(Math.max(LIMITS.tombstoneTtlMs, end - now), LIMITS.retiredTtlMs);
  return { retired, ttl: keep + LIMITS.ttlSlackMs };
}

/**
 * The record an ended id leaves under its key in place of version `version`: empty, its times 0 (never
 * live); with `mark`, it stays as the id's retirement record (stolen-id detection), else it is a tombstone.
 */
export function endedRecord(version: number, mark?: Retirement): SessionRecord {
  const ended = makeRecord('', version + 1, 0, 0, 0);
  if (mark !== undefined) ended.retired = mark.retired;
  return ended;
}
