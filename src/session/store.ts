/**
 * The store contract. Every store (memory, sqlite, redis, postgres, ...) implements it and runs the
 * shared contract suite in `test/stores/contract.ts` against its real backend.
 *
 * Keys are the SHA-256 of the session id (base64url), never the id itself. The manager, not the store,
 * decides whether a record has expired: stores never compare `expiresAt` with their own clock.
 *
 * Who wraps a failure: a store rejects only for a failure of its backend (down, closed, corrupt, timed
 * out), and Teller's own stores reject with a `SessionStoreError` (503) whose `cause` is the client's
 * error, so callers outside a manager (the CLI, an app's own scripts) get the typed error too. A store
 * may also reject with its client's error as it is. The manager wraps whatever is not a
 * `SessionStoreError` into one (the store's error as `cause`), never wraps a `SessionStoreError` twice,
 * and makes a call past `storeTimeout` a `SessionStoreTimeoutError`. A caller's mistake is a `TypeError`
 * thrown before anything is written ({@link assertSetArguments}); a lost compare-and-set is no failure
 * (`set` resolves false).
 */
import { tellerMessage } from './errors.js';

/** The current record format; stored inside every record so later versions can migrate. */
export const RECORD_FORMAT = 1;

export interface SessionMeta {
  userAgent?: string;
  ip?: string;
}

export interface SessionRecord {
  /** Record format version ({@link RECORD_FORMAT}). */
  format: number;
  /** JSON of the session's data (the serializer's output). */
  data: string;
  /** +1 on every successful write; the first write stores version 1. */
  version: number;
  /** Set by login; indexed by stores that support the user index. */
  userId?: string;
  /** Epoch ms, by the manager's clock. */
  createdAt: number;
  /** Epoch ms, by the manager's clock. */
  lastSeenAt: number;
  /** Epoch ms: min(lastSeen + idle, createdAt + absolute), judged by the manager's clock only. */
  expiresAt: number;
  /** Whether the cookie is persistent ("remember me"). */
  persistent?: boolean;
  /** Renewal grace pointer: this key is an old id; the live record is under `movedTo` (a key). */
  movedTo?: string;
  /**
   * On an ended record (expiresAt 0) left by login or regenerate: the key the session continues under.
   * Never followed to serve a request (a request with the retired id gets a fresh session); a logout or
   * destroy carrying the retired id ends that successor too.
   */
  rotatedTo?: string;
  /**
   * On a record left under a retired id (an ended record, or a renewal pointer): who held the session, what
   * retired it and when (epoch ms), for stolen-id detection (the manager's `reuse` option). Such a record is
   * kept until the retired session's own absolute expiry would have come, and at most 30 days.
   */
  retired?: RetiredInfo;
  /**
   * Set on the record a rotation (login, regenerate, renewal) wrote under a new id, until a request that
   * presents that id loads it (its commit writes the record without it, once per rotation): while set, the
   * browser has not been seen holding the new id, so the old one presented again is no proof of theft.
   */
  unconfirmed?: true;
  meta?: SessionMeta;
}

/** What {@link SessionRecord.retired} holds. */
export interface RetiredInfo {
  /** What retired the id. */
  by: 'login' | 'regenerate' | 'renewal' | 'logout' | 'destroy' | 'revoke';
  /** Epoch ms (the manager's clock). */
  at: number;
  /** The session's user when it was retired (not `userId`: a retired record stays out of the user index). */
  user?: string;
}

/**
 * What the manager makes of a session an earlier library stored (see {@link SessionStore.migrateLegacy}): the
 * record to store under the hashed key and the ttl to store it with, or null when it is not taken over
 * (expired by the manager's clock, unreadable, too large). Synchronous, and it never throws.
 */
export type LegacyAdopter = (session: unknown) => { record: SessionRecord; ttlMs: number } | null;

/**
 * Options of {@link SessionStore.retireByUser}: what the retirement records say and how long they are kept.
 * Each record of the user but `exceptKey` is replaced by what a logout leaves (see {@link retiredRecordOf}),
 * kept for {@link retiredTtlOf} ms by the store's clock.
 */
