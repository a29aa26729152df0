import { describe, expect, it } from 'vitest';
import { createSessionManager, SessionStoreError, storeKeyOf } from '../../src/index.js';
import type { RetireByUserOptions, SessionStore } from '../../src/session/store.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { Browser, HOUR, MINUTE, T0, TestStore, visit } from './helpers.js';

const DAY = 24 * HOUR;

const stores: Array<[string, () => SessionStore]> = [
  ['test store', () => new TestStore()],
  ['memory store', () => createMemoryStore()],
];

for (const [name, makeStore] of stores) {
  describe(`users (${name})`, () => {
    async function twoDevices() {
      const store = makeStore();
      const manager = createSessionManager({ store });
      const laptop = new Browser();
      const phone = new Browser();
      const other = new Browser();
      const current = await visit(manager, laptop, (s) => s.login('alice'), {
        now: T0,
        userAgent: 'Firefox',
        ip: '10.0.0.1',
      });
      await visit(manager, phone, (s) => s.login('alice', { remember: true }), {
        now: T0 + MINUTE,
        userAgent: 'Safari',
        ip: '10.0.0.2',
      });
      await visit(manager, other, (s) => s.login('bob'), { now: T0 });
      return { store, manager, laptop, phone, other, current: current.session };
    }

    it('listSessions shows created, last seen, user agent and ip, never the id', async () => {
      const { manager, laptop, phone, current } = await twoDevices();
      const list = await manager.listSessions('alice', { now: T0 + 2 * MINUTE });
      expect(list).toHaveLength(2);
      expect(list.map((s) => [s.userAgent, s.ip, s.createdAt, s.persistent])).toEqual([
        ['Safari', '10.0.0.2', T0 + MINUTE, true],
        ['Firefox', '10.0.0.1', T0, false],
      ]);
      expect(list.map((s) => s.handle)).toContain(current.handle);
      const text = JSON.stringify(list);
      expect(text).not.toContain(laptop.value()!);
      expect(text).not.toContain(phone.value()!);
      expect(await manager.listSessions('nobody', { now: T0 })).toEqual([]);
    });

    it('listSessions leaves out expired sessions', async () => {
      const { manager } = await twoDevices();
      const list = await manager.listSessions('alice', { now: T0 + 40 * MINUTE });
      expect(list.map((s) => s.userAgent)).toEqual(['Safari']);
    });

    it('revokeSessions logs a user out everywhere, except the current session if asked', async () => {
      const { manager, laptop, phone, other, current } = await twoDevices();
      expect(await manager.revokeSessions('alice', { except: current })).toBe(1);
      expect((await visit(manager, phone, (s) => s.userId, { now: T0 + 2 * MINUTE })).result).toBeUndefined();
      expect((await visit(manager, laptop, (s) => s.userId, { now: T0 + 2 * MINUTE })).result).toBe('alice');
      expect((await visit(manager, other, (s) => s.userId, { now: T0 + 2 * MINUTE })).result).toBe('bob');
      expect(await manager.revokeSessions('alice')).toBe(1);
      expect(
        (await visit(manager, laptop, (s) => s.userId, { now: T0 + 3 * MINUTE })).result,
      ).toBeUndefined();
      expect(await manager.listSessions('alice', { now: T0 + 3 * MINUTE })).toEqual([]);
    });

    it('revoking by handle (one session from the list)', async () => {
      const { manager, laptop, phone } = await twoDevices();
      const [safari] = await manager.listSessions('alice', { now: T0 + 2 * MINUTE });
      await manager.revokeSessions('alice', { except: safari!.handle });
      expect((await visit(manager, phone, (s) => s.userId, { now: T0 + 2 * MINUTE })).result).toBe('alice');
      expect(
        (await visit(manager, laptop, (s) => s.userId, { now: T0 + 2 * MINUTE })).result,
      ).toBeUndefined();
    });
  });
}

describe('users without a user index', () => {
  it('listSessions and revokeSessions say plainly that the store lacks the ability', async () => {
    const store = new TestStore();
    const bare = { get: store.get.bind(store), set: store.set.bind(store), delete: store.delete.bind(store) };
    const manager = createSessionManager({ store: bare });
    await expect(manager.listSessions('alice')).rejects.toThrow(/listByUser/);
    await expect(manager.revokeSessions('alice')).rejects.toThrow(/deleteByUser or listByUser/);
  });

  it('revokeSessions falls back to listByUser + delete', async () => {
    const store = new TestStore();
    const partial = {
      get: store.get.bind(store),
      set: store.set.bind(store),
      delete: store.delete.bind(store),
      listByUser: store.listByUser.bind(store),
    };
    const manager = createSessionManager({ store: partial });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    expect(await manager.revokeSessions('alice')).toBe(1);
    expect(store.records.size).toBe(0);
  });
});

