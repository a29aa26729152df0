/**
 * Private helper of the SQLite store: the records it updated in its last two event-loop turns, to answer the
 * next request of a session (the next turn, or the next in the queue of its lock) without a query, while no
 * other connection has changed the file (the store checks that; this only holds copies).
 *
 * What it saves (callgrind, bench/session-instructions.js, 50 clients): 90,500 instructions per request
 * without copies, 70,100 with, when each client keeps to its session; 113,100 and 94,600 when all share one.
 *
 * Two generations, the older dropped at each turn: a record is held for a turn or two, so copies die young
 * (cheap for the garbage collector) and a store with more sessions than it could hold pays no eviction. A
 * longer-lived map of 10,000 records, filled by every first write (a new session per request), cost 66,000
 * instructions more per request than no copies at all (137,800 against 71,400), most of it garbage
 * collection of records that outlived the young generation. First writes are not held: most new sessions
 * (one visit, a bot) are never read again.
 *
 * It holds only records of the shape the session manager writes (known fields, plain values), for which a
 * copy is exactly what a read of the row would give; any other record is simply not held.
 */
import type { SessionMeta, SessionRecord } from '../session/store.js';

interface Entry {
  readonly record: SessionRecord;
  /** The store's drop time of the row (its clock): absent after it, as the row's `expires_at`. */
  readonly dropAt: number;
}

/** The record fields a held record may have; a record with any other field is not held. */
const FIELDS = new Set([
  'format',
  'data',
  'version',
  'userId',
  'createdAt',
  'lastSeenAt',
  'expiresAt',
  'persistent',
  'movedTo',
  'rotatedTo',
  'meta',
]);

export class RecordCache {
  #current = new Map<string, Entry>();
  #previous = new Map<string, Entry>();
  readonly #max: number;

  /** At most `max` records in the two generations (a record past that is not held). */
  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** A new event-loop turn: the records of the turn before last are dropped. */
  turn(): void {
    if (this.#previous.size === 0 && this.#current.size === 0) return;
    this.#previous = this.#current;
    this.#current = new Map();
  }

  has(key: string): boolean {
    return this.#current.has(key) || this.#previous.has(key);
  }

  /** A copy of the record under `key`; null when past its drop time at `now`; undefined when not held. */
  get(key: string, now: number): SessionRecord | null | undefined {
    const entry = this.#current.get(key) ?? this.#previous.get(key);
    if (entry === undefined) return undefined;
    if (entry.dropAt < now) {
      this.delete(key);
      return null;
    }
    return copy(entry.record);
  }

  /**
   * A copy of `record` to hold (what a read of its row would return), or undefined for a record of another
   * shape. Taken when the record is written, before the caller can change it.
   */
  hold(record: SessionRecord): SessionRecord | undefined {
    return heldCopy(record);
  }

  /** Holds `held` (from {@link hold}) under `key` until `dropAt`; undefined forgets the key. */
  set(key: string, held: SessionRecord | undefined, dropAt: number): void {
    this.#previous.delete(key);
    if (held === undefined || (this.size >= this.#max && !this.#current.has(key))) {
      this.#current.delete(key);
      return;
    }
    this.#current.set(key, { record: held, dropAt });
  }

  delete(key: string): void {
    this.#current.delete(key);
    this.#previous.delete(key);
  }

  clear(): void {
    this.#current.clear();
    this.#previous.clear();
  }
}

const isText = (value: unknown): value is string | undefined =>
  value === undefined || typeof value === 'string';
/** A finite number a row gives back as it is (-0 comes back as 0). */
const isNumber = (value: unknown): value is number => Number.isFinite(value) && !Object.is(value, -0);
/** A string a TEXT column gives back as it is: SQLite stores UTF-8, so a lone surrogate would change. */
const isWellFormed = (value: string): boolean =>
  (value as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * A copy of a record of the manager's shape, which its row gives back unchanged (well-formed strings, finite
 * numbers, booleans; absent optional fields stay absent); undefined for any other record.
 */
function heldCopy(record: SessionRecord): SessionRecord | undefined {
  for (const name in record) if (!FIELDS.has(name)) return undefined;
  const { format, data, version, createdAt, lastSeenAt, expiresAt, persistent, meta } = record;
  const userId = record.userId;
  if (
    !isNumber(format) ||
    typeof data !== 'string' ||
    !isWellFormed(data) ||
    !isNumber(version) ||
    !isNumber(createdAt) ||
    !isNumber(lastSeenAt) ||
    !isNumber(expiresAt) ||
    !(persistent === undefined || typeof persistent === 'boolean') ||
    !(userId === undefined || (typeof userId === 'string' && isWellFormed(userId))) ||
    !isText(record.movedTo) ||
    !isText(record.rotatedTo)
  )
    return undefined;
  if (meta !== undefined) {
    if (meta === null || typeof meta !== 'object' || Object.getPrototypeOf(meta) !== Object.prototype)
      return undefined;
    for (const name in meta) if (name !== 'userAgent' && name !== 'ip') return undefined;
    if (!isText(meta.userAgent) || !isText(meta.ip)) return undefined;
  }
  return copy(record);
}

/** A fresh record with the same fields (a held record is of the manager's shape: a shallow copy and meta's). */
function copy(record: SessionRecord): SessionRecord {
  const out: SessionRecord = {
    format: record.format,
    data: record.data,
    version: record.version,
    createdAt: record.createdAt,
    lastSeenAt: record.lastSeenAt,
    expiresAt: record.expiresAt,
  };
  if (record.userId !== undefined) out.userId = record.userId;
  if (record.persistent !== undefined) out.persistent = record.persistent;
  if (record.movedTo !== undefined) out.movedTo = record.movedTo;
  if (record.rotatedTo !== undefined) out.rotatedTo = record.rotatedTo;
  const meta = record.meta;
  if (meta !== undefined) {
    const m: SessionMeta = {};
    if (meta.userAgent !== undefined) m.userAgent = meta.userAgent;
    if (meta.ip !== undefined) m.ip = meta.ip;
    out.meta = m;
  }
  return out;
}
