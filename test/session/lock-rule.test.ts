/**
 * The session lock never turns a slow sibling into an error (issue 16): a request waits for another
 * request of its session at most `lockTimeout`, then goes on with compare-and-set alone.
 */
import { describe, expect, it } from 'vitest';
import {
  createSessionManager,
  type SessionEvent,
  SessionLockTimeoutError,
  type SessionManager,
} from '../../src/index.js';
import type { SessionRecord } from '../../src/session/store.js';
import { seeded, T0, TestStore } from './helpers.js';

type Data = Record<string, number>;
const now = { now: T0 + 1000 };

function liveData(store: TestStore): Record<string, unknown> {
  const sessions = store.sessions();
  expect(sessions).toHaveLength(1);
  return JSON.parse(sessions[0]![1].data) as Record<string, unknown>;
}

describe('a request of a session never fails because another request of it is slow', () => {
  it('a load never committed: the next request waits lockTimeout at most, once', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { n: 0 });
    const events: SessionEvent[] = [];
    const manager = createSessionManager<Data>({ store, lockTimeout: 60, onEvent: (e) => events.push(e) });
    await manager.load(cookie, { ...now, route: 'GET /forgotten' }); // never committed, never released
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const s = await manager.load(cookie, now);
      expect(performance.now() - started).toBeLessThan(1000);
      s.update('n', (n = 0) => n + 1);
      await manager.commit(s);
    }
    expect(liveData(store).n).toBe(3);
    const waits = events.filter((e) => e.type === 'lock-timeout');
    expect(waits).toHaveLength(1); // the first request took the stale hold over; the others did not wait
    expect(waits[0]!.detail).toMatch(/GET \/forgotten/);
    expect(JSON.stringify(waits)).not.toContain(cookie.split('=')[1]!);
  });

  it('50 parallel writes of different keys across 50 processes all land: merges last as long as the store budget', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { start: 0 });
    store.delayMs = 10; // store calls take real time, so the writers interleave and conflict
    const managers: SessionManager<Data>[] = Array.from({ length: 50 }, () =>
      createSessionManager<Data>({ store, storeTimeout: 30_000 }),
    );
    const results = await Promise.allSettled(
      managers.map(async (manager, i) => {
        const s = await manager.load(cookie, now);
        s.set(`k${i}`, i);
        return manager.commit(s);
      }),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const data = liveData(store);
    for (let i = 0; i < 50; i++) expect(data[`k${i}`]).toBe(i);
  });

  it('20 concurrent get+set increments in one process still count 20 when handlers are fast', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { n: 0 });
    store.ticks = 2;
    const manager = createSessionManager<Data>({ store });
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const s = await manager.load(cookie, now);
        const n = s.get('n') ?? 0;
        await new Promise((resolve) => setImmediate(resolve));
        s.set('n', n + 1);
        await manager.commit(s);
      }),
    );
    expect(liveData(store).n).toBe(20);
  });

  it('{ lock: false }: the request neither waits for the lock nor holds it', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { n: 0 });
    const manager = createSessionManager<Data>({ store, lockTimeout: 2_000 });
    const holder = await manager.load(cookie, now);
    const started = performance.now();
    const poll = await manager.load(cookie, now, { lock: false });
    expect(performance.now() - started).toBeLessThan(500);
    // And a long poll holding no lock does not hold up the next request.
    await manager.commit(holder);
    const next = await manager.load(cookie, now);
    expect(performance.now() - started).toBeLessThan(1000);
    next.set('a', 1);
    await manager.commit(next);
    poll.set('b', 2);
    await manager.commit(poll);
    expect(liveData(store)).toMatchObject({ a: 1, b: 2 });
  });
});

/** A store without compare-and-set (like an express-session store): it declares lockOnly. */
class LockOnlyStore extends TestStore {
  readonly lockOnly = true;
  override async set(key: string, record: SessionRecord, _expected: number | null, ttlMs: number) {
    return super.set(key, record, this.records.get(key)?.record.version ?? null, ttlMs);
  }
}

describe('a store without compare-and-set keeps the strict lock', () => {
  it('a waiter waits up to 5 s, then SessionLockTimeoutError (503)', async () => {
    const store = new LockOnlyStore();
    const cookie = await seeded(store, { n: 0 });
    const manager = createSessionManager<Data>({ store, lockTimeout: 50 });
    await manager.load(cookie, now);
    const started = performance.now();
    const error = await manager.load(cookie, now).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionLockTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(4_900);
  }, 10_000);
});
