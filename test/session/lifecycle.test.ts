import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createSessionManager, type Session } from '../../src/index.js';
import { storeKeyOf } from '../../src/session/ids.js';
import { flipBit } from '../support/tamper.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

function setup() {
  const store = new TestStore();
  const manager = createSessionManager<{ cart: string[]; n: number }>({ store });
  return { store, manager, browser: new Browser() };
}

describe('login', () => {
  it('regenerates the id, deletes the old record and keeps the data (fixation defence)', async () => {
    const { store, manager, browser } = setup();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    const before = browser.value()!;
    await visit(manager, browser, (s) => s.login('alice'));
    const after = browser.value()!;
    expect(after).not.toBe(before);
    // The old key keeps no data: an ended record linking to the new key (for a logout carrying the old id).
    const retired = store.records.get(storeKeyOf(before))?.record;
    expect(retired).toMatchObject({ data: '', expiresAt: 0, rotatedTo: storeKeyOf(after) });
    expect(store.records.get(storeKeyOf(after))!.record).toMatchObject({ userId: 'alice', version: 1 });
    const { result } = await visit(manager, browser, (s) => [s.userId, s.get('cart')]);
    expect(result).toEqual(['alice', ['apple']]);
  });

  it('a fixated (attacker-planted) session cannot be used after the victim logs in', async () => {
    const { manager } = setup();
    const attacker = new Browser();
    await visit(manager, attacker, (s) => s.set('n', 1));
    const victim = new Browser();
    victim.cookies.set('sid', attacker.value()!);
    await visit(manager, victim, (s) => s.login('victim'));
    const { result } = await visit(manager, attacker, (s) => s.userId);
    expect(result).toBeUndefined();
  });

  it('gives a session cookie by default and a persistent one with remember: true', async () => {
    const { manager } = setup();
    const a = new Browser();
    await visit(manager, a, (s) => s.login('alice'));
    expect(a.last[0]).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(a.last[0]?.expiresAt).toBeUndefined();
    const b = new Browser();
    await visit(manager, b, (s) => s.login('bob', { remember: true }));
    expect(b.last[0]?.maxAge).toBe(30 * 24 * 3600);
  });

  it('rotates the CSRF secret', async () => {
    const { manager, browser } = setup();
    const { result: token } = await visit(manager, browser, (s) => s.csrfToken);
    const { result } = await visit(manager, browser, (s) => {
      s.login('alice');
      return s.verifyCsrfToken(token);
    });
    expect(result).toBe(false);
  });
});

describe('logout', () => {
  it('deletes the record and clears the cookie; replaying the old cookie gets a fresh anonymous session', async () => {
    const { store, manager, browser } = setup();
    await visit(manager, browser, (s) => s.login('alice'));
    const stolen = browser.value()!;
    const { setCookie } = await visit(manager, browser, (s) => s.logout());
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^sid=; Max-Age=0;/);
    expect(browser.cookies.size).toBe(0);
    // Only the id's retirement record stays (stolen-id detection): ended, no data, not the user's.
    expect(store.sessions()).toHaveLength(0);
    expect([...store.records.values()].map((e) => e.record)).toEqual([
      expect.objectContaining({ data: '', expiresAt: 0, retired: { by: 'logout', at: T0, user: 'alice' } }),
    ]);
    expect([...store.records.values()][0]!.record.userId).toBeUndefined();

    const replay = new Browser();
    replay.cookies.set('sid', stolen);
    const { session, result } = await visit(manager, replay, (s) => [s.userId, s.isNew]);
    expect(result).toEqual([undefined, true]);
    // Writing on the replayed cookie creates a new, unrelated session.
    await visit(manager, replay, (s) => s.set('n', 1));
    expect(replay.value()).not.toBe(stolen);
    expect(store.records.get(storeKeyOf(stolen))?.record).toMatchObject({ data: '', expiresAt: 0 });
    expect(session.userId).toBeUndefined();
  });

  it('after logout in the same request, new writes go to a brand new session', async () => {
    const { store, manager, browser } = setup();
    await visit(manager, browser, (s) => s.login('alice'));
    const old = browser.value()!;
    await visit(manager, browser, (s) => {
      s.logout();
      s.set('n', 1);
    });
    expect(browser.value()).not.toBe(old);
    expect(store.sessions()).toHaveLength(1);
    expect(store.sessions()[0]![1].userId).toBeUndefined();
  });

  it('clears the cookie even when the session behind it had already expired', async () => {
    const { manager, browser } = setup();
    await visit(manager, browser, (s) => s.login('alice'));
    const { setCookie } = await visit(manager, browser, (s) => s.logout(), { now: T0 + 24 * 3600_000 });
    expect(setCookie).toHaveLength(1);
    expect(browser.cookies.size).toBe(0);
  });

  it('destroy() ends an anonymous session the same way', async () => {
    const { store, manager, browser } = setup();
    await visit(manager, browser, (s) => s.set('n', 1));
    await visit(manager, browser, (s) => s.destroy());
    expect(store.sessions()).toHaveLength(0);
    expect([...store.records.values()].map((e) => e.record.retired?.by)).toEqual(['destroy']);
    expect(browser.cookies.size).toBe(0);
  });
});

describe('regenerate', () => {
  it('gives a new id for the same data and deletes the old record', async () => {
    const { store, manager, browser } = setup();
    await visit(manager, browser, (s) => s.set('n', 5));
    const before = browser.value()!;
    await visit(manager, browser, (s) => s.regenerate());
    expect(browser.value()).not.toBe(before);
    expect(store.sessions()).toHaveLength(1);
    expect((await visit(manager, browser, (s) => s.get('n'))).result).toBe(5);
  });
});

