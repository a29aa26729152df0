/**
 * `teller/stores/memory`: sessions in memory, for tests and single-process apps.
 *
 * Implements the store contract of `src/session/store.ts`: compare-and-set on a version, a user index,
 * `count`, `purgeExpired` and `close`. A record is kept at least the `ttlMs` it was written with (by this
 * store's `clock`) and dropped physically after it: lazily when touched, and by a sweep on an unref'd timer.
 * The store never looks at `record.expiresAt`; the manager judges expiry.
 *
 * Upkeep never stalls the process, also at a million records (issue 17; measured with one `Map` of 1,000,000
 * records: a purge, a count or one write blocked the event loop 100-770 ms at once): the records are spread over many smaller `Map`s (shards, by a hash of
 * the key), so the rehash a `Map` does when its table fills (V8 rebuilds the whole table in one step) touches a
 * few thousand records, never all; an expiry heap (`_expiry.ts`) gives the records whose drop time passed,
 * earliest first, so a purge touches only those and never scans the live ones; a purge removes them in
 * batches with a turn of the event loop between them, and is never run twice at once; `count` counts without
 * purging; and a full store makes room from the top of the heap, a few records at a time.
 */

import { SessionStoreError, tellerMessage } from '../session/errors.js';
import {
  assertRetireArguments,
  assertScanArguments,
  assertSetArguments,
  retiredRecordOf,
  retiredTtlOf,
  type SessionMeta,
  type SessionRecord,
  type SessionStore,
} from '../session/store.js';
import { ExpiryHeap } from './_expiry.js';

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
   * How often (ms) the timer sweeps out records whose lifetime ended (only those: found through the expiry
   * index, removed in batches with turns of the event loop between them; a tick while a sweep runs joins it);
   * `0` disables the timer (records past their lifetime are still dropped when touched, and by `purgeExpired`).
   * The timer never keeps the process alive.
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

/**
 * Records per shard (`Map`) a full store holds at most, on average: the shard count is the power of two that
 * keeps `maxEntries` within this, so the rehash of one shard touches a few thousand records (about a
 * millisecond, where the rehash of one `Map` of a million took 250-450 ms), while a small store keeps a few `Map`s.
 */
const SHARD_RECORDS = 4_096;
/** The most shards (a store with a huge or infinite `maxEntries`). */
const MAX_SHARDS = 4_096;
/** Records a purge removes between two turns of the event loop (a few ms at a million records). */
const PURGE_BATCH = 1_000;
/** Records past their lifetime a write to a full store drops to make room (from the top of the heap). */
const ROOM_BATCH = 64;

/** The memory store: the contract plus its optional abilities, all present (no `migrateLegacy`: nothing to migrate from). */
export interface MemoryStore extends Required<Omit<SessionStore, 'migrateLegacy'>> {}

/** `Entry.flags` bits: whether the record had `meta`, and its `persistent` (absent, true or false). */
const HAS_META = 1;
const PERSISTENT_TRUE = 2;
const PERSISTENT_FALSE = 4;

/**
 * One record, held in fixed slots (one V8 shape for all entries) rather than a copy of the caller's object.
 * Its drop time is kept by the expiry heap (a flat array of numbers), not here: one boxed number less per record.
 */
class Entry {
  /** Its place in the expiry heap (kept by the heap). */
  slot = 0;
  constructor(
    /** Its key, for the purge that finds it through the heap. */
    readonly key: string,
    readonly format: number,
    readonly data: string,
    readonly version: number,
    readonly userId: string | undefined,
    readonly createdAt: number,
    readonly lastSeenAt: number,
    readonly expiresAt: number,
    readonly movedTo: string | undefined,
    readonly userAgent: string | undefined,
    readonly ip: string | undefined,
    /** HAS_META, PERSISTENT_TRUE, PERSISTENT_FALSE. */
    readonly flags: number,
    /** Fields of the record this store does not know, kept as given (normally undefined). */
    readonly extra: Record<string, unknown> | undefined,
  ) {}
}