export interface RetireByUserOptions {
  /** The record kept ("log out my other sessions"). */
  exceptKey?: string;
  /** What retired the ids. */
  by: 'revoke';
  /** When (epoch ms, the manager's clock): `retired.at`, and the time the keeping is reckoned from. */
  at: number;
  /** The absolute lifetime (ms) of a session with a session cookie (a record without `persistent: true`). */
  absoluteMs: number;
  /** The absolute lifetime (ms) of a remembered session (`persistent: true`). */
  rememberMeAbsoluteMs: number;
  /** Kept at least this long (ms), before `slackMs`. */
  minMs: number;
  /** Kept at most this long (ms), before `slackMs`. */
  maxMs: number;
  /** Added to every ttl (ms): the store may drop a record no sooner than the manager stops looking for it. */
  slackMs: number;
}

/**
 * For store authors: the retirement record {@link SessionStore.retireByUser} writes in place of `record`, a
 * record of `userId`: what a logout leaves under the ended id (empty data, the next version, no `userId`, so
 * out of the user index; times 0, so never live; `retired` saying who, what and when).
 */
export function retiredRecordOf(
  record: Pick<SessionRecord, 'version'>,
  userId: string,
  options: Pick<RetireByUserOptions, 'by' | 'at'>,
): SessionRecord {
  return {
    format: RECORD_FORMAT,
    data: '',
    version: record.version + 1,
    createdAt: 0,
    lastSeenAt: 0,
    expiresAt: 0,
    retired: { by: options.by, at: options.at, user: userId },
  };
}

/**
 * For store authors: how long (ms) {@link SessionStore.retireByUser} keeps the retirement record of `record`:
 * until the retired session's own absolute expiry would have come (`createdAt` plus the absolute lifetime of
 * its kind), within `minMs` and `maxMs`, plus `slackMs`: the ttl the manager's own retirements use.
 */
export function retiredTtlOf(
  record: Pick<SessionRecord, 'createdAt' | 'persistent'>,
  options: RetireByUserOptions,
): number {
  const absolute = record.persistent === true ? options.rememberMeAbsoluteMs : options.absoluteMs;
  const left = record.createdAt + absolute - options.at;
  return Math.min(Math.max(options.minMs, left), options.maxMs) + options.slackMs;
}

/** Options of {@link SessionStore.purgeExpired}. */
export interface PurgeOptions {
  /** Called after a batch with the records removed so far by this purge (never more than it returns). */
  onProgress?: (removed: number) => void;
}

/** One page of {@link SessionStore.scan}: entries, and the cursor of the next page (null: the scan is over). */
export interface ScanPage {
  entries: Array<{ key: string; record: SessionRecord }>;
  cursor: string | null;
}

