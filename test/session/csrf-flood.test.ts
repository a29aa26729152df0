/**
 * Issue 15: a flood of 50,000 cookie-less anonymous requests (half render a CSRF token, half write data)
 * against the memory store, with the CSRF key in the store (no `secret`). The store stays bounded: token
 * reads store nothing (one key record, written once), writes fill it up to maxEntries and are then refused
 * with 503, and the users logged in before the flood keep their sessions, data and tokens.
 */
import { describe, expect, it } from 'vitest';
import { createSessionManager, type SessionStore, statusForError } from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { Browser, T0, visit } from './helpers.js';

const REQUESTS = 50_000;
const MAX_ENTRIES = 1_000;
const USERS = ['ana', 'ben', 'cleo', 'dev', 'eli'];

describe('a flood of anonymous requests', () => {
  it('leaves the store bounded and every logged-in session intact', async () => {
    const memory = createMemoryStore({ maxEntries: MAX_ENTRIES, cleanupInterval: 0 });
    const writes = { key: 0, session: 0 };
    const store: SessionStore = {
      get: (key) => memory.get(key),
      set: (key, record, expected, ttlMs) => {
        if (key.startsWith('ck.')) writes.key++;
        else writes.session++;
        return memory.set(key, record, expected, ttlMs);
      },
      delete: (key) => memory.delete(key),
      immediate: true,
    };
    const events: string[] = [];
    let logged = 0;
    const manager = createSessionManager<{ cart?: string[]; n?: number }>({
      store,
      logger: { error: () => void logged++ },
      onEvent: (event) => {
        if (event.type === 'store-error') events.push(event.type);
      },
    });

    const users = USERS.map((name) => ({ name, browser: new Browser() }));
    for (const { name, browser } of users) {
      await visit(manager, browser, (s) => {
        s.login(name);
        s.set('cart', [name]);
      });
    }
    const before = await memory.count();

    let rendered = 0;
    let stored = 0;
    let refused = 0;
    const started = performance.now();
    for (let i = 0; i < REQUESTS; i++) {
      const now = T0 + i;
      const session = await manager.load(undefined, { now });
      if (i % 2 === 0) {
        void session.csrfToken;
        const { setCookie } = await manager.commit(session);
        expect(setCookie).toHaveLength(1);
        expect(setCookie[0]).toMatch(/^csrf=/);
        rendered++;
        continue;
      }
      session.set('n', i);
      try {
        await manager.commit(session);
        stored++;
      } catch (error) {
        expect(statusForError(error)).toBe(503);
        expect(String(error)).toMatch(/\[teller\] \[memory-store\] the store is full \(maxEntries 1000\)/);
        refused++;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const after = await memory.count();
    console.info(
      `[csrf flood] ${REQUESTS} requests in ${seconds.toFixed(1)} s: store ${before} -> ${after} records ` +
        `(maxEntries ${MAX_ENTRIES}); ${rendered} token reads, ${stored} writes stored, ${refused} answered 503; ` +
        `key record written ${writes.key} time(s)`,
    );

    expect(before).toBe(USERS.length);
    expect(after).toBe(MAX_ENTRIES);
    // Token reads stored nothing: the one key record (written once) plus the users plus the stored writes.
    expect(writes.key).toBe(1);
    expect(stored).toBe(MAX_ENTRIES - USERS.length - 1);
    expect(refused).toBe(REQUESTS / 2 - stored);
    expect(events).toHaveLength(refused);
    expect(logged).toBe(refused);

    // Every user logged in before the flood: still logged in, data intact, can write and use its token.
    for (const { name, browser } of users) {
      const later = { now: T0 + REQUESTS + 1_000 };
      const { result } = await visit(manager, browser, (s) => [s.userId, s.get('cart')], later);
      expect(result).toEqual([name, [name]]);
      const { result: token } = await visit(
        manager,
        browser,
        (s) => {
          s.update('cart', (cart = []) => [...cart, 'more']);
          return s.csrfToken;
        },
        later,
      );
      const { result: checked } = await visit(
        manager,
        browser,
        (s) => [s.verifyCsrfToken(token), s.get('cart')],
        later,
      );
      expect(checked).toEqual([true, [name, 'more']]);
    }
    // A visitor with a CSRF cookie from the flood still verifies its token while the store is full.
    const visitor = new Browser();
    const { result: token } = await visit(manager, visitor, (s) => s.csrfToken);
    expect((await visit(manager, visitor, (s) => s.verifyCsrfToken(token))).result).toBe(true);
    expect(await memory.count()).toBe(MAX_ENTRIES);
  });
});
