/**
 * Ids retired by renewal or rotation, and what requests carrying them may still do (issue 15):
 * - every id issued within the renewal grace window keeps working until its own grace ends, however
 *   many renewals followed it;
 * - a logout or destroy that carries an id retired by login/regenerate ends its successor too (an
 *   ordinary request with such an id still gets a fresh anonymous session).
 */
import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { Browser, copyOf, MINUTE, T0, TestStore, visit } from './helpers.js';

const at = (ms: number) => ({ now: T0 + ms });

describe('renewal grace over several hops', () => {
  it('renewAfter shorter than renewGrace: the oldest id keeps working until its own grace ends', async () => {
    const store = new TestStore();
    const manager = createSessionManager<{ n: number }>({
      store,
      renewAfter: MINUTE,
      renewGrace: 5 * MINUTE,
    });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), at(0));
    const first = copyOf(browser); // id A
    await visit(manager, browser, (s) => s.set('n', 1), at(1.5 * MINUTE)); // A -> B
    const second = copyOf(browser); // id B
    expect(second.value()).not.toBe(first.value());
    await visit(manager, browser, (s) => s.set('n', 2), at(3 * MINUTE)); // B -> C
    expect(browser.value()).not.toBe(second.value());

    // A request in flight with A (renewed at 1.5 min, grace until 6.5 min) reaches the live record.
    const withA = await visit(manager, copyOf(first), (s) => [s.userId, s.get('n')], at(4 * MINUTE));
    expect(withA.result).toEqual(['alice', 2]);
    const withB = await visit(manager, copyOf(second), (s) => s.userId, at(4 * MINUTE));
    expect(withB.result).toBe('alice');
    // A write through the oldest id lands on the live record.
    await visit(manager, copyOf(first), (s) => s.update('n', (n = 0) => n + 10), at(4.5 * MINUTE));
    // Each id ends with its own grace: A at 6.5 min, B at 8 min.
    expect((await visit(manager, copyOf(first), (s) => s.userId, at(7 * MINUTE))).result).toBeUndefined();
    expect((await visit(manager, copyOf(second), (s) => s.userId, at(7 * MINUTE))).result).toBe('alice');
    expect((await visit(manager, copyOf(second), (s) => s.userId, at(8.5 * MINUTE))).result).toBeUndefined();
    const live = await visit(manager, browser, (s) => s.get('n'), at(8.5 * MINUTE));
    expect(live.result).toBe(12);
  });
});

describe('a logout carrying an id retired by login or regenerate', () => {
  it('after the login: the logout sent with the pre-login cookie ends the logged-in session', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']), at(0));
    const stale = copyOf(browser); // a tab that has not seen the login's cookie yet
    await visit(manager, browser, (s) => s.login('alice'), at(1000));
    await visit(manager, stale, (s) => s.logout(), at(2000));
    expect((await visit(manager, browser, (s) => s.userId, at(3000))).result).toBeUndefined();
    expect(await manager.listSessions('alice', at(3000))).toEqual([]);
  });

  it('after a regenerate, a destroy sent with the old cookie ends the regenerated session', async () => {
    const store = new TestStore();
    const manager = createSessionManager<{ cart: string[] }>({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), at(0));
    const stale = copyOf(browser);
    await visit(manager, browser, (s) => s.regenerate(), at(1000));
    await visit(manager, stale, (s) => s.destroy(), at(2000));
    expect((await visit(manager, browser, (s) => s.userId, at(3000))).result).toBeUndefined();
  });

  it('across two processes, a login and a logout of the same cookie racing: the new session never survives', async () => {
    for (let round = 0; round < 20; round++) {
      const store = new TestStore();
      const a = createSessionManager({ store });
      const b = createSessionManager({ store });
      const browser = new Browser();
      await visit(a, browser, (s) => s.set('cart', ['apple']), at(0));
      const header = browser.header();
      const logsIn = await a.load(header, at(1000));
      const logsOut = await b.load(header, at(1000));
      logsIn.login('alice');
      logsOut.logout();
      const loggedIn = new Browser();
      // Either order of commits: the login first (its successor must then be ended), or the logout first.
      if (round % 2 === 0) {
        loggedIn.receive((await a.commit(logsIn)).setCookie);
        await b.commit(logsOut);
      } else {
        await b.commit(logsOut);
        const committed = await a.commit(logsIn).catch(() => undefined);
        if (committed === undefined) continue; // the login found its session ended: nothing to check
        loggedIn.receive(committed.setCookie);
      }
      expect((await visit(a, loggedIn, (s) => s.userId, at(2000))).result).toBeUndefined();
      expect(await a.listSessions('alice', at(2000))).toEqual([]);
    }
  });

  it('an ordinary request with the retired id still gets a fresh anonymous session', async () => {
    const store = new TestStore();
    const manager = createSessionManager<{ cart: string[] }>({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']), at(0));
    const stale = copyOf(browser);
    await visit(manager, browser, (s) => s.login('alice'), at(1000));
    const replay = await visit(manager, stale, (s) => [s.isNew, s.userId, s.get('cart')], at(2000));
    expect(replay.result).toEqual([true, undefined, undefined]);
    expect((await visit(manager, browser, (s) => [s.userId, s.get('cart')], at(3000))).result).toEqual([
      'alice',
      ['apple'],
    ]);
  });
});

describe('a logout with an id renewed, then rotated', () => {
  it('reaches the session that followed the rotation (the renewal pointer leads to the rotated record)', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store, renewAfter: MINUTE, renewGrace: 5 * MINUTE });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']), at(0));
    const stale = copyOf(browser); // id A
    await visit(manager, browser, (s) => s.get('cart'), at(1.5 * MINUTE)); // A -> B (renewal)
    await visit(manager, browser, (s) => s.login('alice'), at(2 * MINUTE)); // B -> C (rotation)
    await visit(manager, stale, (s) => s.logout(), at(2.5 * MINUTE));
    expect((await visit(manager, browser, (s) => s.userId, at(3 * MINUTE))).result).toBeUndefined();
  });
});