export interface SessionStore {
  /**
   * The record under this key, or null when absent. Returns expired records too (the manager judges).
   * Throws only for system failures.
   */
  get(key: string): Promise<SessionRecord | null>;
  /**
   * Compare-and-set: writes only if the stored version equals `expected` (`null`: only if absent).
   * Returns false on a conflict and never overwrites a newer version. `ttlMs` is the remaining lifetime
   * by the manager's clock: the store keeps the record at least that long and may drop it physically
   * some time later. The record's `version` is written as given (the manager sets expected + 1).
   */
  set(key: string, record: SessionRecord, expected: number | null, ttlMs: number): Promise<boolean>;
  /** Deletes; a no-op when absent. */
  delete(key: string): Promise<void>;
  /** Optional: every live record of a user (by `record.userId`). */
  listByUser?(userId: string): Promise<Array<{ key: string; record: SessionRecord }>>;
  /** Optional: deletes every record of a user except `exceptKey`; returns how many were deleted. */
  deleteByUser?(userId: string, options?: { exceptKey?: string }): Promise<number>;
  /**
   * Optional, with the user index: what `deleteByUser` does, but each record of the user except
   * `options.exceptKey` is replaced by its retirement record ({@link retiredRecordOf}: out of the user index,
   * never live) kept {@link retiredTtlOf} ms, instead of deleted; returns how many were retired (the count
   * `deleteByUser` would give). In one call whatever the count, each record's replacement atomic (a
   * compare-and-set racing it against the version it read fails). The manager's `revokeSessions` uses it
   * so that a revoked id presented again raises a `reuse` event; without it, it deletes (`deleteByUser`).
   */
  retireByUser?(userId: string, options: RetireByUserOptions): Promise<number>;
  /**
   * Optional: physically removes records whose lifetime ended before `now` (epoch ms); returns the count. A store
   * that purges in batches may call `options.onProgress` after each batch with the records removed so far (for a
   * tool's progress display; a store that purges in one step need never call it).
   */
  purgeExpired?(now: number, options?: PurgeOptions): Promise<number>;
  /** Optional: how many records are held (for tests, the inspector and benchmarks). */
  count?(): Promise<number>;
  /**
   * Optional: one page of every record held, for tools that list a store (the `teller` CLI), never for requests.
   * Start with `cursor` null and pass each page's `cursor` to the next call; a null `cursor` ends the scan.
   * `limit` (an integer >= 1) is a hint: a page may hold fewer entries, none at all (with a non-null cursor), or,
   * on a store whose backend scans by hint (Redis SCAN), somewhat more. Every record held from the scan's start
   * to its end is returned at least once (a store may return a key twice: Redis SCAN); a record written or
   * deleted meanwhile may be returned or not. Returns what `get` would (expired records too: the manager
   * judges), in no particular order, each with its key; never the records of another kind of key the store keeps
   * (a user index). A cursor is opaque, valid only for the store that gave it.
   */
  scan?(cursor: string | null, limit: number): Promise<ScanPage>;
  /**
   * Optional, with {@link SessionStore.immediate} only: {@link SessionStore.get} answered synchronously (the
   * same record or null, the same failures thrown rather than rejected). With all three of `getNow`, `setNow`
   * and `deleteNow` on an `immediate` store, the manager makes its request-path calls through them and so
   * completes a load or a commit without a promise turn. An in-process store (the memory store) defines them
   * as non-enumerable properties, so that a wrapper made by spreading the store (`{ ...store, get }`) does not
   * inherit them and bypass its own `get`, `set` or `delete`.
   */
  getNow?(key: string): SessionRecord | null;
  /** Optional, with `immediate` only: {@link SessionStore.set} answered synchronously (see `getNow`). */
  setNow?(key: string, record: SessionRecord, expected: number | null, ttlMs: number): boolean;
  /** Optional, with `immediate` only: {@link SessionStore.delete} done synchronously (see `getNow`). */
  deleteNow?(key: string): void;
  /**
   * Optional: declares that every promise of the calls the manager makes (`get`, `set`, `delete`,
   * `listByUser`, `deleteByUser`, `close`) is already settled when it is returned (an in-process store such as
   * the memory store). The manager then arms no `storeTimeout` timer for its calls, since they cannot hang.
   * `purgeExpired` may still settle later (a purge in batches that yield): the manager never calls it. Never
   * set it on a store that does I/O.
   */
  readonly immediate?: boolean;
  /**
   * Optional: declares that every promise this store returns is settled by the store's own work in this
   * process, never by an answer it waits for: at once, or by a `setImmediate` or `process.nextTick` callback
   * it scheduled (an embedded database that commits the writes of an event-loop turn together). Any wait
   * such a store has (for another process's lock on a file) is synchronous, where no timer could end it,
   * and bounded by the store itself. The manager then watches no `storeTimeout` for its calls. Never set it
   * on a store that waits for a socket or another process's answer.
   */
  readonly settlesInTurn?: boolean;
  /**
   * Optional: declares that this store cannot compare-and-set (its `set` writes what it is given, as an
   * express-session store does). The manager's in-process lock is then its only protection, so a request
   * waits for its session's lock up to 5 s and then fails with SessionLockTimeoutError (503), where with
   * every other store it goes on after `lockTimeout` and relies on compare-and-set.
   */
  readonly lockOnly?: boolean;
  /**
   * Optional: takes over a session an earlier library (express-session) stored under its raw id, so that live
   * sessions survive the switch. The manager calls it only after `get(key)` found nothing, for a cookie it
   * accepted as that library's (signed, see the manager's `legacyCookies`), with `key` the hash of `rawId`.
   * The store reads the raw entry; when there is none, it returns `get(key)` (a concurrent migration may have
   * moved it meanwhile), else `adopt(session)` (the manager's conversion: null means not taken over, and the
   * raw entry is left as it is). It then writes the record under `key` by compare-and-set as absent, deletes
   * the raw entry, and returns the record; when the write loses (a concurrent migration won), it returns
   * `get(key)`, the winner, and never overwrites it. So two requests with the same cookie, in one process or
   * several, end with one record under `key` and both see its data. Rejects only for a backend failure.
   */
  migrateLegacy?(rawId: string, key: string, adopt: LegacyAdopter): Promise<SessionRecord | null>;
  /** Optional: releases resources (a client the store opened itself). */
  close?(): Promise<void>;
}

