/**
 * The shared store contract suite. Every store runs it against its real backend, Teller's own and
 * third-party ones alike (`teller/testing`, under Vitest):
 *
 *   runStoreContract('memory', ({ clock }) => ({ store: createMemoryStore({ clock }) }), {
 *     abilities: { userIndex: true, purgeExpired: true, count: true, clock: 'fake' },
 *   });
 *
 * Each sentence of the doc comments in `src/session/store.ts` is one or more tests here. Abilities a store
 * lacks become skipped tests (and a store that has a method it does not declare, or lacks one it declares,
 * fails the "declares its abilities" test).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLive } from '../session/records.js';
import {
  RECORD_FORMAT,
  type RetireByUserOptions,
  retiredRecordOf,
  retiredTtlOf,
  type SessionRecord,
  type SessionStore,
} from '../session/store.js';

export interface StoreAbilities {
  /** `listByUser` and `deleteByUser`. */
  userIndex: boolean;
  /**
   * `retireByUser` (with `userIndex`): a revocation that leaves retirement records in one call. `true` runs its
   * tests, `false` checks that the store has no `retireByUser`; left out, its tests are skipped and the store is
   * not checked either way (a suite written before this ability runs as it did).
   */
  retireByUser?: boolean;
  purgeExpired: boolean;
  count: boolean;
  /**
   * `'fake'`: the store turns `ttlMs` into a drop time with the `clock` the suite passes to `makeStore`, so
   * time is advanced without sleeping. `'real'`: the backend keeps its own time (Redis PEXPIRE); the ttl
   * tests then wait real (short) time.
   */
  clock: 'fake' | 'real';
  /**
   * Whether `set` compares and writes atomically, so that of concurrent writers expecting the same version
   * exactly one wins. `false` for a store whose `set` is a read-check-write (`lockOnly` stores, such as an
   * express-session store behind `fromExpressStore`): the tests of concurrent writers are skipped, the
   * sequential compare-and-set tests still run.
   * @default true
   */
  atomicCompareAndSet?: boolean;
  /**
   * `scan`: the store lists every record it holds, a page at a time (for tools such as the `teller` CLI).
   * `true` runs its tests, `false` checks that the store has no `scan`; left out, its tests are skipped and the
   * store is not checked either way (a suite written before this ability runs as it did).
   */
  scan?: boolean;
  /**
   * `migrateLegacy`: the store takes over sessions an earlier library (express-session) stored under their raw
   * id. Its tests need the harness's `legacy` to write such a session.
   * @default false
   */
  migrateLegacy?: boolean;
}

/** What the `migrateLegacy` tests need: the earlier library's entries, written and looked up by raw id. */
export interface LegacyEntries {
  /** Stores `session` under `rawId` as the earlier library did (express-session's `store.set(sid, session)`). */
  write(rawId: string, session: Record<string, unknown>): Promise<void>;
  /** Whether an entry is stored under `rawId`. */
  has(rawId: string): Promise<boolean>;
}

export interface StoreHarness {
  store: SessionStore;
  /** Called after each test: close the store, drop its table or keys. */
  cleanup?: () => Promise<void> | void;
  /** With the `migrateLegacy` ability: the raw entries it migrates from. */
  legacy?: LegacyEntries;
}

export interface StoreContext {
  /** The suite's clock (epoch ms); pass it to the store when `abilities.clock` is `'fake'`. */
  clock: () => number;
}

export type MakeStore = (context: StoreContext) => Promise<StoreHarness> | StoreHarness;

const T0 = Date.UTC(2026, 0, 1);

/** A complete record with every optional field, for the "returned intact" tests. */
export function fullRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    format: RECORD_FORMAT,
    data: JSON.stringify({ cart: [1, 2, 3], name: 'Zoë', nested: { a: true } }),
    version: 1,
    userId: 'user-1',
    createdAt: T0,
    lastSeenAt: T0 + 1_000,
    expiresAt: T0 + 1_801_000,
    persistent: true,
    meta: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Teller/1', ip: '203.0.113.7' },
    ...overrides,
  };
}

/** A record with only the required fields. */
export function minimalRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    format: RECORD_FORMAT,
    data: '{}',
    version: 1,
    createdAt: T0,
    lastSeenAt: T0,
    expiresAt: T0 + 1_800_000,
    ...overrides,
  };
}

const MINUTE = 60_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Distinct keys per test, shaped like the manager's (base64url of a SHA-256). */
let keySeq = 0;
const newKey = (label = 'k') => `${label}${(++keySeq).toString(36)}`.padEnd(43, 'A');

export interface StoreContractOptions {
  /** What the store can do beyond `get`, `set` and `delete`; the tests of an ability it lacks are skipped. */
  abilities: StoreAbilities;
}

/**
 * Registers the contract's tests (Vitest `describe`/`it`) for one store: call it at the top level of a test
 * file. `makeStore` runs before each test and gives a fresh, empty store; `cleanup` runs after it.
 */
