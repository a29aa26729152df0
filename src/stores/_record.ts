/**
 * Private helpers of the SQL stores (SQLite, PostgreSQL): a record as one row, its indexed and big fields
 * in columns and the rest (format, expiresAt, persistent, movedTo, rotatedTo, meta, unknown fields) in one
 * JSON column, so a later record format loses nothing.
 */
import { tellerMessage } from '../session/errors.js';
import type { SessionRecord } from '../session/store.js';

/** A row as the stores select it; numbers may come back as strings (a PostgreSQL bigint). */
export interface RecordRow {
  key?: string;
  version: number | string;
  user_id: string | null;
  data: string;
  created_at: number | string;
  last_seen_at: number | string;
  meta: string;
}

/** The record fields kept in the `meta` JSON column (everything but the indexed and the big ones). */
type RecordRest = Omit<SessionRecord, 'data' | 'version' | 'userId' | 'createdAt' | 'lastSeenAt'>;

export function toRecord(row: RecordRow): SessionRecord {
  return recordOf(row.version, row.user_id, row.data, row.created_at, row.last_seen_at, row.meta);
}

/** The record of a row's columns, given one by one (a store reading rows as arrays). */
export function recordOf(
  version: number | string,
  userId: string | null,
  data: string,
  createdAt: number | string,
  lastSeenAt: number | string,
  meta: string,
): SessionRecord {
  const rest = JSON.parse(meta) as RecordRest;
  const record = {
    format: rest.format,
    data,
    version: Number(version),
    createdAt: Number(createdAt),
    lastSeenAt: Number(lastSeenAt),
  } as SessionRecord;
  if (userId !== null) record.userId = userId;
  return Object.assign(record, rest);
}

/** The `meta` column of a record: every field without a column of its own, as JSON. */
export function restOf(record: SessionRecord): string {
  const { data: _data, version: _version, userId: _userId, createdAt: _c, lastSeenAt: _l, ...rest } = record;
  return JSON.stringify(rest);
}

/**
 * Throws a TypeError unless `table` is letters, digits and `_` (not starting with a digit), and at most `max`
 * characters when given: the only name a SQL store puts in its SQL.
 */
export function assertTableName(part: string, table: string, max?: number): void {
  const pattern =
    max === undefined ? /^[A-Za-z_][A-Za-z0-9_]*$/ : new RegExp(`^[A-Za-z_][A-Za-z0-9_]{0,${max - 1}}$`);
  if (typeof table !== 'string' || !pattern.test(table)) {
    const limit = max === undefined ? '' : ` (at most ${max})`;
    throw new TypeError(
      tellerMessage(part, `table must be letters, digits and _${limit}: ${JSON.stringify(table)}`),
    );
  }
}
