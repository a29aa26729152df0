import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionStoreError } from '../../src/session/errors.js';
import { RECORD_FORMAT } from '../../src/session/store.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { minimalRecord, runStoreContract } from './contract.js';

runStoreContract(
  'memory',
  ({ clock }) => {
    const store = createMemoryStore({ clock });
    return { store, cleanup: () => store.close() };
  },
  { abilities: { userIndex: true, purgeExpired: true, count: true, clock: 'fake' } },
);

describe('memory store: its own behaviour', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('drops a record once its ttl has passed by its clock (lazily, on access)', async () => {
    let now = 1_000;
    const store = createMemoryStore({ clock: () => now, cleanupInterval: 0 });
    await store.set('k', minimalRecord({ userId: 'u' }), null, 5_000);
    now += 5_000;
    expect(await store.get('k')).not.toBeNull();
    now += 1;
    expect(await store.get('k')).toBeNull();
    expect(await store.listByUser('u')).toEqual([]);
    // A dead record is absent for compare-and-set too: a first write succeeds, an update does not.
    expect(await store.set('k', minimalRecord({ version: 2 }), 1, 5_000)).toBe(false);
    expect(await store.set('k', minimalRecord(), null, 5_000)).toBe(true);
  });

  it('sweeps dead records on its timer, not before their ttl', async () => {
    vi.useFakeTimers();
    let now = 0;
    const store = createMemoryStore({ clock: () => now, cleanupInterval: 1_000 });
    await store.set('short', minimalRecord(), null, 1_500);
    await store.set('long', minimalRecord(), null, 10_000);
    now = 1_000;
    vi.advanceTimersByTime(1_000);
    expect(await store.count()).toBe(2);
    now = 2_000;
    vi.advanceTimersByTime(1_000);
    // count() would purge as well; peek through listByUser-free paths: purgeExpired finds nothing left to remove.
    expect(await store.purgeExpired(now)).toBe(0);
    expect(await store.count()).toBe(1);
    await store.close();
  });

  it('when full, refuses a new key with a SessionStoreError naming the limit; evicts nothing; updates still succeed', async () => {
    const store = createMemoryStore({ maxEntries: 3, cleanupInterval: 0 });
    for (const key of ['a', 'b', 'c']) await store.set(key, minimalRecord({ userId: 'u' }), null, 60_000);
    const refused = store.set('d', minimalRecord({ userId: 'u' }), null, 60_000);
    await expect(refused).rejects.toBeInstanceOf(SessionStoreError);
    await expect(refused).rejects.toThrow(
      /^\[teller\] \[memory-store\] the store is full \(maxEntries 3\): a new record was refused; nothing is evicted$/,
    );
    expect(await store.get('d')).toBeNull();
    // Nothing was evicted: every record, and the user index, as before.
    for (const key of ['a', 'b', 'c']) expect(await store.get(key)).not.toBeNull();
    expect((await store.listByUser('u')).map((e) => e.key).sort()).toEqual(['a', 'b', 'c']);
    // Keys it holds are still written (compare-and-set as ever), and deleting makes room.
    expect(await store.set('a', minimalRecord({ version: 2 }), 1, 60_000)).toBe(true);
    expect(await store.set('b', minimalRecord({ version: 9 }), 5, 60_000)).toBe(false);
    expect(await store.set('c', minimalRecord(), null, 60_000)).toBe(false);
    expect((await store.get('a'))?.version).toBe(2);
    await store.delete('b');
    expect(await store.set('d', minimalRecord(), null, 60_000)).toBe(true);
    expect(await store.count()).toBe(3);
    await store.close();
  });

  it('when full, drops the records whose lifetime ended before refusing', async () => {
    let now = 0;
    const store = createMemoryStore({ maxEntries: 2, cleanupInterval: 0, clock: () => now });
    await store.set('short', minimalRecord(), null, 1_000);
    await store.set('long', minimalRecord(), null, 60_000);
    now = 2_000;
    expect(await store.set('new', minimalRecord(), null, 60_000)).toBe(true);
    expect(await store.get('short')).toBeNull();
    await expect(store.set('newer', minimalRecord(), null, 60_000)).rejects.toThrow(/full/);
    expect(await store.get('long')).not.toBeNull();
    await store.close();
  });

  it('holds at most 100,000 records by default', async () => {
    const store = createMemoryStore({ cleanupInterval: 0 });
    const record = minimalRecord();
    for (let i = 0; i < 100_000; i++) await store.set(`k${i}`, record, null, 60_000);
    await expect(store.set('one-more', record, null, 60_000)).rejects.toThrow(/maxEntries 100000/);
    expect(await store.set('k0', minimalRecord({ version: 2 }), 1, 60_000)).toBe(true);
    expect(await store.count()).toBe(100_000);
    await store.close();
  });

  it('rejects bad arguments with a TypeError before writing anything', async () => {
    const store = createMemoryStore({ cleanupInterval: 0 });
    await expect(store.set('k', minimalRecord(), null, Number.NaN)).rejects.toThrow(TypeError);
    await expect(store.set('k', minimalRecord(), null, -1)).rejects.toThrow(/ttlMs/);
    await expect(store.set('', minimalRecord(), null, 1)).rejects.toThrow(/key/);
    await expect(store.set('k', minimalRecord({ version: 1.5 }), null, 1)).rejects.toThrow(/version/);
    await expect(
      store.set('k', { ...minimalRecord(), data: 5 as unknown as string }, null, 1),
    ).rejects.toThrow(/\[teller\] \[memory-store\] record\.data/);
    expect(await store.count()).toBe(0);
    expect(() => createMemoryStore({ maxEntries: 0 })).toThrow(TypeError);
  });

  it('keeps fields it does not know, so a later record format loses nothing', async () => {
    const store = createMemoryStore({ cleanupInterval: 0 });
    const record = { ...minimalRecord(), notBefore: 42 };
    await store.set('k', record, null, 1_000);
    expect(await store.get('k')).toStrictEqual(record);
  });

  it('after close, every operation rejects; close twice is fine', async () => {
    const store = createMemoryStore();
    await store.set('k', minimalRecord(), null, 1_000);
    await store.close();
    await store.close();
    await expect(store.get('k')).rejects.toThrow(/\[teller\] \[memory-store\] the store is closed/);
    await expect(store.set('k', minimalRecord(), null, 1_000)).rejects.toThrow(/closed/);
  });

  it('100,000 small sessions add under 100 MB of heap', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = createMemoryStore({ cleanupInterval: 0 });
    const n = 100_000;
    // Build the inputs as a request would: fresh strings per session (a hashed id, a header's user agent).
    gc();
    const before = process.memoryUsage().heapUsed;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const key = `${i.toString(36).padStart(8, '0')}${'x'.repeat(35)}`.slice(0, 43);
      await store.set(
        key,
        {
          format: RECORD_FORMAT,
          data: `{"counter":${i},"cart":[]}`,
          version: 1,
          userId: i % 4 === 0 ? `user-${i % 1000}` : undefined,
          createdAt: now,
          lastSeenAt: now,
          expiresAt: now + 1_800_000,
          meta: {
            userAgent: `Mozilla/5.0 (X11; Linux x86_64; rv:${i % 100}.0) Gecko/20100101 Firefox/${i}`,
            ip: `10.0.${(i >> 8) & 255}.${i & 255}`,
          },
        },
        null,
        1_800_000,
      );
    }
    gc();
    const added = process.memoryUsage().heapUsed - before;
    expect(await store.count()).toBe(n);
    console.info(
      `[memory-store] 100,000 sessions: ${(added / 1e6).toFixed(1)} MB heap, ${Math.round(added / n)} bytes each`,
    );
    expect(added).toBeLessThan(100 * 1024 * 1024);
    await store.close();
  });
});
