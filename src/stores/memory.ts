/**
 * `teller/stores/memory`: sessions in a `Map`, for tests and single-process apps.
 *
 * Implements the store contract of `src/session/store.ts`: compare-and-set on a version, a user index,
 * `count`, `purgeExpired` and `close`. A record is kept at least the `ttlMs` it was written with (by this
 * store's `clock`) and dropped physically after it: lazily when touched, and by a sweep on an unref'd timer.
 * The store never looks at `record.expiresAt`; the manager judges expiry.
 */

import { SessionStoreError, tellerMessage } from '../session/errors.js';
import {
  assertSetArguments,
  type SessionMeta,
  type SessionRecord,
  type SessionStore,
} from '../session/store.js';

/** The name used in this store's error messages. */
export const MEMORY_STORE_NAME = 'memory-store';

export interface MemoryStoreOptions {
  /**
   * The most records held at once (a small session takes some 500-700 bytes of heap: the default bounds
   * the store near 50-70 MB). When the store is full, a write of a new key is refused with a `SessionStoreError` (the
   * manager reports it, adapters answer 503) after dropping the records whose lifetime ended; updates of
   * keys already held still succeed. Nothing is ever evicted: the same store holds the deny, not-before,
   * tombstone and renewal-pointer records whose loss would let an ended session's cookie back in.
   * @default 100_000
   */
  maxEntries?: number;
  /**
   * How often (ms) the timer sweeps out records whose lifetime ended; `0` disables the timer (records past
   * their lifetime are still dropped when touched, and by `purgeExpired`). The timer never keeps the process alive.
   * @default 60_000
   */
  cleanupInterval?: number;
  /**
   * This store's clock (epoch ms), used only to turn `ttlMs` into a drop time. A parameter so tests need no sleep.
   * @default Date.now
   */
  clock?: () => number;
}

/** The default `maxEntries`: a bound on the heap (50-70 MB of small sessions), well above one process's needs. */
const DEFAULT_MAX_ENTRIES = 100_000;

/** When full, records past their lifetime are swept before refusing a write, at most this often (ms). */
const FULL_SWEEP_INTERVAL_MS = 1_000;

/** The memory store: the contract plus its optional abilities, all present. */
export interface MemoryStore extends Required<SessionStore> {}

const KNOWN = new Set([
  'format',
  'data',
  'version',
  'userId',
  'createdAt',
  'lastSeenAt',
  'expiresAt',
  'persistent',
  'movedTo',
  'meta',
]);

/** One record, held in fixed slots (one V8 shape for all entries) rather than a copy of the caller's object. */
class Entry {
  constructor(
    readonly format: number,
    readonly data: string,
    readonly version: number,
    readonly userId: string | undefined,
    readonly createdAt: number,
    readonly lastSeenAt: number,
    readonly expiresAt: number,
    readonly persistent: boolean | undefined,
    readonly movedTo: string | undefined,
    readonly userAgent: string | undefined,
    readonly ip: string | undefined,
    readonly hasMeta: boolean,
    /** Fields of the record this store does not know, kept as given (normally undefined). */
    readonly extra: Record<string, unknown> | undefined,
    /** This store's clock: the record may be dropped once the clock passes this time. */
    readonly dropAt: number,
  ) {}
}

function toEntry(record: SessionRecord, dropAt: number): Entry {
  let extra: Record<string, unknown> | undefined;
  for (const name of Object.keys(record)) {
    if (!KNOWN.has(name)) {
      extra ??= {};
      extra[name] = (record as unknown as Record<string, unknown>)[name];
    }
  }
  const meta = record.meta;
  return new Entry(
    record.format,
    record.data,
    record.version,
    record.userId,
    record.createdAt,
    record.lastSeenAt,
    record.expiresAt,
    record.persistent,
    record.movedTo,
    meta?.userAgent,
    meta?.ip,
    meta !== undefined,
    extra,
    dropAt,
  );
}

function toRecord(entry: Entry): SessionRecord {
  const record: SessionRecord = {
    format: entry.format,
    data: entry.data,
    version: entry.version,
    createdAt: entry.createdAt,
    lastSeenAt: entry.lastSeenAt,
    expiresAt: entry.expiresAt,
  };
  if (entry.userId !== undefined) record.userId = entry.userId;
  if (entry.persistent !== undefined) record.persistent = entry.persistent;
  if (entry.movedTo !== undefined) record.movedTo = entry.movedTo;
  if (entry.hasMeta) {
    const meta: SessionMeta = {};
    if (entry.userAgent !== undefined) meta.userAgent = entry.userAgent;
    if (entry.ip !== undefined) meta.ip = entry.ip;
    record.meta = meta;
  }
  if (entry.extra !== undefined) Object.assign(record, entry.extra);
  return record;
}

