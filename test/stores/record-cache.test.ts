/**
 * The SQLite store's copies of the records it updated (src/stores/_record-cache.ts): two generations, the
 * older dropped at each turn; a cap; copies in and out; only the manager's record shape held.
 */
import { describe, expect, it } from 'vitest';
import { RecordCache } from '../../src/stores/_record-cache.js';
import { fullRecord, minimalRecord } from './contract.js';

describe('RecordCache', () => {
  it('holds a record for the turn it was set in and the next, then drops it', () => {
    const cache = new RecordCache(100);
    cache.set('a', cache.hold(minimalRecord({ data: '"a"' })), 1_000);
    expect(cache.get('a', 0)?.data).toBe('"a"');
    cache.turn();
    cache.set('b', cache.hold(minimalRecord({ data: '"b"' })), 1_000);
    expect([cache.get('a', 0)?.data, cache.get('b', 0)?.data]).toEqual(['"a"', '"b"']);
    cache.turn();
    expect([cache.get('a', 0), cache.get('b', 0)?.data]).toEqual([undefined, '"b"']);
    // Set again, a record starts a new stay.
    cache.set('b', cache.hold(minimalRecord({ data: '"b2"' })), 1_000);
    cache.turn();
    expect(cache.get('b', 0)?.data).toBe('"b2"');
    cache.turn();
    cache.turn();
    expect(cache.size).toBe(0);
  });

  it('answers null past the drop time, and forgets a key set to undefined or deleted', () => {
    const cache = new RecordCache(100);
    cache.set('a', cache.hold(minimalRecord()), 1_000);
    expect(cache.get('a', 1_000)).not.toBeNull();
    expect(cache.get('a', 1_001)).toBeNull();
    expect(cache.has('a')).toBe(false);
    cache.set('b', cache.hold(minimalRecord()), 1_000);
    cache.turn();
    cache.set('b', undefined, 1_000);
    expect(cache.get('b', 0)).toBeUndefined();
    cache.set('c', cache.hold(minimalRecord()), 1_000);
    cache.turn();
    cache.delete('c');
    expect(cache.get('c', 0)).toBeUndefined();
  });

  it('holds at most its cap, counting both generations', () => {
    const cache = new RecordCache(3);
    for (const key of ['a', 'b']) cache.set(key, cache.hold(minimalRecord()), 1_000);
    cache.turn();
    for (const key of ['c', 'd', 'e']) cache.set(key, cache.hold(minimalRecord()), 1_000);
    expect(cache.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((key) => cache.has(key))).toEqual([true, true, true, false, false]);
    // A key already held in the newer generation is replaced though the cache is full.
    cache.set('c', cache.hold(minimalRecord({ data: '"c2"' })), 1_000);
    expect(cache.get('c', 0)?.data).toBe('"c2"');
  });

  it('copies in and out: changing the record given or a record returned changes nothing held', () => {
    const cache = new RecordCache(10);
    const record = fullRecord();
    cache.set('k', cache.hold(record), 1_000);
    record.data = 'changed';
    record.meta!.ip = 'changed';
    const got = cache.get('k', 0)!;
    expect(got).toStrictEqual(fullRecord());
    got.version = 99;
    got.meta!.userAgent = 'changed';
    expect(cache.get('k', 0)).toStrictEqual(fullRecord());
  });

  it('holds only the manager shape of record, which a row gives back unchanged', () => {
    const cache = new RecordCache(10);
    const others = [
      { ...minimalRecord(), later: 1 },
      minimalRecord({ meta: { ip: '::1', other: 'x' } as never }),
      minimalRecord({ meta: null as never }),
      minimalRecord({ data: '"\ud800"' }),
      minimalRecord({ userId: 'u\udc00' }),
      minimalRecord({ expiresAt: -0 }),
      minimalRecord({ lastSeenAt: Number.NaN }),
      minimalRecord({ persistent: 'yes' as never }),
      minimalRecord({ movedTo: 1 as never }),
    ];
    for (const record of others) expect(cache.hold(record), JSON.stringify(record)).toBeUndefined();
    const held = cache.hold(minimalRecord({ userId: undefined, lastSeenAt: 1.5, meta: {} }));
    expect(held).toStrictEqual({ ...minimalRecord({ lastSeenAt: 1.5 }), meta: {} });
  });
});
