/**
 * The session core over the real embedded stores (memory, SQLite): the record fields the core relies on
 * (format, persistent, movedTo, meta, userId) survive a round trip, and the scenarios hold end to end.
 * The step-up freshness and passive-request scenarios (helpers.ts) run here, and on Redis, PostgreSQL and
 * the express-session store bridge in their own test files.
 */
import { describe, expect, it } from 'vitest';
import { createSessionManager, type SessionStore } from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { createSqliteStore } from '../../src/stores/sqlite.js';
import {
  Browser,
  freshnessScenario,
  MINUTE,
  passiveScenario,
  reuseScenario,
  sealedReuseScenario,
  T0,
  visit,
} from './helpers.js';

const stores: Array<[string, () => SessionStore]> = [
  ['memory', () => createMemoryStore()],
  ['sqlite', () => createSqliteStore({ filename: ':memory:' })],
];

for (const [name, make] of stores) {
  describe(`the session core on the ${name} store`, () => {
    it('first visit, login (remember me), read, renewal with a grace pointer, logout, replay', async () => {
      const store = make();
      const manager = createSessionManager<{ cart: string[] }>({ store, renewAfter: 10 * MINUTE });
      const browser = new Browser();
      await visit(manager, browser, (s) => s.set('cart', ['apple']), {
        now: T0,
        userAgent: 'UA',
        ip: '10.0.0.1',
      });
      await visit(manager, browser, (s) => s.login('alice', { remember: true }), { now: T0 + 1000 });
      const [info] = await manager.listSessions('alice', { now: T0 + 2000 });
      expect(info).toMatchObject({ persistent: true, createdAt: T0 + 1000 });
      const inFlight = new Browser();
      inFlight.cookies.set('sid', browser.value()!);
      const renewed = await visit(manager, browser, (s) => s.get('cart'), { now: T0 + 11 * MINUTE });
      expect(renewed.result).toEqual(['apple']);
      expect(browser.last[0]?.maxAge).toBeGreaterThan(0);
      expect(browser.value()).not.toBe(inFlight.value());
      const viaPointer = await visit(manager, inFlight, (s) => [s.userId, s.get('cart')], {
        now: T0 + 11 * MINUTE + 5000,
      });
      expect(viaPointer.result).toEqual(['alice', ['apple']]);
      await visit(manager, browser, (s) => s.logout(), { now: T0 + 12 * MINUTE });
      expect(browser.cookies.size).toBe(0);
      const replay = await visit(manager, inFlight, (s) => s.userId, { now: T0 + 12 * MINUTE + 1 });
      expect(replay.result).toBeUndefined();
      await store.close?.();
    });

    it('step-up freshness: authenticatedAt is the last login, kept by renewal and regenerate; isFresh follows it', async () => {
      const store = make();
      await freshnessScenario(store);
      await store.close?.();
    });

    it('passive requests: polled every minute (reading, writing, touching) the session ends at its idle timeout', async () => {
      const store = make();
      await passiveScenario(store);
      await store.close?.();
    });

    it("stolen-id detection: a thief's copy after login, renewal, logout, revocation; nothing in flight or aborted; the revoke policy", async () => {
      const store = make();
      await reuseScenario(store);
      await store.close?.();
    });

    it('stolen-id detection of sealed sessions: login, regenerate, logout, anonymous regenerate and destroy; nothing in flight or aborted; the revoke policy', async () => {
      const store = make();
      await sealedReuseScenario(store);
      await store.close?.();
    });

    it('concurrent updates from two managers on one store all count', async () => {
      const store = make();
      const [m1, m2] = [
        createSessionManager<{ n: number }>({ store }),
        createSessionManager<{ n: number }>({ store }),
      ];
      const browser = new Browser();
      await visit(m1, browser, (s) => s.set('n', 0));
      const cookie = browser.header()!;
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const m = i % 2 === 0 ? m1 : m2;
          const s = await m.load(cookie, { now: T0 + 1000 });
          await new Promise((r) => setImmediate(r));
          s.update('n', (n = 0) => n + 1);
          await m.commit(s);
        }),
      );
      expect((await visit(m1, browser, (s) => s.get('n'), { now: T0 + 2000 })).result).toBe(20);
      await store.close?.();
    });
  });
}
