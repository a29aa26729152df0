import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import type { SessionStore } from '../../src/session/store.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { Browser, MINUTE, T0, TestStore, visit } from './helpers.js';

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
