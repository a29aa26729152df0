import { describe, expect, it } from 'vitest';
import { createSessionManager, SessionStoreError, statusForError } from '../../src/index.js';
import { Browser, loggedIn, T0, TestStore, visit } from './helpers.js';

describe('a failing store', () => {
  it('a store that throws on read: SessionStoreError (503) with the cause, never an anonymous session', async () => {
    const { store, manager, browser } = await loggedIn();
    store.failWith = new Error('ECONNREFUSED');
    const error = await manager.load(browser.header(), { now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(statusForError(error)).toBe(503);
    expect((error as Error).message).toMatch(/^\[teller\] \[session\] store get failed/);
    expect(((error as Error).cause as Error).message).toBe('ECONNREFUSED');
  });

  it('a store that throws synchronously is wrapped the same way', async () => {
    const { store, manager, browser } = await loggedIn();
    store.get = () => {
      throw new Error('sync boom');
    };
    await expect(manager.load(browser.header(), { now: T0 })).rejects.toBeInstanceOf(SessionStoreError);
  });

  it('a store that hangs: SessionStoreError within storeTimeout, not a hang', async () => {
    const { store, manager, browser } = await loggedIn();
    store.hang = true;
    const started = Date.now();
    const error = await manager.load(browser.header(), { now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as Error).message).toMatch(/did not answer in time \(storeTimeout 100 ms/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('with the default storeTimeout (1 s) a hung store is answered within 2 s', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1));
    store.hang = true;
    const started = Date.now();
    await expect(manager.load(browser.header(), { now: T0 })).rejects.toBeInstanceOf(SessionStoreError);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(2000);
  });

  it('a write that fails or hangs at commit: SessionStoreError, bounded', async () => {
    const { store, manager, browser } = await loggedIn();
    const s1 = await manager.load(browser.header(), { now: T0 });
    s1.set('n', 1);
    store.failWith = new Error('READONLY');
    await expect(manager.commit(s1)).rejects.toBeInstanceOf(SessionStoreError);
    store.failWith = undefined;
    const s2 = await manager.load(browser.header(), { now: T0 });
    s2.set('n', 2);
    store.hang = true;
    const started = Date.now();
    await expect(manager.commit(s2)).rejects.toBeInstanceOf(SessionStoreError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('storeTimeout bounds a whole commit, not each call: a slow store cannot add up to a hang', async () => {
    const { store, manager, browser } = await loggedIn();
    store.delayMs = 60; // each call well under the 100 ms timeout; a login commit makes two (new record, old retired)
    const s = await manager.load(browser.header(), { now: T0 });
    s.login('bob');
    const started = Date.now();
    await expect(manager.commit(s)).rejects.toBeInstanceOf(SessionStoreError);
    expect(Date.now() - started).toBeLessThan(150);
  });

  it('a request without a cookie needs no store, so it still works while the store is down', async () => {
    const { store, manager } = await loggedIn();
    store.failWith = new Error('down');
    const s = await manager.load(undefined, { now: T0 });
    expect(s.isNew).toBe(true);
    expect((await manager.commit(s)).setCookie).toEqual([]);
  });

  it('recovers by itself once the store answers again', async () => {
    const { store, manager, browser } = await loggedIn();
    store.failWith = new Error('down');
    await expect(manager.load(browser.header(), { now: T0 })).rejects.toThrow();
    store.failWith = undefined;
    const { result } = await visit(manager, browser, (s) => s.userId);
    expect(result).toBe('alice');
  });

  it('reports store errors to the logger and onEvent', async () => {
    const lines: string[] = [];
    const events: string[] = [];
    const store = new TestStore();
    const manager = createSessionManager({
      store,
      storeTimeout: 50,
      logger: { error: (m) => lines.push(m) },
      onEvent: (e) => events.push(e.type),
    });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1));
    store.failWith = new Error('down');
    await expect(manager.load(browser.header(), { now: T0 })).rejects.toThrow();
    expect(lines).toEqual(['[teller] [session] store get failed']);
    expect(events).toContain('store-error');
  });
});
