import { describe, expect, it } from 'vitest';
import {
  createSessionManager,
  SessionConflictError,
  SessionDestroyedError,
  type SessionEvent,
  type SessionManager,
} from '../../src/index.js';
import { storeKeyOf } from '../../src/session/ids.js';
import type { SessionRecord } from '../../src/session/store.js';
import { Browser, seeded, T0, TestStore, visit } from './helpers.js';

type Data = Record<string, number>;

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** One request of `browser`'s session on `manager`: load, handler (with an await inside), commit. */
async function request(
  manager: SessionManager<Data>,
  cookie: string | undefined,
  handler: (s: Awaited<ReturnType<SessionManager<Data>['load']>>) => void,
): Promise<string[]> {
  const s = await manager.load(cookie, { now: T0 + 1000 });
  await tick();
  handler(s);
  await tick();
  return (await manager.commit(s)).setCookie;
}

function liveRecord(store: TestStore): SessionRecord {
  const sessions = store.sessions();
  expect(sessions).toHaveLength(1);
  return sessions[0]![1];
}

describe('versions and compare-and-set', () => {
  it('every write is a compare-and-set on the version it read, and bumps it by one', async () => {
    const store = new TestStore();
    const calls: Array<[number, number | null]> = [];
    const set = store.set.bind(store);
    store.set = (key, record, expected, ttl) => {
      calls.push([record.version, expected]);
      return set(key, record, expected, ttl);
    };
    const manager = createSessionManager<Data>({ store });
    const browser = new Browser();
    for (let i = 1; i <= 3; i++) await visit(manager, browser, (s) => s.set('n', i));
    expect(calls).toEqual([
      [1, null],
      [2, 1],
      [3, 2],
    ]);
  });
});

describe('one process: requests of a session are serialized (no conflict ever)', () => {
  it('50 concurrent requests each adding a different key leave 50 keys', async () => {
    const store = new TestStore();
    store.ticks = 1;
    const cookie = await seeded(store, { start: 0 });
    const manager = createSessionManager<Data>({ store });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => request(manager, cookie, (s) => s.set(`k${i}`, i))),
    );
    const data = JSON.parse(liveRecord(store).data);
    expect(Object.keys(data).filter((k) => k.startsWith('k'))).toHaveLength(50);
  });

  it("20 concurrent set('n', get('n') + 1) leave n = 20", async () => {
    const store = new TestStore();
    store.ticks = 1;
    const cookie = await seeded(store, { n: 0 });
    const manager = createSessionManager<Data>({ store });
    await Promise.all(
      Array.from({ length: 20 }, () => request(manager, cookie, (s) => s.set('n', (s.get('n') ?? 0) + 1))),
    );
    expect(JSON.parse(liveRecord(store).data).n).toBe(20);
    expect(liveRecord(store).version).toBe(21);
  });

  it("20 concurrent update('balance', b => b - 10) leave the balance 200 lower", async () => {
    const store = new TestStore();
    store.ticks = 1;
    const cookie = await seeded(store, { balance: 1000 });
    const manager = createSessionManager<Data>({ store });
    await Promise.all(
      Array.from({ length: 20 }, () =>
        request(manager, cookie, (s) => s.update('balance', (b = 0) => b - 10)),
      ),
    );
    expect(JSON.parse(liveRecord(store).data).balance).toBe(800);
  });

  it('the lock wait is bounded: after lockTimeout the waiter goes on without the lock, and both writes count', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { n: 0 });
    const events: SessionEvent[] = [];
    const manager = createSessionManager<Data>({ store, lockTimeout: 50, onEvent: (e) => events.push(e) });
    const holder = await manager.load(cookie, { now: T0 + 1000, route: 'GET /slow' });
    const started = Date.now();
    const waiter = await manager.load(cookie, { now: T0 + 1000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(Date.now() - started).toBeLessThan(1000);
    const timedOut = events.find((e) => e.type === 'lock-timeout');
    expect(timedOut?.detail).toMatch(/GET \/slow/);
    expect(timedOut?.ref).toBeDefined();
    waiter.set('m', 2);
    await manager.commit(waiter);
    holder.set('n', 1);
    await manager.commit(holder); // a compare-and-set conflict, merged
    expect(JSON.parse(liveRecord(store).data)).toMatchObject({ n: 1, m: 2 });
    // Nothing of either request holds the lock now.
    const next = await manager.load(cookie, { now: T0 + 1000 });
    expect(next.get('n')).toBe(1);
    await manager.commit(next);
  });

  it('release() lets the next request in before commit; both writes still count', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { n: 0 });
    const manager = createSessionManager<Data>({ store, lockTimeout: 200 });
    const first = await manager.load(cookie, { now: T0 + 1000 });
    first.update('n', (n = 0) => n + 1);
    first.release();
    const second = await manager.load(cookie, { now: T0 + 1000 });
    second.update('n', (n = 0) => n + 1);
    await manager.commit(second);
    await manager.commit(first); // conflicts on the version, merges by re-running its update
    expect(JSON.parse(liveRecord(store).data).n).toBe(2);
  });

  it('a failed (500) commit and a store failure during load both release the lock', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { n: 0 });
    const manager = createSessionManager<Data>({ store, lockTimeout: 50 });
    const a = await manager.load(cookie, { now: T0 + 1000 });
    await manager.commit(a, { status: 500 });
    store.failWith = new Error('down');
    await expect(manager.load(cookie, { now: T0 + 1000 })).rejects.toThrow();
    store.failWith = undefined;
    const c = await manager.load(cookie, { now: T0 + 1000 });
    expect(c.isNew).toBe(false);
    await manager.commit(c);
  });
});