/**
 * For store authors: checks the arguments of {@link SessionStore.set} and throws a `TypeError` prefixed
 * `[teller] [<part>]` for a caller's mistake (an empty key, a record that is not an object, a non-string
 * `data`, a non-integer `version` or `expected`, a `ttlMs` that is not a finite number >= 0), before
 * anything is written.
 *
 * @param part The store's name in error messages (e.g. `'memory-store'`).
 * @example
 * async set(key, record, expected, ttlMs) {
 *   assertSetArguments('redis-store', key, record, expected, ttlMs);
 *   // ...compare-and-set
 * }
 */
export function assertSetArguments(
  part: string,
  key: string,
  record: SessionRecord,
  expected: number | null,
  ttlMs: number,
): void {
  if (typeof key !== 'string' || key.length === 0)
    throw new TypeError(tellerMessage(part, `key must be a non-empty string`));
  if (record === null || typeof record !== 'object')
    throw new TypeError(tellerMessage(part, `record must be an object`));
  if (typeof record.data !== 'string')
    throw new TypeError(tellerMessage(part, `record.data must be a string`));
  if (!Number.isSafeInteger(record.version))
    throw new TypeError(tellerMessage(part, `record.version must be an integer`));
  if (expected !== null && !Number.isSafeInteger(expected)) {
    throw new TypeError(tellerMessage(part, `expected must be an integer or null`));
  }
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) {
    throw new TypeError(tellerMessage(part, `ttlMs must be a finite number >= 0`));
  }
}

/**
 * For store authors: checks the arguments of {@link SessionStore.scan} (a cursor that is null or a string, a
 * `limit` that is an integer >= 1) and throws a `TypeError` prefixed `[teller] [<part>]` for a caller's mistake.
 */
export function assertScanArguments(part: string, cursor: string | null, limit: number): void {
  if (cursor !== null && typeof cursor !== 'string')
    throw new TypeError(tellerMessage(part, `cursor must be a string or null`));
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new TypeError(tellerMessage(part, `limit must be an integer >= 1`));
}

/**
 * For store authors: checks the arguments of {@link SessionStore.retireByUser} (a non-empty user id; `by`
 * `'revoke'`; `at`, the lifetimes and `slackMs` finite numbers, the lifetimes, `minMs <= maxMs` and `slackMs`
 * not negative; `exceptKey` a string when given) and throws a `TypeError` prefixed `[teller] [<part>]`.
 */
export function assertRetireArguments(part: string, userId: string, options: RetireByUserOptions): void {
  if (typeof userId !== 'string' || userId.length === 0)
    throw new TypeError(tellerMessage(part, `userId must be a non-empty string`));
  if (options === null || typeof options !== 'object')
    throw new TypeError(tellerMessage(part, `retireByUser needs its options`));
  if (options.by !== 'revoke') throw new TypeError(tellerMessage(part, `retire.by must be 'revoke'`));
  if (options.exceptKey !== undefined && typeof options.exceptKey !== 'string')
    throw new TypeError(tellerMessage(part, `exceptKey must be a string`));
  const finite = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
  if (!finite(options.at)) throw new TypeError(tellerMessage(part, `retire.at must be a finite number`));
  for (const name of ['absoluteMs', 'rememberMeAbsoluteMs', 'minMs', 'maxMs', 'slackMs'] as const) {
    const value = options[name];
    if (!finite(value) || value < 0)
      throw new TypeError(tellerMessage(part, `retire.${name} must be a finite number >= 0`));
  }
  if (options.minMs > options.maxMs)
    throw new TypeError(tellerMessage(part, `retire.minMs must be at most retire.maxMs`));
}