function toEntry(key: string, record: SessionRecord): Entry {
  let extra: Record<string, unknown> | undefined;
  for (const name of Object.keys(record)) {
    // The known fields by a switch (no Set lookup per field). A `persistent` that is not a boolean (not the
    // contract's, but kept as given) rides with the unknown fields.
    switch (name) {
      case 'format':
      case 'data':
      case 'version':
      case 'userId':
      case 'createdAt':
      case 'lastSeenAt':
      case 'expiresAt':
      case 'movedTo':
      case 'meta':
        continue;
      case 'persistent':
        if (typeof record.persistent === 'boolean') continue;
    }
    extra ??= {};
    extra[name] = (record as unknown as Record<string, unknown>)[name];
  }
  const meta = record.meta;
  const persistent = record.persistent;
  const flags =
    (meta !== undefined ? HAS_META : 0) |
    (persistent === true ? PERSISTENT_TRUE : persistent === false ? PERSISTENT_FALSE : 0);
  return new Entry(
    key,
    record.format,
    record.data,
    record.version,
    record.userId,
    record.createdAt,
    record.lastSeenAt,
    record.expiresAt,
    record.movedTo,
    meta?.userAgent,
    meta?.ip,
    flags,
    extra,
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
  if (entry.flags & PERSISTENT_TRUE) record.persistent = true;
  else if (entry.flags & PERSISTENT_FALSE) record.persistent = false;
  if (entry.movedTo !== undefined) record.movedTo = entry.movedTo;
  if (entry.flags & HAS_META) {
    const meta: SessionMeta = {};
    if (entry.userAgent !== undefined) meta.userAgent = entry.userAgent;
    if (entry.ip !== undefined) meta.ip = entry.ip;
    record.meta = meta;
  }
  if (entry.extra !== undefined) Object.assign(record, entry.extra);
  return record;
}

/** The shard count for `maxEntries`: a power of two, from 1 to {@link MAX_SHARDS}. */
function shardCount(maxEntries: number): number {
  let shards = 1;
  while (shards < MAX_SHARDS && shards * SHARD_RECORDS < maxEntries) shards *= 2;
  return shards;
}

/** A 32-bit FNV-1a hash of a string: spreads keys of any shape (hashes, counters, prefixes) over the shards. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Calls each `onProgress` of a purge; one that throws is the caller's problem, never the purge's. */
function tell(listeners: ReadonlyArray<(removed: number) => void>, removed: number): void {
  for (const listener of listeners) {
    try {
      listener(removed);
    } catch {
      // A progress display that fails must not stop a purge run by a timer callback.
    }
  }
}

/** A purge in progress: the later `now` a caller joining it asked for, and what it removed so far. */
interface PurgeRun {
  bound: number;
  removed: number;
  done: Promise<number>;
  /** The `onProgress` of the calls that started or joined it. */
  listeners: Array<(removed: number) => void>;
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

  const mask = shardCount(maxEntries) - 1;
  const shards = Array.from({ length: mask + 1 }, () => new Map<string, Entry>());
  /** The user index, sharded like the records: userId -> the keys of that user's records. */
  const users = Array.from({ length: mask + 1 }, () => new Map<string, Set<string>>());
  const shardOf = (key: string) => shards[hashOf(key) & mask]!;
  const usersOf = (userId: string) => users[hashOf(userId) & mask]!;
  const expiry = new ExpiryHeap<Entry>();
  let closed = false;
  let running: PurgeRun | undefined;

  const index = (key: string, userId: string | undefined): void => {
    if (userId === undefined) return;
    const shard = usersOf(userId);
    let keys = shard.get(userId);
    if (keys === undefined) shard.set(userId, (keys = new Set()));
    keys.add(key);
  };
  const unindex = (key: string, userId: string | undefined): void => {
    if (userId === undefined) return;
    const shard = usersOf(userId);
    const keys = shard.get(userId);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) shard.delete(userId);
  };
  const remove = (entry: Entry): void => {
    shardOf(entry.key).delete(entry.key);
    expiry.remove(entry);
    unindex(entry.key, entry.userId);
  };
  /** The entry under `key`, or undefined when absent or past its drop time (then dropped now). */
  const live = (key: string, now: number, shard = shardOf(key)): Entry | undefined => {
    const entry = shard.get(key);
    if (entry === undefined) return undefined;
    if (now > expiry.timeOf(entry)) {
      remove(entry);
      return undefined;
    }
    return entry;
  };
  /** Drops up to `limit` records whose drop time is before `now`, earliest first; how many it dropped. */
  const drop = (now: number, limit: number): number => {
    let removed = 0;
    for (let entry = expiry.firstBefore(now); entry !== undefined; entry = expiry.firstBefore(now)) {
      if (removed === limit) break;
      remove(entry);
      removed++;
    }
    return removed;
  };
  /**
   * Removes the records whose drop time is before `now`: a batch now, then a batch per turn of the event loop
   * (setImmediate), so requests and timers run in between. One run at a time: a call while one runs joins it
   * (the run goes on to the later of the two `now`s, and both get the count of the whole run).
   */
  const purge = (now: number, onProgress?: (removed: number) => void): Promise<number> => {
    if (running !== undefined) {
      if (now > running.bound) running.bound = now;
      if (onProgress !== undefined) running.listeners.push(onProgress);
      return running.done;
    }
    const first = drop(now, PURGE_BATCH);
    if (first < PURGE_BATCH || expiry.firstBefore(now) === undefined) return Promise.resolve(first);
    const run = {
      bound: now,
      removed: first,
      listeners: onProgress === undefined ? [] : [onProgress],
    } as PurgeRun;
    tell(run.listeners, first);
    run.done = new Promise<number>((resolve) => {
      const next = () => {
        // close() emptied the store: nothing is left to remove.
        const removed = closed ? 0 : drop(run.bound, PURGE_BATCH);
        run.removed += removed;
        if (removed < PURGE_BATCH || expiry.firstBefore(run.bound) === undefined) {
          running = undefined;
          resolve(run.removed);
        } else {
          tell(run.listeners, run.removed);
          setImmediate(next);
        }
      };
      setImmediate(next);
    });
    running = run;
    return run.done;
  };
  const open = (): void => {
    if (closed) throw new SessionStoreError(tellerMessage(MEMORY_STORE_NAME, 'the store is closed'));
  };
  /** Room for one more key: records past their lifetime are dropped first (a few, earliest first); then a full store refuses. */
  const makeRoom = (now: number): void => {
    if (expiry.size < maxEntries) return;
    drop(now, ROOM_BATCH);
    if (expiry.size < maxEntries) return;
    throw new SessionStoreError(
      tellerMessage(
        MEMORY_STORE_NAME,
        `the store is full (maxEntries ${maxEntries}): a new record was refused; nothing is evicted`,
      ),
    );
  };

  const timer =
    cleanupInterval > 0
      ? setInterval(() => {
          // While a purge runs, this joins it (no second scan).
          void purge(clock());
        }, cleanupInterval)
      : undefined;
  timer?.unref();

  const getNow = (key: string): SessionRecord | null => {
    open();
    const entry = live(key, clock());
    return entry === undefined ? null : toRecord(entry);
  };
  const setNow = (key: string, record: SessionRecord, expected: number | null, ttlMs: number): boolean => {
    open();
    assertSetArguments(MEMORY_STORE_NAME, key, record, expected, ttlMs);
    const now = clock();
    // The key is hashed once per call: its shard serves the lookup and the write.
    const shard = shardOf(key);
    const current = live(key, now, shard);
    if (expected === null ? current !== undefined : current?.version !== expected) return false;
    if (current === undefined) makeRoom(now);
    const entry = toEntry(key, record);
    // Setting a key the shard holds replaces its value in place: no new slot in the Map's table.
    shard.set(key, entry);
    if (current === undefined) {
      expiry.push(entry, now + ttlMs);
      index(key, entry.userId);
    } else {
      expiry.replace(current, entry, now + ttlMs);
      if (current.userId !== entry.userId) {
        unindex(key, current.userId);
        index(key, entry.userId);
      }
    }
    return true;
  };
  const deleteNow = (key: string): void => {
    open();
    const entry = shardOf(key).get(key);
    if (entry !== undefined) remove(entry);
  };

  const store: Omit<MemoryStore, 'getNow' | 'setNow' | 'deleteNow'> = {
    immediate: true,
    settlesInTurn: true,
    lockOnly: false,
    async get(key) {
      return getNow(key);
    },

    async set(key, record, expected, ttlMs) {
      return setNow(key, record, expected, ttlMs);
    },

    async delete(key) {
      deleteNow(key);
    },

    async listByUser(userId) {
      open();
      const keys = usersOf(userId).get(userId);
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
      const keys = usersOf(userId).get(userId);
      if (keys === undefined) return 0;
      const now = clock();
      let deleted = 0;
      for (const key of [...keys]) {
        if (key === deleteOptions.exceptKey) continue;
        const entry = live(key, now);
        if (entry === undefined) continue;
        remove(entry);
        deleted++;
      }
      return deleted;
    },

    /** As deleteByUser, each record replaced by its retirement record (out of the user index) in place. */
    async retireByUser(userId, retireOptions) {
      open();
      assertRetireArguments(MEMORY_STORE_NAME, userId, retireOptions);
      const keys = usersOf(userId).get(userId);
      if (keys === undefined) return 0;
      const now = clock();
      let retired = 0;
      for (const key of [...keys]) {
        if (key === retireOptions.exceptKey) continue;
        const shard = shardOf(key);
        const entry = live(key, now, shard);
        if (entry === undefined) continue;
        const record = retiredRecordOf(entry, userId, retireOptions);
        const ttl = retiredTtlOf(
          { createdAt: entry.createdAt, persistent: (entry.flags & PERSISTENT_TRUE) !== 0 },
          retireOptions,
        );
        const next = toEntry(key, record);
        shard.set(key, next);
        expiry.replace(entry, next, now + ttl);
        unindex(key, entry.userId);
        retired++;
      }
      return retired;
    },

    /**
     * Removes the records past their drop time at `now`, in batches between which the event loop turns: the
     * promise may settle later (the manager never calls this; `immediate` is about its request-path calls).
     * A call while a purge runs joins it: the run goes on to the later `now`, and both calls get its count.
     */
    async purgeExpired(now, purgeOptions) {
      open();
      if (typeof now !== 'number' || Number.isNaN(now))
        throw new TypeError(tellerMessage(MEMORY_STORE_NAME, `purgeExpired needs a time (epoch ms)`));
      return purge(now, purgeOptions?.onProgress);
    },

    /** The records held and live by this store's clock; those past their drop time are counted out, not purged. */
    async count() {
      open();
      return expiry.size - expiry.countBefore(clock());
    },

    /**
     * A page of the records held, shard by shard and within a shard in key order (the cursor is the shard and
     * the last key returned), so a record held throughout is returned once. A page sorts the keys of the shards
     * it reads (a few thousand each): for tools, not for requests.
     */
    async scan(cursor, limit) {
      open();
      assertScanArguments(MEMORY_STORE_NAME, cursor, limit);
      let shard = 0;
      let after: string | undefined;
      if (cursor !== null) {
        const colon = cursor.indexOf(':');
        shard = colon > 0 ? Number(cursor.slice(0, colon)) : Number.NaN;
        if (!Number.isSafeInteger(shard) || shard < 0 || shard > mask)
          throw new TypeError(tellerMessage(MEMORY_STORE_NAME, 'cursor is not one this store gave'));
        after = cursor.slice(colon + 1);
      }
      const now = clock();
      const entries: Array<{ key: string; record: SessionRecord }> = [];
      for (; shard <= mask; shard++, after = undefined) {
        const keys = [...shards[shard]!.keys()];
        const next = (after === undefined ? keys : keys.filter((key) => key > (after as string))).sort();
        for (const key of next) {
          const entry = live(key, now);
          if (entry === undefined) continue;
          entries.push({ key, record: toRecord(entry) });
          if (entries.length === limit) return { entries, cursor: `${shard}:${key}` };
        }
      }
      return { entries, cursor: null };
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      for (const shard of shards) shard.clear();
      for (const shard of users) shard.clear();
      expiry.clear();
    },
  };
  // The synchronous forms the manager uses on its request path (store.ts): not enumerable, so that a wrapper
  // spread from this store (`{ ...store, set }`) keeps its own methods on every call rather than these.
  const hidden = { enumerable: false, writable: false, configurable: false } as const;
  return Object.defineProperties(store, {
    getNow: { ...hidden, value: getNow },
    setNow: { ...hidden, value: setNow },
    deleteNow: { ...hidden, value: deleteNow },
  }) as MemoryStore;
}