export function runStoreContract(
  name: string,
  makeStore: MakeStore,
  { abilities }: StoreContractOptions,
): void {
  describe(`store contract: ${name}`, () => {
    let now = T0;
    let store: SessionStore;
    let cleanup: (() => Promise<void> | void) | undefined;
    let legacy: LegacyEntries | undefined;
    const clock = () => (abilities.clock === 'fake' ? now : Date.now());
    /** Moves the store's time forward: the fake clock, or real sleeping (for backends with their own time). */
    const advance = async (ms: number) => {
      if (abilities.clock === 'fake') now += ms;
      else await sleep(ms);
    };

    beforeEach(async () => {
      now = T0;
      const harness = await makeStore({ clock: () => now });
      store = harness.store;
      cleanup = harness.cleanup;
      legacy = harness.legacy;
    });
    afterEach(async () => {
      await cleanup?.();
    });

    it('declares its abilities: a declared ability is a method, an undeclared one is absent', () => {
      const has = (method: keyof SessionStore) => typeof store[method] === 'function';
      expect(has('listByUser')).toBe(abilities.userIndex);
      expect(has('deleteByUser')).toBe(abilities.userIndex);
      expect(has('purgeExpired')).toBe(abilities.purgeExpired);
      expect(has('count')).toBe(abilities.count);
      expect(has('migrateLegacy')).toBe(abilities.migrateLegacy ?? false);
      if (abilities.scan !== undefined) expect(has('scan')).toBe(abilities.scan);
      if (abilities.retireByUser !== undefined) expect(has('retireByUser')).toBe(abilities.retireByUser);
      if (abilities.migrateLegacy === true) expect(legacy, 'the harness gives legacy').toBeDefined();
    });

    it('declares lockOnly when its compare-and-set is not atomic', () => {
      if ((abilities.atomicCompareAndSet ?? true) === false) expect(store.lockOnly).toBe(true);
    });

    it('settles every promise at once when it declares itself immediate', async () => {
      if (store.immediate !== true) return;
      /** 'settled' when the promise was settled as it was returned (its reaction runs first). */
      const state = (p: Promise<unknown>) =>
        Promise.race([
          p.then(
            () => 'settled',
            () => 'settled',
          ),
          Promise.resolve().then(() => 'pending'),
        ]);
      const record = minimalRecord();
      expect(await state(store.set('imm', record, null, 60_000))).toBe('settled');
      expect(await state(store.get('imm'))).toBe('settled');
      expect(await state(store.delete('imm'))).toBe('settled');
      expect(await state(store.get('absent'))).toBe('settled');
    });

    it('answers getNow, setNow and deleteNow as get, set and delete, when it has them (with immediate only)', async () => {
      const { getNow, setNow, deleteNow } = store;
      if (getNow === undefined && setNow === undefined && deleteNow === undefined) return;
      expect(store.immediate, 'synchronous methods are for an immediate store').toBe(true);
      expect([typeof getNow, typeof setNow, typeof deleteNow]).toEqual(['function', 'function', 'function']);
      const key = newKey('now');
      expect(store.getNow!(key)).toBeNull();
      const record = minimalRecord();
      expect(store.setNow!(key, record, null, 60_000)).toBe(true);
      // Compare-and-set, as set: absent-only and version checks lose without writing.
      expect(store.setNow!(key, minimalRecord({ data: '{"x":1}' }), null, 60_000)).toBe(false);
      expect(store.setNow!(key, minimalRecord({ version: 3 }), 2, 60_000)).toBe(false);
      expect(store.getNow!(key)).toStrictEqual(record);
      expect(await store.get(key)).toStrictEqual(record);
      const next = minimalRecord({ version: 2, data: '{"n":2}' });
      expect(store.setNow!(key, next, 1, 60_000)).toBe(true);
      expect(await store.get(key)).toStrictEqual(next);
      expect(await store.set(key, minimalRecord({ version: 3 }), 1, 60_000)).toBe(false);
      expect(store.getNow!(key)).toStrictEqual(next);
      // A caller's mistake is thrown, not written.
      expect(() => store.setNow!('', record, null, 60_000)).toThrow(TypeError);
      expect(store.deleteNow!(key)).toBeUndefined();
      expect(store.getNow!(key)).toBeNull();
      expect(await store.get(key)).toBeNull();
      store.deleteNow!(key); // absent: a no-op
    });

    it('settles every promise within its turn when it declares settlesInTurn', async () => {
      if (store.settlesInTurn !== true) return;
      /** 'settled' when the promise settled before a setImmediate callback scheduled after the call. */
      const state = (p: Promise<unknown>) =>
        Promise.race([
          p.then(
            () => 'settled',
            () => 'settled',
          ),
          new Promise((resolve) => setImmediate(() => resolve('pending'))),
        ]);
      const key = newKey();
      expect(await state(store.set(key, minimalRecord(), null, 60_000))).toBe('settled');
      expect(await state(store.get(key))).toBe('settled');
      expect(await state(store.set(key, minimalRecord({ version: 2 }), 1, 60_000))).toBe('settled');
      expect(await state(store.set(key, minimalRecord({ version: 2 }), 1, 60_000))).toBe('settled');
      // Several calls of one turn, and a call made while the store settles others.
      const calls = [store.get(key), store.set(newKey(), minimalRecord(), null, 60_000), store.delete(key)];
      expect(await Promise.all(calls.map(state))).toEqual(['settled', 'settled', 'settled']);
      const chained = store.get(key).then(() => state(store.set(key, minimalRecord(), null, 60_000)));
      expect(await chained).toBe('settled');
      expect(await state(store.get(newKey('absent')))).toBe('settled');
    });

    describe('get', () => {
      it('returns null when the key is absent', async () => {
        expect(await store.get(newKey())).toBeNull();
      });

      it('returns the record written, intact: every field, including meta, userId, format, persistent', async () => {
        const key = newKey();
        const record = fullRecord();
        expect(await store.set(key, record, null, 30 * MINUTE)).toBe(true);
        expect(await store.get(key)).toStrictEqual(record);
      });

      it('returns a renewal pointer intact (movedTo)', async () => {
        const key = newKey();
        const record = minimalRecord({ movedTo: newKey('target'), data: '{"x":1}' });
        await store.set(key, record, null, MINUTE);
        expect(await store.get(key)).toStrictEqual(record);
      });

      it('returns the link an ended record keeps to its successor intact (rotatedTo)', async () => {
        const key = newKey();
        const record = minimalRecord({ rotatedTo: newKey('successor'), data: '', expiresAt: 0 });
        await store.set(key, record, null, MINUTE);
        expect(await store.get(key)).toStrictEqual(record);
      });

      it('returns a minimal record without optional fields it never had (no null or undefined members)', async () => {
        const key = newKey();
        const record = minimalRecord();
        await store.set(key, record, null, MINUTE);
        const got = await store.get(key);
        expect(got).toStrictEqual(record);
        expect(Object.keys(got ?? {}).sort()).toEqual(Object.keys(record).sort());
      });

      it('keeps meta with only some fields, and persistent: false', async () => {
        const key = newKey();
        const record = minimalRecord({ meta: { ip: '::1' }, persistent: false, userId: 'u' });
        await store.set(key, record, null, MINUTE);
        expect(await store.get(key)).toStrictEqual(record);
      });

      it('returns expired records too: the manager judges expiresAt, not the store', async () => {
        const key = newKey();
        const record = minimalRecord({ expiresAt: 1, lastSeenAt: 0, createdAt: 0 });
        await store.set(key, record, null, 30 * MINUTE);
        expect(await store.get(key)).toStrictEqual(record);
      });

      it('returns unicode data unchanged (accents, CJK, emoji, astral, NUL, line separators)', async () => {
        const key = newKey();
        const data = JSON.stringify({ s: 'Zoë 東京 🍪👩🏽‍💻 \u0000 \u2028\u2029 "quoted" \\ </script>' });
        await store.set(key, minimalRecord({ data }), null, MINUTE);
        expect((await store.get(key))?.data).toBe(data);
      });

      it('returns big data (1 MiB) unchanged', async () => {
        const key = newKey();
        const data = JSON.stringify({ blob: 'x€'.repeat(512 * 1024) });
        await store.set(key, minimalRecord({ data }), null, MINUTE);
        const got = await store.get(key);
        expect(got?.data.length).toBe(data.length);
        expect(got?.data).toBe(data);
      });

      it('keeps the fields of retired ids intact: a retirement record, a pointer, an unconfirmed record', async () => {
        // Stolen-id detection (the manager's `reuse` option) reads these back; a store must keep them as written.
        const tomb = minimalRecord({
          data: '',
          version: 2,
          expiresAt: 0,
          rotatedTo: 'successor-key',
          retired: { by: 'login', at: T0 + 5, user: 'user-1' },
        });
        const pointer = minimalRecord({ data: '', movedTo: 'next-key', retired: { by: 'renewal', at: T0 } });
        const unconfirmed = fullRecord({ unconfirmed: true });
        for (const record of [tomb, pointer, unconfirmed]) {
          const key = newKey();
          await store.set(key, record, null, MINUTE);
          expect(await store.get(key)).toStrictEqual(record);
        }
      });

      it('returns a copy: changing the returned record or the written one changes nothing stored', async () => {
        const key = newKey();
        const record = fullRecord();
        await store.set(key, record, null, MINUTE);
        record.data = 'changed';
        record.meta!.ip = 'changed';
        const got = (await store.get(key))!;
        expect(got).toStrictEqual(fullRecord());
        got.version = 99;
        got.meta!.userAgent = 'changed';
        expect(await store.get(key)).toStrictEqual(fullRecord());
      });
    });

    describe('set (compare-and-set)', () => {
      it('with expected null writes when the key is absent and stores the version as given', async () => {
        const key = newKey();
        expect(await store.set(key, minimalRecord({ version: 1 }), null, MINUTE)).toBe(true);
        expect((await store.get(key))?.version).toBe(1);
        const other = newKey();
        expect(await store.set(other, minimalRecord({ version: 7 }), null, MINUTE)).toBe(true);
        expect((await store.get(other))?.version).toBe(7);
      });

      it('with expected null returns false when the key is present, and leaves the record unchanged', async () => {
        const key = newKey();
        await store.set(key, minimalRecord({ data: '{"first":1}' }), null, MINUTE);
        expect(await store.set(key, minimalRecord({ data: '{"second":2}' }), null, MINUTE)).toBe(false);
        expect((await store.get(key))?.data).toBe('{"first":1}');
      });

      it('writes when the stored version equals expected', async () => {
        const key = newKey();
        await store.set(key, minimalRecord({ version: 1 }), null, MINUTE);
        const next = fullRecord({ version: 2, data: '{"n":2}' });
        expect(await store.set(key, next, 1, MINUTE)).toBe(true);
        expect(await store.get(key)).toStrictEqual(next);
      });

      it('a chain of 50 writes, each expecting the previous version, all succeed', async () => {
        const key = newKey();
        await store.set(key, minimalRecord({ version: 1 }), null, MINUTE);
        for (let v = 1; v <= 50; v++) {
          expect(await store.set(key, minimalRecord({ version: v + 1, data: `{"n":${v}}` }), v, MINUTE)).toBe(
            true,
          );
        }
        const got = await store.get(key);
        expect(got?.version).toBe(51);
        expect(got?.data).toBe('{"n":50}');
      });

      it('rejects a stale expected version and never overwrites the newer one', async () => {
        const key = newKey();
        await store.set(key, minimalRecord({ version: 1, data: '{"v":1}' }), null, MINUTE);
        await store.set(key, minimalRecord({ version: 2, data: '{"v":2}' }), 1, MINUTE);
        expect(await store.set(key, minimalRecord({ version: 2, data: '{"stale":true}' }), 1, MINUTE)).toBe(
          false,
        );
        const got = await store.get(key);
        expect(got?.version).toBe(2);
        expect(got?.data).toBe('{"v":2}');
      });

      it('rejects an expected version newer than the stored one', async () => {
        const key = newKey();
        await store.set(key, minimalRecord({ version: 3, data: '{"v":3}' }), null, MINUTE);
        expect(await store.set(key, minimalRecord({ version: 6 }), 5, MINUTE)).toBe(false);
        expect((await store.get(key))?.version).toBe(3);
      });

      it('with an expected version returns false when the key is absent, and creates nothing', async () => {
        const key = newKey();
        expect(await store.set(key, minimalRecord({ version: 2 }), 1, MINUTE)).toBe(false);
        expect(await store.get(key)).toBeNull();
      });

      it('a write racing a delete (logout) fails and never brings the record back', async () => {
        const key = newKey();
        await store.set(key, minimalRecord({ version: 1, userId: 'u-race' }), null, MINUTE);
        await store.delete(key);
        expect(await store.set(key, minimalRecord({ version: 2, userId: 'u-race' }), 1, MINUTE)).toBe(false);
        expect(await store.get(key)).toBeNull();
      });

      it('after a delete the key can be written again with expected null', async () => {
        const key = newKey();
        await store.set(key, minimalRecord({ version: 4 }), null, MINUTE);
        await store.delete(key);
        expect(await store.set(key, minimalRecord({ version: 1, data: '{"again":1}' }), null, MINUTE)).toBe(
          true,
        );
        expect((await store.get(key))?.data).toBe('{"again":1}');
      });

      it('writes to one key leave other keys alone', async () => {
        const a = newKey('a');
        const b = newKey('b');
        await store.set(a, minimalRecord({ data: '"a"' }), null, MINUTE);
        await store.set(b, minimalRecord({ data: '"b"' }), null, MINUTE);
        await store.set(a, minimalRecord({ version: 2, data: '"a2"' }), 1, MINUTE);
        expect((await store.get(b))?.data).toBe('"b"');
        expect((await store.get(b))?.version).toBe(1);
      });

      const atomic = abilities.atomicCompareAndSet ?? true;

      it.skipIf(!atomic)(
        'of 20 concurrent writes expecting the same version, exactly one wins and its record is stored',
        async () => {
          const key = newKey();
          await store.set(key, minimalRecord({ version: 1 }), null, MINUTE);
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              store.set(key, minimalRecord({ version: 2, data: `{"writer":${i}}` }), 1, MINUTE),
            ),
          );
          expect(results.filter(Boolean)).toHaveLength(1);
          const winner = results.indexOf(true);
          const got = await store.get(key);
          expect(got?.version).toBe(2);
          expect(got?.data).toBe(`{"writer":${winner}}`);
        },
      );

      it.skipIf(!atomic)('of 20 concurrent first writes (expected null), exactly one wins', async () => {
        const key = newKey();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.set(key, minimalRecord({ data: `{"writer":${i}}` }), null, MINUTE),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.get(key))?.data).toBe(`{"writer":${results.indexOf(true)}}`);
      });
    });

    describe('delete', () => {
      it('removes the record', async () => {
        const key = newKey();
        await store.set(key, fullRecord(), null, MINUTE);
        await store.delete(key);
        expect(await store.get(key)).toBeNull();
      });

      it('is a no-op when the key is absent (resolves, twice in a row too)', async () => {
        const key = newKey();
        await expect(store.delete(key)).resolves.toBeUndefined();
        await store.set(key, minimalRecord(), null, MINUTE);
        await store.delete(key);
        await expect(store.delete(key)).resolves.toBeUndefined();
      });

      it('removes only that key', async () => {
        const a = newKey('a');
        const b = newKey('b');
        await store.set(a, minimalRecord(), null, MINUTE);
        await store.set(b, minimalRecord(), null, MINUTE);
        await store.delete(a);
        expect(await store.get(b)).not.toBeNull();
      });
    });

    describe('ttl: the remaining lifetime by the manager clock', () => {
      // With a real clock (Redis) the waits are short real sleeps; with a fake one, no time passes at all.
      const unit = abilities.clock === 'fake' ? MINUTE : 400;

      it('keeps the record at least ttlMs', async () => {
        const key = newKey();
        await store.set(key, minimalRecord(), null, 3 * unit);
        await advance(abilities.clock === 'fake' ? 3 * unit : unit);
        expect(await store.get(key)).not.toBeNull();
      });

      it('a later write with a new ttl extends the time the record is kept', async () => {
        const key = newKey();
        await store.set(key, minimalRecord({ version: 1 }), null, 2 * unit);
        await advance(unit);
        await store.set(key, minimalRecord({ version: 2 }), 1, 3 * unit);
        await advance(abilities.clock === 'fake' ? 2.5 * unit : unit * 1.5);
        expect((await store.get(key))?.version).toBe(2);
      });

      it('judges the ttl, not record.expiresAt: a record whose expiresAt has passed is still kept', async () => {
        const key = newKey();
        await store.set(key, minimalRecord({ expiresAt: clock() - 1 }), null, 3 * unit);
        await advance(unit);
        expect(await store.get(key)).not.toBeNull();
      });

      it.skipIf(abilities.clock !== 'fake')('keeps a record to the last millisecond of its ttl', async () => {
        const key = newKey();
        await store.set(key, minimalRecord(), null, 1234);
        await advance(1234);
        expect(await store.get(key)).not.toBeNull();
      });
    });

    describe('user index (listByUser, deleteByUser)', () => {
      const skip = !abilities.userIndex;
      const seed = async () => {
        const keys = {
          a1: newKey('a1'),
          a2: newKey('a2'),
          a3: newKey('a3'),
          b1: newKey('b1'),
          anon: newKey('n'),
        };
        await store.set(keys.a1, fullRecord({ userId: 'alice', data: '"a1"' }), null, MINUTE);
        await store.set(keys.a2, fullRecord({ userId: 'alice', data: '"a2"' }), null, MINUTE);
        await store.set(keys.a3, fullRecord({ userId: 'alice', data: '"a3"' }), null, MINUTE);
        await store.set(keys.b1, fullRecord({ userId: 'bob', data: '"b1"' }), null, MINUTE);
        await store.set(keys.anon, minimalRecord(), null, MINUTE);
        return keys;
      };
      const listed = async (userId: string) =>
        (await store.listByUser!(userId)).map((entry) => entry.key).sort((x, y) => (x < y ? -1 : 1));

      it.skipIf(skip)('listByUser returns every record of that user, with its key, intact', async () => {
        const keys = await seed();
        const list = await store.listByUser!('alice');
        expect(list.map((e) => e.key).sort()).toEqual([keys.a1, keys.a2, keys.a3].sort());
        const a2 = list.find((e) => e.key === keys.a2);
        expect(a2?.record).toStrictEqual(fullRecord({ userId: 'alice', data: '"a2"' }));
        expect(await listed('bob')).toEqual([keys.b1]);
      });

      it.skipIf(skip)('listByUser returns [] for a user without records', async () => {
        await seed();
        expect(await store.listByUser!('nobody')).toEqual([]);
      });

      it.skipIf(skip)('listByUser follows a record that changes user or loses its user', async () => {
        const keys = await seed();
        await store.set(keys.a1, fullRecord({ userId: 'bob', version: 2 }), 1, MINUTE);
        await store.set(keys.a2, minimalRecord({ version: 2 }), 1, MINUTE);
        expect(await listed('alice')).toEqual([keys.a3]);
        expect(await listed('bob')).toEqual([keys.a1, keys.b1].sort());
      });

      it.skipIf(skip)('listByUser leaves out deleted records', async () => {
        const keys = await seed();
        await store.delete(keys.a2);
        expect(await listed('alice')).toEqual([keys.a1, keys.a3].sort());
      });

      it.skipIf(skip)(
        'deleteByUser deletes every record of the user, returns the count, and leaves others',
        async () => {
          const keys = await seed();
          expect(await store.deleteByUser!('alice')).toBe(3);
          expect(await store.get(keys.a1)).toBeNull();
          expect(await store.get(keys.a2)).toBeNull();
          expect(await store.get(keys.a3)).toBeNull();
          expect(await store.get(keys.b1)).not.toBeNull();
          expect(await store.get(keys.anon)).not.toBeNull();
          expect(await store.listByUser!('alice')).toEqual([]);
        },
      );

      it.skipIf(skip)(
        'deleteByUser with exceptKey keeps that record ("log out my other sessions")',
        async () => {
          const keys = await seed();
          expect(await store.deleteByUser!('alice', { exceptKey: keys.a2 })).toBe(2);
          expect(await listed('alice')).toEqual([keys.a2]);
          expect((await store.get(keys.a2))?.data).toBe('"a2"');
        },
      );

      it.skipIf(skip)('deleteByUser returns 0 for a user without records', async () => {
        await seed();
        expect(await store.deleteByUser!('nobody')).toBe(0);
        expect(await store.deleteByUser!('bob', { exceptKey: newKey() })).toBe(1);
      });

      it.skipIf(skip)('a write racing a revocation fails and never brings the record back', async () => {
        const keys = await seed();
        await store.deleteByUser!('alice');
        expect(await store.set(keys.a1, fullRecord({ userId: 'alice', version: 2 }), 1, MINUTE)).toBe(false);
        expect(await store.get(keys.a1)).toBeNull();
        expect(await store.listByUser!('alice')).toEqual([]);
      });
    });

    describe('retireByUser: a revocation that leaves retirement records', () => {
      const skip = abilities.retireByUser !== true;
      // With a real clock (Redis) the lifetimes are short enough to wait for; with a fake one, minutes.
      const u = abilities.clock === 'fake' ? MINUTE : 100;
      const retire = (overrides: Partial<RetireByUserOptions> = {}): RetireByUserOptions => ({
        by: 'revoke',
        at: clock(),
        absoluteMs: 10 * u,
        rememberMeAbsoluteMs: 1_000 * u,
        minMs: 2 * u,
        maxMs: 15 * u,
        slackMs: u,
        ...overrides,
      });
      const seed = async () => {
        const keys = {
          a1: newKey('ra'),
          a2: newKey('ra'),
          a3: newKey('ra'),
          b1: newKey('rb'),
          anon: newKey('rn'),
        };
        const at = clock();
        await store.set(keys.a1, fullRecord({ userId: 'alice', data: '"a1"', createdAt: at }), null, MINUTE);
        await store.set(keys.a2, fullRecord({ userId: 'alice', data: '"a2"', createdAt: at }), null, MINUTE);
        await store.set(keys.a3, fullRecord({ userId: 'alice', data: '"a3"', createdAt: at }), null, MINUTE);
        await store.set(keys.b1, fullRecord({ userId: 'bob', data: '"b1"' }), null, MINUTE);
        await store.set(keys.anon, minimalRecord(), null, MINUTE);
        return keys;
      };

      it.skipIf(skip)(
        'replaces every record of the user by its retirement record (not deleted), returns the count, leaves others',
        async () => {
          const keys = await seed();
          const options = retire();
          expect(await store.retireByUser!('alice', options)).toBe(3);
          for (const key of [keys.a1, keys.a2, keys.a3]) {
            const record = await store.get(key);
            // What a logout leaves: the next version, empty, no user, never live, who/what/when.
            expect(record).toStrictEqual(retiredRecordOf({ version: 1 }, 'alice', options));
            expect(record).toStrictEqual({
              format: RECORD_FORMAT,
              data: '',
              version: 2,
              createdAt: 0,
              lastSeenAt: 0,
              expiresAt: 0,
              retired: { by: 'revoke', at: options.at, user: 'alice' },
            });
            expect(isLive(record, options.at)).toBe(false);
          }
          expect(await store.get(keys.b1)).toStrictEqual(fullRecord({ userId: 'bob', data: '"b1"' }));
          expect(await store.get(keys.anon)).toStrictEqual(minimalRecord());
          // Out of the user index: neither listed nor revoked again.
          expect(await store.listByUser!('alice')).toEqual([]);
          expect(await store.deleteByUser!('alice')).toBe(0);
          expect(await store.retireByUser!('alice', retire())).toBe(0);
          expect((await store.get(keys.a1))?.version).toBe(2);
          expect((await store.listByUser!('bob')).map((e) => e.key)).toEqual([keys.b1]);
        },
      );

      it.skipIf(skip)('keeps exceptKey as it was ("log out my other sessions")', async () => {
        const keys = await seed();
        expect(await store.retireByUser!('alice', retire({ exceptKey: keys.a2 }))).toBe(2);
        expect((await store.listByUser!('alice')).map((e) => e.key)).toEqual([keys.a2]);
        expect((await store.get(keys.a2))?.data).toBe('"a2"');
        expect((await store.get(keys.a1))?.retired?.by).toBe('revoke');
        expect((await store.get(keys.a3))?.retired?.by).toBe('revoke');
      });

      it.skipIf(skip)('returns 0 for a user without records, and counts only that user', async () => {
        await seed();
        expect(await store.retireByUser!('nobody', retire())).toBe(0);
        expect(await store.retireByUser!('bob', retire({ exceptKey: newKey() }))).toBe(1);
        expect(await store.listByUser!('bob')).toEqual([]);
        expect((await store.listByUser!('alice')).length).toBe(3);
      });

      it.skipIf(skip)(
        'keeps each record until its absolute expiry would have come, within minMs and maxMs, plus slackMs',
        async () => {
          const at = clock();
          const keys = { session: newKey('rs'), remembered: newKey('rr'), old: newKey('ro') };
          const record = (createdAt: number, persistent: boolean) =>
            minimalRecord({ userId: 'carol', createdAt, persistent });
          await store.set(keys.session, record(at, false), null, MINUTE);
          await store.set(keys.remembered, record(at, true), null, MINUTE);
          await store.set(keys.old, record(at - 100 * u, false), null, MINUTE);
          const options = retire({ at });
          // session cookie: 10u left, +u; remembered: 1000u left, capped at 15u, +u; old: none left, 2u, +u.
          expect(retiredTtlOf(record(at, false), options)).toBe(11 * u);
          expect(retiredTtlOf(record(at, true), options)).toBe(16 * u);
          expect(retiredTtlOf(record(at - 100 * u, false), options)).toBe(3 * u);
          expect(await store.retireByUser!('carol', options)).toBe(3);
          const present = async () => {
            const out: string[] = [];
            for (const [name, key] of Object.entries(keys))
              if ((await store.get(key)) !== null) out.push(name);
            return out;
          };
          if (abilities.clock === 'fake') {
            await advance(3 * u);
            expect(await present()).toEqual(['session', 'remembered', 'old']);
            await advance(1);
            expect(await present()).toEqual(['session', 'remembered']);
            await advance(8 * u - 1);
            expect(await present()).toEqual(['session', 'remembered']);
            await advance(1);
            expect(await present()).toEqual(['remembered']);
            await advance(5 * u - 1);
            expect(await present()).toEqual(['remembered']);
            await advance(1);
            expect(await present()).toEqual([]);
          } else {
            // 300, 1100 and 1600 ms: looked at well between them.
            await advance(7 * u);
            expect(await present()).toEqual(['session', 'remembered']);
            await advance(7 * u);
            expect(await present()).toEqual(['remembered']);
            await advance(6 * u);
            expect(await present()).toEqual([]);
          }
        },
      );

      it.skipIf(skip || (abilities.atomicCompareAndSet ?? true) === false)(
        'a compare-and-set against the version before the retirement fails, racing or after it',
        async () => {
          const keys = await seed();
          const [retired, wrote] = await Promise.all([
            store.retireByUser!('alice', retire()),
            store.set(keys.a1, fullRecord({ userId: 'alice', version: 2, createdAt: clock() }), 1, MINUTE),
          ]);
          expect(retired).toBe(3);
          // Either the write came first and was retired (version 3), or it lost to the retirement.
          const a1 = await store.get(keys.a1);
          expect(a1?.retired?.by).toBe('revoke');
          expect(a1?.version).toBe(wrote ? 3 : 2);
          const after = fullRecord({ userId: 'alice', version: 2 });
          expect(await store.set(keys.a2, after, 1, MINUTE)).toBe(false);
          expect((await store.get(keys.a2))?.retired?.by).toBe('revoke');
          expect(await store.listByUser!('alice')).toEqual([]);
        },
      );

      it.skipIf(skip)('refuses bad arguments with a TypeError, writing nothing', async () => {
        const keys = await seed();
        const bad: Array<[string, Partial<RetireByUserOptions>]> = [
          ['', {}],
          ['alice', { by: 'logout' as 'revoke' }],
          ['alice', { at: Number.NaN }],
          ['alice', { maxMs: -1 }],
          ['alice', { minMs: 20 * u, maxMs: 10 * u }],
        ];
        for (const [userId, overrides] of bad) {
          // A rejected promise, as every other call of the store: a synchronous throw fails here.
          let call: Promise<number> | undefined;
          expect(() => {
            call = store.retireByUser!(userId, retire(overrides));
          }).not.toThrow();
          await expect(call).rejects.toThrow(TypeError);
        }
        expect((await store.get(keys.a1))?.data).toBe('"a1"');
      });
    });

    describe('purgeExpired', () => {
      it.skipIf(!abilities.purgeExpired)(
        'physically removes records whose lifetime ended before now, and returns the count',
        async () => {
          const short = newKey('s');
          const long = newKey('l');
          const base = clock();
          await store.set(short, minimalRecord({ userId: 'p' }), null, MINUTE);
          await store.set(long, minimalRecord({ userId: 'p' }), null, 60 * MINUTE);
          expect(await store.purgeExpired!(base + 30 * 1000)).toBe(0);
          expect(await store.purgeExpired!(base + 5 * MINUTE)).toBe(1);
          expect(await store.get(long)).not.toBeNull();
          if (abilities.clock === 'fake') {
            // Only meaningful when the store's clock can be set back to before the purge time.
            expect(await store.get(short)).toBeNull();
          }
          if (abilities.userIndex) expect((await store.listByUser!('p')).map((e) => e.key)).toEqual([long]);
        },
      );

      it.skipIf(!abilities.purgeExpired)(
        'reports progress, if at all, as counts that only grow and never pass what it returns',
        async () => {
          const base = clock();
          const keys = Array.from({ length: 450 }, () => newKey('pp'));
          await Promise.all(keys.map((key) => store.set(key, minimalRecord(), null, MINUTE)));
          const seen: number[] = [];
          const purged = await store.purgeExpired!(base + 5 * MINUTE, { onProgress: (n) => seen.push(n) });
          expect(purged).toBe(450);
          for (const [i, n] of seen.entries()) {
            expect(n).toBeLessThanOrEqual(purged);
            if (i > 0) expect(n).toBeGreaterThanOrEqual(seen[i - 1]!);
          }
        },
      );

      it.skipIf(!abilities.purgeExpired)('ignores record.expiresAt: only the ttl counts', async () => {
        const key = newKey();
        const base = clock();
        await store.set(key, minimalRecord({ expiresAt: base - 1 }), null, 60 * MINUTE);
        expect(await store.purgeExpired!(base + MINUTE)).toBe(0);
        expect(await store.get(key)).not.toBeNull();
      });
    });

    describe('migrateLegacy (sessions stored under the raw id by an earlier library)', () => {
      const skip = abilities.migrateLegacy !== true;
      /** A session as express-session stores it, live for an hour of real time (the earlier store's clock). */
      const legacySession = (cart: string[]) => ({
        cookie: {
          originalMaxAge: 60 * MINUTE,
          expires: new Date(Date.now() + 60 * MINUTE).toISOString(),
          httpOnly: true,
          path: '/',
        },
        cart,
      });
      let rawSeq = 0;
      /** Distinct raw ids per test, shaped like express-session's (32 base64url characters). */
      const newRawId = () => `legacy${(++rawSeq).toString(36)}${keySeq.toString(36)}`.padEnd(32, 'x');
      /** The manager's conversion, made deterministic: the cart as data, every call recorded. */
      const adopter = () => {
        const seen: unknown[] = [];
        const adopt = (session: unknown) => {
          seen.push(session);
          const cart = (session as { cart?: unknown }).cart;
          return { record: minimalRecord({ data: JSON.stringify({ cart }) }), ttlMs: 10 * MINUTE };
        };
        return { adopt, seen };
      };

      it.skipIf(skip)(
        'moves the raw entry under the key: adopt gets the stored session, the record is written as given and returned, the raw entry is gone',
        async () => {
          const rawId = newRawId();
          const key = newKey();
          const session = legacySession(['apple', 'pear']);
          await legacy!.write(rawId, session);
          expect(await legacy!.has(rawId)).toBe(true);
          const { adopt, seen } = adopter();
          const record = await store.migrateLegacy!(rawId, key, adopt);
          const expected = minimalRecord({ data: '{"cart":["apple","pear"]}' });
          expect(record).toStrictEqual(expected);
          expect(seen).toHaveLength(1);
          // As the earlier store gives it back: JSON-equal to what was written (a Date may come back a string).
          expect(JSON.parse(JSON.stringify(seen[0]))).toStrictEqual(JSON.parse(JSON.stringify(session)));
          expect(await store.get(key)).toStrictEqual(expected);
          expect(await legacy!.has(rawId)).toBe(false);
        },
      );

      it.skipIf(skip)('without a raw entry returns null, never calls adopt and writes nothing', async () => {
        const key = newKey();
        const { adopt, seen } = adopter();
        expect(await store.migrateLegacy!(newRawId(), key, adopt)).toBeNull();
        expect(seen).toEqual([]);
        expect(await store.get(key)).toBeNull();
      });

      it.skipIf(skip)(
        'when adopt returns null (not taken over) returns null, writes nothing and leaves the raw entry',
        async () => {
          const rawId = newRawId();
          const key = newKey();
          await legacy!.write(rawId, legacySession(['old']));
          expect(await store.migrateLegacy!(rawId, key, () => null)).toBeNull();
          expect(await store.get(key)).toBeNull();
          expect(await legacy!.has(rawId)).toBe(true);
        },
      );

      it.skipIf(skip)(
        'without a raw entry returns the record under the key (a concurrent migration moved it meanwhile)',
        async () => {
          const key = newKey();
          const moved = minimalRecord({ version: 3, data: '{"cart":["moved"]}' });
          await store.set(key, moved, null, MINUTE);
          const { adopt, seen } = adopter();
          expect(await store.migrateLegacy!(newRawId(), key, adopt)).toStrictEqual(moved);
          expect(seen).toEqual([]);
        },
      );

      it.skipIf(skip)(
        'when the key is already written (a concurrent migration won) returns that record and never overwrites it',
        async () => {
          const rawId = newRawId();
          const key = newKey();
          await legacy!.write(rawId, legacySession(['raw']));
          const winner = minimalRecord({ version: 2, data: '{"cart":["winner","changed"]}' });
          await store.set(key, winner, null, MINUTE);
          expect(await store.migrateLegacy!(rawId, key, adopter().adopt)).toStrictEqual(winner);
          expect(await store.get(key)).toStrictEqual(winner);
        },
      );

      it.skipIf(skip)(
        'of 5 concurrent migrations of one raw entry, every one returns the same record, stored once under the key; the raw entry is gone',
        async () => {
          const rawId = newRawId();
          const key = newKey();
          await legacy!.write(rawId, legacySession(['shared']));
          const { adopt } = adopter();
          const results = await Promise.all(
            Array.from({ length: 5 }, () => store.migrateLegacy!(rawId, key, adopt)),
          );
          const expected = minimalRecord({ data: '{"cart":["shared"]}' });
          for (const result of results) expect(result).toStrictEqual(expected);
          expect(await store.get(key)).toStrictEqual(expected);
          expect(await legacy!.has(rawId)).toBe(false);
        },
      );
    });

    describe('scan', () => {
      const skip = abilities.scan !== true;
      /** Every page from the start, with `limit`: the keys (repeats removed) and the records by key. */
      const scanAll = async (limit: number) => {
        const records = new Map<string, SessionRecord>();
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page = await store.scan!(cursor, limit);
          for (const { key, record } of page.entries) records.set(key, record);
          cursor = page.cursor;
          expect(++pages, 'the scan ends').toBeLessThan(10_000);
        } while (cursor !== null);
        return records;
      };
      /** The suite's own keys (a store on a shared backend may hold others: then scans see them too). */
      const ours = (records: Map<string, SessionRecord>, keys: string[]) =>
        [...records.keys()].filter((key) => keys.includes(key)).sort();

      it.skipIf(skip)('returns every record held, each with its key, intact, across pages', async () => {
        const keys = Array.from({ length: 7 }, (_, i) => newKey(`scan${i}`));
        for (const [i, key] of keys.entries())
          await store.set(key, fullRecord({ userId: `u${i % 2}`, data: JSON.stringify(i) }), null, MINUTE);
        for (const limit of [1, 2, 3, 100]) {
          const records = await scanAll(limit);
          expect(ours(records, keys)).toEqual([...keys].sort());
          for (const [i, key] of keys.entries())
            expect(records.get(key)).toStrictEqual(
              fullRecord({ userId: `u${i % 2}`, data: JSON.stringify(i) }),
            );
        }
      });

      it.skipIf(skip)(
        'returns no record deleted before the scan, and the latest version of each',
        async () => {
          const [kept, gone] = [newKey('keep'), newKey('gone')];
          await store.set(kept, minimalRecord(), null, MINUTE);
          await store.set(kept, minimalRecord({ version: 2, data: '"v2"' }), 1, MINUTE);
          await store.set(gone, minimalRecord(), null, MINUTE);
          await store.delete(gone);
          const records = await scanAll(10);
          expect(ours(records, [kept, gone])).toEqual([kept]);
          expect(records.get(kept)?.data).toBe('"v2"');
        },
      );

      it.skipIf(skip)('lists only records: never a user index or another key the store keeps', async () => {
        const key = newKey('only');
        await store.set(key, fullRecord({ userId: 'indexed' }), null, MINUTE);
        for (const [listed, record] of await scanAll(50)) {
          expect(typeof listed).toBe('string');
          expect(typeof record.data).toBe('string');
          expect(Number.isSafeInteger(record.version)).toBe(true);
        }
      });

      it.skipIf(skip)('keeps a record returned through a write made during the scan', async () => {
        const keys = Array.from({ length: 6 }, (_, i) => newKey(`mid${i}`));
        for (const key of keys) await store.set(key, minimalRecord(), null, MINUTE);
        const seen = new Set<string>();
        let cursor: string | null = null;
        let wrote = false;
        do {
          const page = await store.scan!(cursor, 2);
          for (const { key } of page.entries) seen.add(key);
          if (!wrote) {
            // Records held from the start to the end are returned, whatever else is written meanwhile.
            await store.set(newKey('new'), minimalRecord(), null, MINUTE);
            wrote = true;
          }
          cursor = page.cursor;
        } while (cursor !== null);
        for (const key of keys) expect(seen.has(key)).toBe(true);
      });

      it.skipIf(skip || abilities.clock !== 'fake')(
        'returns what get would: no record past its ttl',
        async () => {
          const [short, long] = [newKey('short'), newKey('long')];
          await store.set(short, minimalRecord(), null, MINUTE);
          await store.set(long, minimalRecord(), null, 10 * MINUTE);
          await advance(2 * MINUTE);
          expect(ours(await scanAll(10), [short, long])).toEqual([long]);
        },
      );

      it.skipIf(skip)('refuses a limit below 1 or not an integer with a TypeError', async () => {
        await expect(async () => store.scan!(null, 0)).rejects.toThrow(TypeError);
        await expect(async () => store.scan!(null, 1.5)).rejects.toThrow(TypeError);
      });
    });

    describe('count', () => {
      it.skipIf(!abilities.count)('counts the records held', async () => {
        expect(await store.count!()).toBe(0);
        const keys = [newKey(), newKey(), newKey()];
        for (const key of keys) await store.set(key, minimalRecord(), null, MINUTE);
        expect(await store.count!()).toBe(3);
        await store.set(keys[0]!, minimalRecord({ version: 2 }), 1, MINUTE);
        expect(await store.count!()).toBe(3);
        await store.delete(keys[1]!);
        expect(await store.count!()).toBe(2);
      });
    });
  });
}
