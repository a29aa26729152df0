/**
 * Step-up freshness (`session.authenticatedAt`, `session.isFresh(maxAgeMs)`) and passive requests
 * (`load(..., { passive: true })`) in detail, on the counting TestStore and in sealed mode. The scenarios every
 * store runs are `freshnessScenario` and `passiveScenario` in helpers.ts.
 */
import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/session/manager.js';
import { Browser, MINUTE, T0, TestStore, visit } from './helpers.js';

const SECRET = 'x'.repeat(32);
const at = (minutes: number) => ({ now: T0 + minutes * MINUTE });
const passive = { passive: true } as const;

describe('step-up freshness', () => {
  it('isFresh takes a non-negative finite number of ms, else a TypeError', async () => {
    const manager = createSessionManager({ store: new TestStore() });
    const session = await manager.load(undefined, at(0));
    session.login('alice');
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '300000', undefined, null]) {
      expect(() => session.isFresh(bad as number), String(bad)).toThrow(TypeError);
    }
    expect(() => session.isFresh(-1)).toThrow(/isFresh needs maxAgeMs/);
    // The login's own request: authenticated now, so fresh even within 0 ms.
    expect(session.isFresh(0)).toBe(true);
    expect(session.authenticatedAt).toBe(T0);
    await manager.commit(session);
  });

  it('reading authenticatedAt or isFresh uses the session (Vary: Cookie)', async () => {
    const manager = createSessionManager({ store: new TestStore() });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), at(0));
    for (const read of [
      (s: { authenticatedAt: unknown }) => s.authenticatedAt,
      (s: { isFresh(ms: number): boolean }) => s.isFresh(1),
    ]) {
      const session = await manager.load(browser.header(), at(1));
      expect(session.accessed).toBe(false);
      read(session);
      expect(session.accessed).toBe(true);
      await manager.commit(session);
    }
  });

  it("judges by the manager's clock when the request gives no time", async () => {
    let now = T0;
    const manager = createSessionManager({ store: new TestStore(), clock: () => now });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), {});
    now = T0 + 4 * MINUTE;
    expect((await visit(manager, browser, (s) => s.isFresh(5 * MINUTE), {})).result).toBe(true);
    now = T0 + 6 * MINUTE;
    const late = await visit(manager, browser, (s) => [s.authenticatedAt, s.isFresh(5 * MINUTE)], {});
    expect(late.result).toEqual([T0, false]);
  });

  it('is never in data() or toJSON(), and a user cannot write it', async () => {
    const manager = createSessionManager({ store: new TestStore() });
    const session = await manager.load(undefined, at(0));
    session.login('alice');
    expect(session.data()).toEqual({});
    expect(JSON.stringify(session)).not.toContain('teller:auth');
    expect(() => session.set('teller:auth', 0)).toThrow(TypeError);
    await manager.commit(session);
  });

  it("a re-login that merges after a concurrent write keeps the write and the new login's time", async () => {
    const store = new TestStore();
    const manager = createSessionManager<{ cart: string[] }>({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), at(0));
    const relogin = await manager.load(browser.header(), at(10), { lock: false });
    const write = await manager.load(browser.header(), at(10), { lock: false });
    write.set('cart', ['apple']);
    relogin.login('alice');
    await manager.commit(write);
    browser.receive((await manager.commit(relogin)).setCookie, T0 + 10 * MINUTE);
    const read = await visit(
      manager,
      browser,
      (s) => [s.get('cart'), s.authenticatedAt, s.isFresh(MINUTE)],
      at(11),
    );
    expect(read.result).toEqual([['apple'], T0 + 10 * MINUTE, true]);
  });

  it('sealed sessions carry it in the cookie: kept by regenerate, set anew by a re-login, gone at logout', async () => {
    const manager = createSessionManager({ seal: { secrets: [SECRET] } });
    const browser = new Browser();
    const freshness = (s: { userId?: string; authenticatedAt?: number; isFresh(ms: number): boolean }) => [
      s.userId,
      s.authenticatedAt,
      s.isFresh(5 * MINUTE),
    ];
    await visit(manager, browser, (s) => s.login('alice'), at(0));
    expect((await visit(manager, browser, freshness, at(3))).result).toEqual(['alice', T0, true]);
    await visit(manager, browser, (s) => s.regenerate(), at(4));
    expect((await visit(manager, browser, freshness, at(6))).result).toEqual(['alice', T0, false]);
    await visit(manager, browser, (s) => s.login('alice'), at(7));
    expect((await visit(manager, browser, freshness, at(8))).result).toEqual([
      'alice',
      T0 + 7 * MINUTE,
      true,
    ]);
    await visit(manager, browser, (s) => s.logout(), at(9));
    expect((await visit(manager, browser, freshness, at(10))).result).toEqual([undefined, undefined, false]);
  });
});

