import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { Browser, HOUR, MINUTE, T0, TestStore, visit } from './helpers.js';

async function loggedIn(remember = false) {
  const store = new TestStore();
  const manager = createSessionManager({ store });
  const browser = new Browser();
  await visit(manager, browser, (s) => {
    s.set('n', 1);
    s.login('alice', { remember });
  });
  store.resetCounts();
  return { store, manager, browser };
}

describe('store round trips', () => {
  it('a read-only request costs exactly one store read, no write, no cookie', async () => {
    const { store, manager, browser } = await loggedIn();
    const { result, setCookie } = await visit(manager, browser, (s) => s.get('n'), { now: T0 + 1000 });
    expect(result).toBe(1);
    expect(store.log).toEqual(['get']);
    expect(setCookie).toEqual([]);
  });

  it('stolen-id detection adds no round trip: after a rotation, one write once, then one read per request (either policy)', async () => {
    for (const reuse of ['event', 'revoke'] as const) {
      const store = new TestStore();
      const manager = createSessionManager({ store, reuse });
      const browser = new Browser();
      await visit(manager, browser, (s) => s.set('n', 1));
      await visit(manager, browser, (s) => s.login('alice'), { now: T0 + 1000 });
      store.resetCounts();
      // The first request presenting the new id writes its record once without `unconfirmed` (no cookie).
      const first = await visit(manager, browser, (s) => s.get('n'), { now: T0 + 2000 });
      expect(store.log).toEqual(['get', 'set']);
      expect(first.setCookie).toEqual([]);
      expect([...store.records.values()].some((e) => e.record.unconfirmed === true)).toBe(false);
      store.resetCounts();
      for (let i = 0; i < 5; i++) await visit(manager, browser, (s) => s.get('n'), { now: T0 + 3000 + i });
      expect(store.log).toEqual(['get', 'get', 'get', 'get', 'get']);
    }
  });

  it('touches at most once per minute: the idle expiry moves, then stays until a minute passed', async () => {
    const { store, manager, browser } = await loggedIn();
    const key = [...store.records.keys()][0]!;
    expect(store.records.get(key)!.record.expiresAt).toBe(T0 + 30 * MINUTE);

    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 59_000 });
    expect(store.writes).toBe(0);
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 60_000 });
    expect(store.writes).toBe(1);
    expect(store.records.get(key)!.record).toMatchObject({
      lastSeenAt: T0 + 60_000,
      expiresAt: T0 + 31 * MINUTE,
    });
    for (let i = 1; i <= 20; i++)
      await visit(manager, browser, (s) => s.get('n'), { now: T0 + 60_000 + i * 2000 });
    expect(store.writes).toBe(1);
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 121_000 });
    expect(store.writes).toBe(2);
  });

  it('touches when less than half the idle time is left, even within the minute (short idle timeouts)', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store, idleTimeout: 60_000, touchInterval: 60_000 });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1));
    store.resetCounts();
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 29_000 });
    expect(store.writes).toBe(0);
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 31_000 });
    expect(store.writes).toBe(1);
  });

  it('session.touch() forces the extension', async () => {
    const { store, manager, browser } = await loggedIn();
    await visit(manager, browser, (s) => s.touch(), { now: T0 + 1000 });
    expect(store.writes).toBe(1);
  });

  it('a touch re-sends a persistent cookie with the new lifetime, not a session cookie', async () => {
    const persistent = await loggedIn(true);
    expect(persistent.browser.last[0]?.maxAge).toBe(30 * 24 * 3600);
    const touched = await visit(persistent.manager, persistent.browser, (s) => s.get('n'), {
      now: T0 + 2 * MINUTE,
    });
    expect(touched.setCookie).toHaveLength(1);
    // The sliding idle lifetime starts again: the cookie now ends 30 days after this request.
    expect(persistent.browser.last[0]?.maxAge).toBe(30 * 24 * 3600);
    expect(persistent.store.sessions()[0]![1].expiresAt).toBe(T0 + 2 * MINUTE + 30 * 24 * HOUR);

    const plain = await loggedIn(false);
    const again = await visit(plain.manager, plain.browser, (s) => s.get('n'), { now: T0 + 2 * MINUTE });
    expect(plain.store.writes).toBe(1);
    expect(again.setCookie).toEqual([]);
  });

  it('no touch when the absolute lifetime caps the expiry anyway', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store, absoluteTimeout: HOUR });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1));
    for (let t = 10; t < 60; t += 5)
      await visit(manager, browser, (s) => s.get('n'), { now: T0 + t * MINUTE });
    // From minute 30 on, now + idle passes createdAt + 1 h: the record's expiry is the absolute one.
    const record = [...store.records.values()][0]!.record;
    expect(record.expiresAt).toBe(T0 + HOUR);
    const writes = store.writes;
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 59 * MINUTE });
    expect(store.writes).toBe(writes);
  });

  it('login restarts the absolute lifetime', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store, absoluteTimeout: HOUR, idleTimeout: 30 * MINUTE });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    for (let t = 20; t <= 50; t += 10)
      await visit(manager, browser, (s) => s.touch(), { now: T0 + t * MINUTE });
    await visit(manager, browser, (s) => s.login('alice'), { now: T0 + 55 * MINUTE });
    const [, record] = store.sessions()[0]!;
    expect(record.createdAt).toBe(T0 + 55 * MINUTE);
    expect(record.expiresAt).toBe(T0 + 85 * MINUTE);
    const later = await visit(manager, browser, (s) => [s.userId, s.get('cart')], { now: T0 + 70 * MINUTE });
    expect(later.result).toEqual(['alice', ['apple']]);
  });
});
