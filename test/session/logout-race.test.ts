import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { Browser, MINUTE, T0, TestStore, visit } from './helpers.js';

// Two processes (two managers, two in-process locks) sharing one store.
function processes() {
  const store = new TestStore();
  const options = { store, renewAfter: 10 * MINUTE };
  return {
    store,
    a: createSessionManager<{ n: number }>(options),
    b: createSessionManager<{ n: number }>(options),
  };
}

describe('across processes, ending a session racing an id renewal', () => {
  it('logout in A, renewal in B committed in between: the renewed cookie is not the user any more', async () => {
    const { store, a, b } = processes();
    const browser = new Browser();
    await visit(a, browser, (s) => {
      s.login('alice');
      s.set('n', 1);
    });
    const later = { now: T0 + 11 * MINUTE };
    const header = browser.header();

    const inA = await a.load(header, later);
    expect(inA.userId).toBe('alice');
    inA.logout();
    const inB = await b.load(header, later);
    expect(inB.userId).toBe('alice');
    const renewed = new Browser();
    renewed.receive((await b.commit(inB)).setCookie);
    expect(renewed.value()).toBeDefined();
    expect(renewed.value()).not.toBe(browser.value());
    browser.receive((await a.commit(inA)).setCookie);

    for (const manager of [a, b]) {
      const copy = new Browser();
      copy.cookies.set('sid', renewed.value()!);
      const next = { now: T0 + 11 * MINUTE + 1 };
      const { result } = await visit(manager, copy, (s) => [s.userId, s.get('n')], next);
      expect(result).toEqual([undefined, undefined]);
    }
    const replay = new Browser();
    replay.cookies.set('sid', header!.slice('sid='.length));
    expect((await visit(b, replay, (s) => s.userId, { now: T0 + 11 * MINUTE + 1 })).result).toBeUndefined();
    expect(await a.listSessions('alice', later)).toEqual([]);
    expect(store.sessions()).toEqual([]);
  });

  it('logout committed before the renewal: the renewal fails and creates nothing', async () => {
    const { store, a, b } = processes();
    const browser = new Browser();
    await visit(a, browser, (s) => s.login('alice'));
    const later = { now: T0 + 11 * MINUTE };
    const inA = await a.load(browser.header(), later);
    const inB = await b.load(browser.header(), later);
    inA.logout();
    await a.commit(inA);
    await expect(b.commit(inB)).rejects.toThrow(/ended/);
    expect(store.sessions()).toEqual([]);
    expect(await a.listSessions('alice', later)).toEqual([]);
  });

  it("login (id rotation) in A racing a renewal in B: only A's new session lives", async () => {
    const { store, a, b } = processes();
    const browser = new Browser();
    await visit(a, browser, (s) => s.login('alice'));
    const later = { now: T0 + 11 * MINUTE };
    const header = browser.header();
    const inA = await a.load(header, later);
    inA.login('bob');
    const inB = await b.load(header, later);
    const renewed = new Browser();
    renewed.receive((await b.commit(inB)).setCookie);
    const fresh = new Browser();
    fresh.receive((await a.commit(inA)).setCookie);

    const next = { now: T0 + 11 * MINUTE + 1 };
    expect((await visit(a, renewed, (s) => s.userId, next)).result).toBeUndefined();
    expect((await visit(a, fresh, (s) => s.userId, next)).result).toBe('bob');
    expect(await a.listSessions('alice', later)).toEqual([]);
    expect(store.sessions().map(([, r]) => r.userId)).toEqual(['bob']);
  });
});