describe('bad cookies', () => {
  const cases: Array<[string, (valid: string) => string]> = [
    ['tampered', (v) => `${v.slice(0, 20)}${v[20] === 'A' ? 'B' : 'A'}${v.slice(21)}`],
    ['truncated', (v) => v.slice(0, 30)],
    ['foreign (express-session)', () => 's%3AdGhpcyBpcyBub3Qgb3Vycw.c2lnbmF0dXJl'],
    ['empty', () => ''],
    ['binary junk', () => '%00%FF%FE'],
    ['very long', () => 'x'.repeat(4000)],
  ];
  for (const [name, mangle] of cases) {
    it(`a ${name} cookie gets a fresh session, never an error`, async () => {
      const { manager, browser } = setup();
      await visit(manager, browser, (s) => s.login('alice'));
      const bad = new Browser();
      bad.cookies.set('sid', mangle(browser.value()!));
      const { session, result } = await visit(manager, bad, (s) => [s.isNew, s.userId]);
      expect(result).toEqual([true, undefined]);
      expect(session.isNew).toBe(true);
    });
  }
});

describe('Session API', () => {
  it('flash messages are read once', async () => {
    const { manager, browser } = setup();
    await visit(manager, browser, (s) => {
      s.flash('info', 'saved');
      s.flash('info', 'again');
    });
    expect((await visit(manager, browser, (s) => s.flash('info'))).result).toEqual(['saved', 'again']);
    expect((await visit(manager, browser, (s) => s.flash('info'))).result).toEqual([]);
  });

  it('CSRF tokens verify for their session only, masked differently each time', async () => {
    const { manager, browser } = setup();
    const { result: [t1, t2] = [] } = await visit(manager, browser, (s) => [s.csrfToken, s.csrfToken]);
    expect(t1).not.toBe(t2);
    const { result } = await visit(manager, browser, (s) => [
      s.verifyCsrfToken(t1),
      s.verifyCsrfToken(t2),
      s.verifyCsrfToken(flipBit(t1!)),
      s.verifyCsrfToken(flipBit(t1!, 0)),
      s.verifyCsrfToken(''),
      s.verifyCsrfToken(undefined),
    ]);
    expect(result).toEqual([true, true, false, false, false, false]);
    const other = new Browser();
    expect((await visit(manager, other, (s) => s.verifyCsrfToken(t1))).result).toBe(false);
  });

  it('update, delete and has', async () => {
    const { manager, browser } = setup();
    await visit(manager, browser, (s) => {
      s.set('n', 1);
      expect(s.update('n', (n = 0) => n + 1)).toBe(2);
      s.set('cart', ['x']);
      s.delete('cart');
      expect(s.has('cart')).toBe(false);
    });
    expect((await visit(manager, browser, (s) => s.data())).result).toEqual({ n: 2 });
  });

  it('reload() drops unsaved writes and re-reads the store', async () => {
    const { manager, browser } = setup();
    await visit(manager, browser, (s) => s.set('n', 1));
    const { result } = await visit(manager, browser, async (s) => {
      s.set('n', 99);
      await s.reload();
      return s.get('n');
    });
    expect(result).toBe(1);
  });

  it('refuses reserved and prototype keys, drops writes after commit, and refuses a second commit', async () => {
    const { store, manager } = setup();
    const s = await manager.load(undefined, { now: T0 });
    expect(() => s.set('__proto__' as 'n', 1)).toThrow(TypeError);
    expect(() => s.set('teller:csrf' as 'n', 1)).toThrow(/reserved/);
    await manager.commit(s);
    // A write after commit is reported and dropped, not thrown (habits.test.ts tests the report).
    s.set('n', 1);
    expect(s.get('n')).toBeUndefined();
    expect(store.writes).toBe(0);
    await expect(manager.commit(s)).rejects.toThrow(/already committed/);
  });

  it('toJSON() and util.inspect never show the id', async () => {
    const { manager, browser } = setup();
    await visit(manager, browser, (s) => {
      s.set('n', 1);
      s.login('alice');
    });
    const s = await manager.load(browser.header(), { now: T0 });
    const id = s.id;
    const shown = [
      JSON.stringify(s),
      inspect(s),
      inspect(s, { showHidden: true, depth: 10 }),
      String(s),
      `${Object.keys(s)}`,
    ];
    for (const text of shown) expect(text).not.toContain(id);
    expect(JSON.parse(JSON.stringify(s))).toEqual({ isNew: false, userId: 'alice', data: { n: 1 } });
    await manager.commit(s);
  });

  it('a 5xx response persists nothing and sets no cookie (even login and logout)', async () => {
    const { store, manager, browser } = setup();
    await visit(manager, browser, (s) => s.set('n', 1));
    const before = JSON.stringify([...store.records]);
    const cookie = browser.value();
    type S = Session<{ cart: string[]; n: number }>;
    const actions = [(s: S) => s.set('n', 2), (s: S) => s.login('alice'), (s: S) => s.logout()];
    for (const action of actions) {
      const { setCookie } = await visit(manager, browser, action, { now: T0 + 5 * 60_000 }, { status: 500 });
      expect(setCookie).toEqual([]);
      expect(JSON.stringify([...store.records])).toBe(before);
      expect(browser.value()).toBe(cookie);
    }
  });
});