describe('several processes (managers on one store): conflicts detected, never lost', () => {
  function managers(store: TestStore, n: number, events: SessionEvent[] = []) {
    return Array.from({ length: n }, () =>
      createSessionManager<Data>({ store, onEvent: (e) => events.push(e) }),
    );
  }

  it('50 concurrent requests adding different keys across 5 managers merge into 50 keys', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { start: 0 });
    store.ticks = 1;
    const events: SessionEvent[] = [];
    const ms = managers(store, 5, events);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => request(ms[i % 5]!, cookie, (s) => s.set(`k${i}`, i))),
    );
    const data = JSON.parse(liveRecord(store).data);
    expect(Object.keys(data).filter((k) => k.startsWith('k'))).toHaveLength(50);
    expect(events.filter((e) => e.type === 'merged').length).toBeGreaterThan(0);
  });

  it("20 concurrent update('balance', b => b - 10) across 4 managers: fn re-runs on the newest, 200 lower", async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { balance: 1000 });
    store.ticks = 1;
    const events: SessionEvent[] = [];
    const ms = managers(store, 4, events);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(ms[i % 4]!, cookie, (s) => s.update('balance', (b = 0) => b - 10)),
      ),
    );
    expect(JSON.parse(liveRecord(store).data).balance).toBe(800);
    expect(events.some((e) => e.type === 'merged')).toBe(true);
  });

  it('read-then-written keys changed meanwhile are a SessionConflictError (409) and write nothing', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { n: 0 });
    store.ticks = 1;
    const ms = managers(store, 4);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        request(ms[i % 4]!, cookie, (s) => {
          s.set('n', (s.get('n') ?? 0) + 1);
          s.set(`done${i}`, 1);
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const conflicts = results.filter((r) => r.status === 'rejected');
    expect(conflicts.length).toBeGreaterThan(0);
    for (const r of conflicts) {
      const reason = (r as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(SessionConflictError);
      expect(reason.status).toBe(409);
      expect(reason.message).toMatch(/"n" was read and written/);
    }
    const data = JSON.parse(liveRecord(store).data);
    // Nothing lost silently: n counts exactly the commits that succeeded, and failed ones wrote nothing.
    expect(data.n).toBe(ok);
    expect(Object.keys(data).filter((k) => k.startsWith('done'))).toHaveLength(ok);
  });

  it('a key only read (not written) by this request may change meanwhile without a conflict', async () => {
    const store = new TestStore();
    const cookie = await seeded(store, { a: 1, b: 1 });
    const [m1, m2] = managers(store, 2);
    const s1 = await m1!.load(cookie, { now: T0 + 1000 });
    s1.get('a');
    s1.set('b', 2);
    const s2 = await m2!.load(cookie, { now: T0 + 1000 });
    s2.set('a', 5);
    await m2!.commit(s2);
    await m1!.commit(s1);
    expect(JSON.parse(liveRecord(store).data)).toEqual({ a: 5, b: 2 });
  });
});