describe('passive requests', () => {
  it('a passive read costs one store read and never a write, even with a touch due or asked for', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), at(0));
    store.resetCounts();
    const poll = await visit(
      manager,
      browser,
      (s) => {
        s.touch();
        return s.userId;
      },
      at(20),
      {},
      passive,
    );
    expect(poll.result).toBe('alice');
    expect(poll.setCookie).toEqual([]);
    expect([store.reads, store.writes, store.deletes]).toEqual([1, 0, 0]);
    // The same request without passive touches the session (so the check above could fail).
    await visit(manager, browser, (s) => s.userId, at(20));
    expect(store.writes).toBe(1);
  });

  it('a passive write keeps the idle expiry and last-seen time; a merge keeps the newer extension', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    const { result: key } = await visit(
      manager,
      browser,
      (s) => {
        s.login('alice');
        return s.handle;
      },
      at(0),
    );
    await visit(manager, browser, (s) => s.set('a', 1), at(5), {}, passive);
    expect((await store.get(key))!).toMatchObject({ lastSeenAt: T0, expiresAt: T0 + 30 * MINUTE });
    // A passive write that loaded before an ordinary request touched the session: its merge keeps that touch.
    const poll = await manager.load(browser.header(), at(10), { passive: true, lock: false });
    await visit(manager, browser, (s) => s.touch(), at(10));
    poll.set('b', 2);
    await manager.commit(poll);
    const record = (await store.get(key))!;
    expect(record).toMatchObject({ lastSeenAt: T0 + 10 * MINUTE, expiresAt: T0 + 40 * MINUTE });
    expect(JSON.parse(record.data)).toMatchObject({ a: 1, b: 2 });
  });

  it('regenerate in a passive request keeps the expiry; login starts the lifetimes anew (both explicit)', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), at(0));
    const before = browser.value();
    const regenerated = await visit(
      manager,
      browser,
      (s) => {
        s.regenerate();
        return s.handle;
      },
      at(10),
      {},
      passive,
    );
    expect(browser.value()).not.toBe(before);
    expect((await store.get(regenerated.result))!).toMatchObject({ expiresAt: T0 + 30 * MINUTE });
    const relogin = await visit(
      manager,
      browser,
      (s) => {
        s.login('alice');
        return s.handle;
      },
      at(20),
      {},
      passive,
    );
    expect((await store.get(relogin.result))!).toMatchObject({
      createdAt: T0 + 20 * MINUTE,
      expiresAt: T0 + 50 * MINUTE,
    });
    expect((await visit(manager, browser, (s) => s.isFresh(MINUTE), at(21), {}, passive)).result).toBe(true);
    // logout works in a passive request too.
    await visit(manager, browser, (s) => s.logout(), at(22), {}, passive);
    expect(browser.cookies.size).toBe(0);
  });

  it('sealed: polled every minute with passive writes the session ends at its idle timeout; ordinary writes keep it', async () => {
    for (const options of [passive, undefined]) {
      const manager = createSessionManager<{ polls: number }>({ seal: { secrets: [SECRET] } });
      const browser = new Browser();
      await visit(manager, browser, (s) => s.login('alice'), at(0));
      for (let m = 1; m <= 35; m++) {
        const poll = await visit(
          manager,
          browser,
          (s) => {
            if (s.userId !== undefined) s.update('polls', (n = 0) => n + 1);
            return [s.userId, s.get('polls')];
          },
          at(m),
          {},
          options,
        );
        // Every write re-seals the cookie (the data is in it), the passive ones with the login's expiry.
        const alive = options === undefined || m < 30;
        expect(poll.result, `${options ? 'passive' : 'ordinary'} at minute ${m}`).toEqual(
          alive ? ['alice', m] : [undefined, undefined],
        );
      }
    }
  });

  it('sealed: a passive read re-seals nothing, even with a touch due or asked for', async () => {
    const manager = createSessionManager({ seal: { secrets: [SECRET] } });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), at(0));
    const poll = await visit(
      manager,
      browser,
      (s) => {
        s.touch();
        return s.userId;
      },
      at(20),
      {},
      passive,
    );
    expect([poll.result, poll.setCookie]).toEqual(['alice', []]);
    expect((await visit(manager, browser, (s) => s.userId, at(20))).setCookie).toHaveLength(1);
  });

  it('a fresh session written in a passive request is created as any other', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    const first = await visit(
      manager,
      browser,
      (s) => {
        s.set('a', 1);
        return s.handle;
      },
      at(0),
      {},
      passive,
    );
    expect(first.setCookie).toHaveLength(1);
    expect((await store.get(first.result))!).toMatchObject({ expiresAt: T0 + 30 * MINUTE });
  });
});
