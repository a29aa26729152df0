import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionStoreError } from '../../src/session/errors.js';
import { RECORD_FORMAT, type SessionRecord } from '../../src/session/store.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { minimalRecord, runStoreContract } from './contract.js';

runStoreContract(
  'memory',
  ({ clock }) => {
    const store = createMemoryStore({ clock });
    return { store, cleanup: () => store.close() };
  },
  {
    abilities: {
      userIndex: true,
      retireByUser: true,
      purgeExpired: true,
      count: true,
      scan: true,
      clock: 'fake',
    },
  },
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
    // The timer removed the dead record: purgeExpired finds nothing left to remove.
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

  it('returns every known field as written, and a non-boolean persistent with the unknown fields', async () => {
    const store = createMemoryStore({ cleanupInterval: 0, maxEntries: 50_000 });
    const full = {
      ...minimalRecord(),
      userId: 'u1',
      persistent: false,
      movedTo: 'elsewhere',
      meta: { userAgent: 'ua', ip: '10.0.0.1' },
    };
    for (const [key, record] of [
      ['full', full],
      ['persistent', { ...minimalRecord(), persistent: true }],
      ['odd', { ...minimalRecord(), persistent: 'yes' as unknown as boolean, other: [1] } as SessionRecord],
    ] as const) {
      expect(await store.set(key, record, null, 1_000)).toBe(true);
      expect(await store.get(key)).toStrictEqual(record);
    }
    // An update of a key (its shard found once per call) replaces the record in place.
    expect(await store.set('full', { ...full, version: 2 }, 1, 1_000)).toBe(true);
    expect((await store.get('full'))?.version).toBe(2);
    expect(await store.count()).toBe(3);
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

describe('memory store: upkeep without stalls (issue 17)', () => {
  /** A store with a fake clock and no timer, holding `dead` records past their drop time at `now` and `live` ones. */
  async function filled(dead: number, live: number, options: { maxEntries?: number } = {}) {
    const clock = { now: 0 };
    const store = createMemoryStore({ clock: () => clock.now, cleanupInterval: 0, ...options });
    for (let i = 0; i < dead; i++) await store.set(`dead${i}`, minimalRecord({ userId: 'd' }), null, 1_000);
    for (let i = 0; i < live; i++) await store.set(`live${i}`, minimalRecord({ userId: 'l' }), null, 60_000);
    clock.now = 2_000;
    return { store, clock };
  }

  it('purges in batches with turns of the event loop between them; a call meanwhile joins the running purge', async () => {
    const { store, clock } = await filled(2_500, 10);
    const purge = store.purgeExpired(clock.now);
    const between: Array<Promise<number>> = [];
    // Runs after the purge's first batch and before its end, only if the purge yields to the event loop.
    setImmediate(() => {
      between.push(store.purgeExpired(clock.now));
    });
    const removed = await purge;
    expect(removed).toBe(2_500);
    expect(between).toHaveLength(1);
    // It joined the running purge (its own scan would have found the 500 left after two batches, or 0).
    expect(await between[0]).toBe(2_500);
    expect(await store.purgeExpired(clock.now)).toBe(0);
    expect(await store.count()).toBe(10);
    expect((await store.listByUser('l')).length).toBe(10);
    expect(await store.listByUser('d')).toEqual([]);
    await store.close();
  });

  it('a call joining a running purge with a later time extends it to that time; both get the whole count', async () => {
    const { store, clock } = await filled(2_500, 10);
    for (let i = 0; i < 5; i++) await store.set(`later${i}`, minimalRecord(), null, 5_000);
    const first = store.purgeExpired(clock.now);
    const joined = new Promise<number>((resolve) => setImmediate(() => resolve(store.purgeExpired(8_000))));
    expect(await first).toBe(2_505);
    expect(await joined).toBe(2_505);
    expect(await store.get('later0')).toBeNull();
    expect(await store.purgeExpired(8_000)).toBe(0);
    await store.close();
  });

  it('a small purge settles in one batch; close() during a long one ends it', async () => {
    const small = await filled(10, 1);
    expect(await small.store.purgeExpired(small.clock.now)).toBe(10);
    const big = await filled(3_000, 1);
    const running = big.store.purgeExpired(big.clock.now);
    await big.store.close();
    // The first batch ran before close(); the rest had nothing left to remove.
    expect(await running).toBe(1_000);
  });

  it('finds expired records through its expiry index: a rewrite with a longer or shorter ttl moves the record', async () => {
    let now = 0;
    const store = createMemoryStore({ clock: () => now, cleanupInterval: 0 });
    await store.set('longer', minimalRecord(), null, 1_000);
    await store.set('shorter', minimalRecord(), null, 60_000);
    now = 500;
    expect(await store.set('longer', minimalRecord({ version: 2 }), 1, 10_000)).toBe(true);
    expect(await store.set('shorter', minimalRecord({ version: 2 }), 1, 100)).toBe(true);
    now = 5_000;
    // 'shorter' dropped at 600; 'longer' kept to 10,500 although first written for 1,000.
    expect(await store.purgeExpired(now)).toBe(1);
    expect(await store.get('shorter')).toBeNull();
    expect((await store.get('longer'))?.version).toBe(2);
    // Kept to the millisecond: at its drop time still there, just after it gone.
    now = 10_500;
    expect(await store.purgeExpired(now)).toBe(0);
    expect(await store.get('longer')).not.toBeNull();
    now = 10_501;
    expect(await store.purgeExpired(now)).toBe(1);
    expect(await store.count()).toBe(0);
  });

  it('deletes and revocations leave nothing behind in the index: a key written again lives its own ttl', async () => {
    let now = 0;
    const store = createMemoryStore({ clock: () => now, cleanupInterval: 0 });
    for (const key of ['a', 'b', 'c']) await store.set(key, minimalRecord({ userId: 'u' }), null, 1_000);
    await store.set('d', minimalRecord(), null, 5_000);
    await store.delete('a');
    expect(await store.deleteByUser('u', { exceptKey: 'c' })).toBe(1);
    await store.set('a', minimalRecord(), null, 10_000);
    await store.set('b', minimalRecord({ userId: 'v' }), null, 10_000);
    now = 2_000;
    // Only 'c' is past its drop time: 'a' and 'b' are new records, and the deleted ones are gone from the index.
    expect(await store.purgeExpired(now)).toBe(1);
    expect(await store.count()).toBe(3);
    now = 6_000;
    expect(await store.purgeExpired(now)).toBe(1);
    expect((await store.listByUser('v')).map((e) => e.key)).toEqual(['b']);
    now = 10_001;
    expect(await store.purgeExpired(now)).toBe(2);
    expect(await store.count()).toBe(0);
  });

  it('count() counts the live records without purging: the dead ones are still there for purgeExpired', async () => {
    const { store, clock } = await filled(30, 7);
    expect(await store.count()).toBe(7);
    expect(await store.count()).toBe(7);
    expect(await store.purgeExpired(clock.now)).toBe(30);
    expect(await store.count()).toBe(7);
  });

  it('a write to a full store drops only a few dead records to make room (bounded work), never the live ones', async () => {
    const { store, clock } = await filled(300, 0, { maxEntries: 300 });
    expect(await store.set('new', minimalRecord(), null, 60_000)).toBe(true);
    const left = await store.purgeExpired(clock.now);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(300);
    expect(await store.get('new')).not.toBeNull();
  });

  it('purgeExpired needs a time: anything else is a TypeError', async () => {
    const store = createMemoryStore({ cleanupInterval: 0 });
    await expect(store.purgeExpired(Number.NaN)).rejects.toThrow(
      /^\[teller\] \[memory-store\] purgeExpired needs a time \(epoch ms\)$/,
    );
    await expect(store.purgeExpired('1' as unknown as number)).rejects.toThrow(TypeError);
    await store.close();
  });

  it('agrees with a plain model under random writes, deletes, revocations, time and purges (property)', async () => {
    type Op =
      | { kind: 'set'; key: number; ttl: number; user: number; stale: boolean }
      | { kind: 'delete'; key: number }
      | { kind: 'revoke'; user: number }
      | { kind: 'advance'; ms: number }
      | { kind: 'purge' }
      | { kind: 'count' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        key: fc.nat({ max: 40 }),
        ttl: fc.integer({ min: 0, max: 5_000 }),
        user: fc.nat({ max: 3 }),
        stale: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.nat({ max: 40 }) }),
      fc.record({ kind: fc.constant('revoke' as const), user: fc.nat({ max: 3 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2_000 }) }),
      fc.record({ kind: fc.constant('purge' as const) }),
      fc.record({ kind: fc.constant('count' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 150, size: 'max' }), async (ops) => {
        let now = 0;
        // Enough maxEntries for several shards (the keys spread over them).
        const store = createMemoryStore({ clock: () => now, cleanupInterval: 0, maxEntries: 50_000 });
        const model = new Map<string, { version: number; dropAt: number; userId: string | undefined }>();
        /** The store drops a dead record when it touches its key (get, set, a user's list or revocation): so does the model. */
        const touch = (key: string) => {
          const m = model.get(key);
          if (m !== undefined && now > m.dropAt) model.delete(key);
          return model.get(key);
        };
        for (const o of ops) {
          if (o.kind === 'set') {
            const key = `k${o.key}`;
            const current = touch(key);
            const userId = o.user === 0 ? undefined : `u${o.user}`;
            const expected = current === undefined ? (o.stale ? 1 : null) : o.stale ? null : current.version;
            const version = (current?.version ?? 0) + 1;
            const wins = expected === null ? current === undefined : current?.version === expected;
            expect(await store.set(key, minimalRecord({ version, userId }), expected, o.ttl)).toBe(wins);
            if (wins) model.set(key, { version, dropAt: now + o.ttl, userId });
          } else if (o.kind === 'delete') {
            await store.delete(`k${o.key}`);
            model.delete(`k${o.key}`);
          } else if (o.kind === 'revoke') {
            const user = `u${o.user}`;
            const theirs = [...model].filter(([, m]) => m.userId === user).map(([key]) => key);
            const mine = theirs.filter((key) => touch(key) !== undefined);
            expect(await store.deleteByUser(user)).toBe(mine.length);
            for (const key of mine) model.delete(key);
          } else if (o.kind === 'advance') {
            now += o.ms;
          } else if (o.kind === 'purge') {
            const dead = [...model].filter(([, m]) => now > m.dropAt).map(([key]) => key);
            expect(await store.purgeExpired(now)).toBe(dead.length);
            for (const key of dead) model.delete(key);
          } else {
            const live = [...model.values()].filter((m) => !(now > m.dropAt)).length;
            expect(await store.count()).toBe(live);
          }
        }
        for (let key = 0; key <= 40; key++) {
          expect((await store.get(`k${key}`))?.version).toBe(touch(`k${key}`)?.version);
        }
        for (const user of ['u1', 'u2', 'u3']) {
          const listed = (await store.listByUser(user)).map((e) => e.key).sort();
          const mine = [...model]
            .filter(([, m]) => m.userId === user)
            .map(([key]) => key)
            .sort();
          expect(listed).toEqual(mine);
        }
        await store.close();
      }),
      { numRuns: 200, seed: 17 },
    );
  });
});