describe('a write racing a logout', () => {
  it('fails with a clear error and never brings the session back (two processes)', async () => {
    const store = new TestStore();
    const m1 = createSessionManager<Data>({ store });
    const m2 = createSessionManager<Data>({ store });
    const browser = new Browser();
    await visit(m1, browser, (s) => {
      s.set('n', 1);
      s.login('alice');
    });
    const cookie = browser.header()!;
    const key = storeKeyOf(browser.value()!);
    const writer = await m1.load(cookie, { now: T0 + 1000 });
    const loggingOut = await m2.load(cookie, { now: T0 + 1000 });
    loggingOut.logout();
    await m2.commit(loggingOut);
    writer.set('n', 2);
    const error = await m1.commit(writer).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionDestroyedError);
    expect((error as SessionDestroyedError).status).toBe(409);
    expect((error as Error).message).toMatch(/ended .* by another request; nothing was saved/);
    // Under the key, only the id's retirement record (no data, never live again).
    expect(store.records.get(key)?.record).toMatchObject({
      data: '',
      expiresAt: 0,
      retired: { by: 'logout' },
    });
    expect(store.sessions()).toHaveLength(0);
  });

  it('one process, lock released early: same result', async () => {
    const store = new TestStore();
    const manager = createSessionManager<Data>({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    const writer = await manager.load(browser.header(), { now: T0 + 1000 });
    writer.release();
    await visit(manager, browser, (s) => s.logout(), { now: T0 + 1000 });
    writer.update('n', (n = 0) => n + 1);
    await expect(manager.commit(writer)).rejects.toBeInstanceOf(SessionDestroyedError);
    expect(store.sessions()).toHaveLength(0);
  });

  it('a write racing a revokeSessions fails the same way', async () => {
    const store = new TestStore();
    const manager = createSessionManager<Data>({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    const writer = await manager.load(browser.header(), { now: T0 + 1000 });
    expect(await manager.revokeSessions('alice')).toBe(1);
    writer.set('n', 1);
    await expect(manager.commit(writer)).rejects.toBeInstanceOf(SessionDestroyedError);
    expect(store.sessions()).toHaveLength(0);
  });

  it('a login racing another write merges the write into the new session, old record gone', async () => {
    const store = new TestStore();
    const [m1, m2] = [createSessionManager<Data>({ store }), createSessionManager<Data>({ store })];
    const browser = new Browser();
    await visit(m1, browser, (s) => s.set('cart', 1));
    const cookie = browser.header()!;
    const login = await m1.load(cookie, { now: T0 + 1000 });
    const other = await m2.load(cookie, { now: T0 + 1000 });
    other.set('seen', 1);
    await m2.commit(other);
    login.login('alice');
    await m1.commit(login);
    const [, record] = store.sessions()[0]!;
    expect(store.sessions()).toHaveLength(1);
    expect(record.userId).toBe('alice');
    // The login's time (step-up freshness) is re-applied with its other writes.
    expect(JSON.parse(record.data)).toEqual({ cart: 1, seen: 1, 'teller:auth': T0 + 1000 });
  });
});
