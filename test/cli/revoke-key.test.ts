/**
 * `teller sessions revoke <key>` when the app writes the record meanwhile (revokeKey in src/cli/sessions.ts): it
 * reads again after a failed compare-and-set and never deletes or overwrites a record it did not read.
 */
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/output.js';
import { revokeKey } from '../../src/cli/sessions.js';
import { makeRecord } from '../../src/session/records.js';
import type { SessionRecord } from '../../src/session/store.js';
import { TestStore } from '../session/helpers.js';

const NOW = Date.UTC(2026, 11, 3);
const KEY = 'k'.repeat(43);

function live(version = 1): SessionRecord {
  const record = makeRecord('{"n":1}', version, NOW - 1000, NOW - 1000, NOW + 3_600_000);
  record.userId = 'bob';
  return record;
}

/** A store where the app writes `next(current)` under the key just before each of the CLI's first `times` sets. */
class Racing extends TestStore {
  constructor(
    private times: number,
    private readonly next: (current: SessionRecord) => SessionRecord,
  ) {
    super();
  }
  override async set(key: string, record: SessionRecord, expected: number | null, ttlMs: number) {
    if (this.times > 0 && expected !== null) {
      this.times--;
      const current = this.records.get(key)!.record;
      this.records.set(key, { record: this.next(current), ttlMs: 60_000 });
    }
    return super.set(key, record, expected, ttlMs);
  }
}

describe('revoke <key> racing the app', () => {
  it('a write of the session meanwhile: read again, then retired', async () => {
    const store = new Racing(1, (current) => ({ ...current, version: current.version + 1, data: '{"n":2}' }));
    store.records.set(KEY, { record: live(), ttlMs: 60_000 });
    expect(await revokeKey(store, KEY, NOW)).toBe(1);
    const after = store.records.get(KEY)!.record;
    expect(after.retired).toMatchObject({ by: 'revoke', user: 'bob' });
    expect(after.version).toBe(3);
  });

  it('a renewal meanwhile: its pointer is left as it is, and nothing is reported revoked', async () => {
    const pointer = (current: SessionRecord): SessionRecord => ({
      ...makeRecord('', current.version + 1, 0, 0, NOW + 10_000),
      movedTo: 'n'.repeat(43),
      retired: { by: 'renewal', at: NOW, user: 'bob' },
    });
    const store = new Racing(1, pointer);
    store.records.set(KEY, { record: live(), ttlMs: 60_000 });
    expect(await revokeKey(store, KEY, NOW)).toBe(0);
    expect(store.records.get(KEY)!.record.movedTo).toBe('n'.repeat(43));
  });

  it('a session written on every attempt: a clear error, the record untouched', async () => {
    const store = new Racing(99, (current) => ({ ...current, version: current.version + 1 }));
    store.records.set(KEY, { record: live(), ttlMs: 60_000 });
    await expect(revokeKey(store, KEY, NOW)).rejects.toThrow(CliError);
    const after = store.records.get(KEY)!.record;
    expect(after.retired).toBeUndefined();
    expect(after.userId).toBe('bob');
  });

  it('nothing, an expired record, a retirement record: 0', async () => {
    const store = new TestStore();
    expect(await revokeKey(store, KEY, NOW)).toBe(0);
    store.records.set(KEY, { record: makeRecord('{}', 1, NOW - 9000, NOW - 9000, NOW - 1), ttlMs: 60_000 });
    expect(await revokeKey(store, KEY, NOW)).toBe(0);
    expect(store.records.has(KEY)).toBe(false);
    store.records.set(KEY, { record: live(), ttlMs: 60_000 });
    expect(await revokeKey(store, KEY, NOW)).toBe(1);
    expect(await revokeKey(store, KEY, NOW)).toBe(0);
    expect(store.records.get(KEY)!.record.retired?.by).toBe('revoke');
  });
});