/**
 * Creates a memory store.
 *
 * @example
 * const manager = createSessionManager({ store: createMemoryStore({ maxEntries: 100_000 }) });
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const { maxEntries = DEFAULT_MAX_ENTRIES, cleanupInterval = 60_000, clock = Date.now } = options;
  if (!(maxEntries >= 1)) throw new TypeError(tellerMessage(MEMORY_STORE_NAME, `maxEntries must be >= 1`));
  if (!(cleanupInterval >= 0))
    throw new TypeError(tellerMessage(MEMORY_STORE_NAME, `cleanupInterval must be >= 0`));

  const entries = new Map<string, Entry>();
  const byUser = new Map<string, Set<string>>();
  let closed = false;
  /** When a full store last swept out dead records (by `clock`), so a flood of refused writes costs no scan each. */
  let sweptWhenFullAt = Number.NEGATIVE_INFINITY;

  const unindex = (key: string, userId: string | undefined): void => {
    if (userId === undefined) return;
    const keys = byUser.get(userId);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) byUser.delete(userId);
  };
  const remove = (key: string, entry: Entry): void => {
    entries.delete(key);
    unindex(key, entry.userId);
  };
  /** The entry under `key`, or undefined when absent or past its drop time (then dropped now). */
  const live = (key: string, now: number): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (now > entry.dropAt) {
      remove(key, entry);
      return undefined;
    }
    return entry;
  };
  const purge = (now: number): number => {
    let removed = 0;
    for (const [key, entry] of entries) {
      if (now > entry.dropAt) {
        remove(key, entry);
        removed++;
      }
    }
    return removed;
  };
  const open = (): void => {
    if (closed) throw new SessionStoreError(tellerMessage(MEMORY_STORE_NAME, 'the store is closed'));
  };
  /** Room for one more key: dead records are swept first (throttled); then a full store refuses. */
  const makeRoom = (now: number): void => {
    if (entries.size < maxEntries) return;
    if (now - sweptWhenFullAt >= FULL_SWEEP_INTERVAL_MS) {
      sweptWhenFullAt = now;
      purge(now);
      if (entries.size < maxEntries) return;
    }
    throw new SessionStoreError(
      tellerMessage(
        MEMORY_STORE_NAME,
        `the store is full (maxEntries ${maxEntries}): a new record was refused; nothing is evicted`,
      ),
    );
  };

  const timer = cleanupInterval > 0 ? setInterval(() => purge(clock()), cleanupInterval) : undefined;
  timer?.unref();

  return {
    immediate: true,
    settlesInTurn: true,
    lockOnly: false,
    async get(key) {
      open();
      const entry = live(key, clock());
      return entry === undefined ? null : toRecord(entry);
    },

    async set(key, record, expected, ttlMs) {
      open();
      assertSetArguments(MEMORY_STORE_NAME, key, record, expected, ttlMs);
      const now = clock();
      const current = live(key, now);
      if (expected === null ? current !== undefined : current?.version !== expected) return false;
      if (current === undefined) makeRoom(now);
      const entry = toEntry(record, now + ttlMs);
      if (current !== undefined && current.userId !== entry.userId) unindex(key, current.userId);
      entries.set(key, entry);
      if (entry.userId !== undefined) {
        let keys = byUser.get(entry.userId);
        if (keys === undefined) byUser.set(entry.userId, (keys = new Set()));
        keys.add(key);
      }
      return true;
    },

    async delete(key) {
      open();
      const entry = entries.get(key);
      if (entry !== undefined) remove(key, entry);
    },

    async listByUser(userId) {
      open();
      const keys = byUser.get(userId);
      if (keys === undefined) return [];
      const now = clock();
      const result: Array<{ key: string; record: SessionRecord }> = [];
      for (const key of [...keys]) {
        const entry = live(key, now);
        if (entry !== undefined) result.push({ key, record: toRecord(entry) });
      }
      return result;
    },

    async deleteByUser(userId, deleteOptions = {}) {
      open();
      const keys = byUser.get(userId);
      if (keys === undefined) return 0;
      const now = clock();
      let deleted = 0;
      for (const key of [...keys]) {
        if (key === deleteOptions.exceptKey) continue;
        const entry = live(key, now);
        if (entry === undefined) continue;
        remove(key, entry);
        deleted++;
      }
      return deleted;
    },

    async purgeExpired(now) {
      open();
      return purge(now);
    },

    async count() {
      open();
      purge(clock());
      return entries.size;
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      entries.clear();
      byUser.clear();
    },
  };
}