describe('revoking from the request that logs in', () => {
  it('"log out other devices" during a login keeps the session being logged in', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const laptop = new Browser();
    const phone = new Browser();
    await visit(manager, laptop, (s) => s.login('alice'));
    await visit(manager, phone, (s) => s.login('alice'));
    // Re-authentication on the laptop (new id) revoking the other sessions before its commit.
    await visit(manager, laptop, async (s) => {
      s.login('alice');
      expect(await manager.revokeSessions('alice', { except: s })).toBe(1);
    });
    expect((await visit(manager, laptop, (s) => s.userId)).result).toBe('alice');
    expect((await visit(manager, phone, (s) => s.userId)).result).toBeUndefined();
    const [only] = await manager.listSessions('alice', { now: T0 });
    const current = await manager.load(laptop.header(), { now: T0 });
    expect(current.handle).toBe(only!.handle);
    await manager.commit(current);
  });
});

describe('revokeSessions leaves retirement records in one store call (retireByUser)', () => {
  /** A memory store on a fake clock, wrapped to log every call (not spread: its own methods only). */
  function logged(extra: Partial<SessionStore> = {}) {
    let now = T0;
    const inner = createMemoryStore({ clock: () => now });
    const log: string[] = [];
    const retires: RetireByUserOptions[] = [];
    const call = <T>(name: string, result: () => T): T => {
      log.push(name);
      return result();
    };
    const store: SessionStore = {
      get: (key) => call('get', () => inner.get(key)),
      set: (key, record, expected, ttlMs) => call('set', () => inner.set(key, record, expected, ttlMs)),
      delete: (key) => call('delete', () => inner.delete(key)),
      listByUser: (userId) => call('listByUser', () => inner.listByUser(userId)),
      deleteByUser: (userId, options) => call('deleteByUser', () => inner.deleteByUser(userId, options)),
      retireByUser: (userId, options) => {
        log.push('retireByUser');
        retires.push(options);
        return inner.retireByUser(userId, options);
      },
      ...extra,
    };
    return { store, inner, log, retires, at: (t: number) => (now = t) };
  }

  it('one call, no per-session write; each record kept until its absolute expiry would have come', async () => {
    const { store, inner, log, retires, at } = logged();
    const manager = createSessionManager({ store });
    const laptop = new Browser();
    const phone = new Browser();
    const current = await visit(manager, laptop, (s) => s.login('alice'), { now: T0 });
    await visit(manager, phone, (s) => s.login('alice', { remember: true }), { now: T0 });
    const tablet = new Browser();
    await visit(manager, tablet, (s) => s.login('alice'), { now: T0 });
    const phoneKey = storeKeyOf(phone.value()!);
    const tabletKey = storeKeyOf(tablet.value()!);
    log.length = 0;
    const now = T0 + 2 * MINUTE;
    at(now);
    expect(await manager.revokeSessions('alice', { except: current.session, now })).toBe(2);
    expect(log).toEqual(['retireByUser']);
    expect(retires).toEqual([
      {
        by: 'revoke',
        at: now,
        exceptKey: current.session.handle,
        absoluteMs: 12 * HOUR,
        rememberMeAbsoluteMs: 90 * DAY,
        minMs: 10_000,
        maxMs: 30 * DAY,
        slackMs: MINUTE,
      },
    ]);
    for (const key of [phoneKey, tabletKey]) {
      expect(await inner.get(key)).toMatchObject({
        data: '',
        expiresAt: 0,
        retired: { by: 'revoke', at: now, user: 'alice' },
      });
    }
    expect((await visit(manager, laptop, (s) => s.userId, { now })).result).toBe('alice');
    // The session cookie's: 12 h from its creation (plus the slack); the remembered one's: capped at 30 days.
    at(T0 + 12 * HOUR + MINUTE);
    expect(await inner.get(tabletKey)).not.toBeNull();
    at(T0 + 12 * HOUR + MINUTE + 1);
    expect(await inner.get(tabletKey)).toBeNull();
    at(now + 30 * DAY + MINUTE);
    expect(await inner.get(phoneKey)).not.toBeNull();
    at(now + 30 * DAY + MINUTE + 1);
    expect(await inner.get(phoneKey)).toBeNull();
  });

  it('a lockOnly store, and a store without retireByUser, get deletes as before', async () => {
    for (const extra of [{ lockOnly: true }, { retireByUser: undefined }] as Array<Partial<SessionStore>>) {
      const { store, inner, log } = logged(extra);
      const manager = createSessionManager({ store });
      const phone = new Browser();
      await visit(manager, phone, (s) => s.login('alice'), { now: T0 });
      log.length = 0;
      expect(await manager.revokeSessions('alice', { now: T0 + MINUTE })).toBe(1);
      expect(log).toEqual(['deleteByUser']);
      expect(await inner.get(storeKeyOf(phone.value()!))).toBeNull();
    }
  });

  it("a failing retireByUser is the revocation's SessionStoreError", async () => {
    const { store } = logged({ retireByUser: () => Promise.reject(new Error('ECONNRESET')) });
    const manager = createSessionManager({ store });
    await visit(manager, new Browser(), (s) => s.login('alice'), { now: T0 });
    await expect(manager.revokeSessions('alice', { now: T0 + MINUTE })).rejects.toBeInstanceOf(
      SessionStoreError,
    );
  });
});
