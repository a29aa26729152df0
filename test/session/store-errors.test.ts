/**
 * Who wraps a store's failure (the rule in src/session/store.ts): the manager wraps what is not a
 * SessionStoreError, passes a store's own SessionStoreError through, and types a timeout.
 */
import { describe, expect, it } from 'vitest';
import { withSession as withFetchSession } from '../../src/adapters/fetch.js';
import {
  createSessionManager,
  SessionStoreError,
  SessionStoreTimeoutError,
  statusForError,
} from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { Browser, loggedIn, T0, visit } from './helpers.js';

describe('store failures, typed', () => {
  it('a store that does not answer in time: SessionStoreTimeoutError, a SessionStoreError (503)', async () => {
    const { store, manager, browser } = await loggedIn();
    store.hang = true;
    const error = await manager.load(browser.header(), { now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreTimeoutError);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(statusForError(error)).toBe(503);
  });

  it('a store that fails is not a timeout', async () => {
    const { store, manager, browser } = await loggedIn();
    store.failWith = new Error('ECONNREFUSED');
    const error = await manager.load(browser.header(), { now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(error).not.toBeInstanceOf(SessionStoreTimeoutError);
  });

  it("a store's own SessionStoreError reaches the caller as it is, not wrapped a second time", async () => {
    const { store, manager, browser } = await loggedIn();
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

  it('a full memory store: a new session is refused (logged, store-error, 503 from the adapter); stored ones still write', async () => {
    const store = createMemoryStore({ maxEntries: 2, cleanupInterval: 0 });
    const logged: string[] = [];
    const events: string[] = [];
    const reported: unknown[] = [];
    const manager = createSessionManager({
      store,
      logger: { error: (message) => logged.push(message) },
      onEvent: (event) => events.push(`${event.type}:${event.detail ?? ''}`),
    });
    const alice = new Browser();
    await visit(manager, alice, (s) => s.login('alice'));
    await visit(manager, new Browser(), (s) => s.set('n', 1));
    events.length = 0;
    const error = await visit(manager, new Browser(), (s) => s.set('n', 1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(statusForError(error)).toBe(503);
    expect(logged).toEqual([
      '[teller] [memory-store] the store is full (maxEntries 2): a new record was refused; nothing is evicted',
    ]);
    expect(events).toEqual(['store-error:set']);
    const app = withFetchSession(
      manager,
      (_request, { session }) => {
        session.set('n', 2);
        return new Response('ok');
      },
      { onError: (e) => reported.push(e) },
    );
    const answer = await app(new Request('http://localhost/'));
    expect(answer.status).toBe(503);
    expect(reported).toHaveLength(1);
    expect(answer.headers.get('set-cookie')).toBeNull();
    // A session already stored is an update: it still writes.
    await visit(manager, alice, (s) => s.set('n', 3), { now: T0 + 1000 });
    expect((await visit(manager, alice, (s) => [s.userId, s.get('n')])).result).toEqual(['alice', 3]);
    expect(await store.count()).toBe(2);
  });
});
