/**
 * Who wraps a store's failure (the rule in src/session/store.ts): the manager wraps what is not a
 * SessionStoreError, passes a store's own SessionStoreError through, and types a timeout.
 */
import { describe, expect, it } from 'vitest';
import {
  createSessionManager,
  SessionStoreError,
  SessionStoreTimeoutError,
  statusForError,
} from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

async function withSession() {
  const store = new TestStore();
  const manager = createSessionManager({ store, storeTimeout: 100 });
  const browser = new Browser();
  await visit(manager, browser, (s) => s.login('alice'));
  return { store, manager, browser };
}

describe('store failures, typed', () => {
  it('a store that does not answer in time: SessionStoreTimeoutError, a SessionStoreError (503)', async () => {
    const { store, manager, browser } = await withSession();
    store.hang = true;
    const error = await manager.load(browser.header(), { now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreTimeoutError);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(statusForError(error)).toBe(503);
  });

  it('a store that fails is not a timeout', async () => {
    const { store, manager, browser } = await withSession();
    store.failWith = new Error('ECONNREFUSED');
    const error = await manager.load(browser.header(), { now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(error).not.toBeInstanceOf(SessionStoreTimeoutError);
  });

  it("a store's own SessionStoreError reaches the caller as it is, not wrapped a second time", async () => {
    const { store, manager, browser } = await withSession();
    const own = new SessionStoreError('[teller] [test-store] get failed', { cause: new Error('disk I/O') });
    store.failWith = own;
    const error = await manager.load(browser.header(), { now: T0 }).catch((e: unknown) => e);
    expect(error).toBe(own);
  });

  it('the memory store, closed, rejects with a SessionStoreError like the SQLite store', async () => {
    const store = createMemoryStore();
    await store.close();
    await expect(store.get('k')).rejects.toBeInstanceOf(SessionStoreError);
  });
});
