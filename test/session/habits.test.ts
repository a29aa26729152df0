/**
 * The express-session habits (issue 16, "Mistakes fail fast and clearly"): a property assigned to the
 * session, a callback given to destroy/regenerate/reload, and a write after the response was sent.
 */
import { describe, expect, it } from 'vitest';
import { createSessionManager, type SessionEvent, type SessionManager } from '../../src/index.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

type Data = {
  views: number;
  cart: string[];
};

function setup() {
  const store = new TestStore();
  const events: SessionEvent[] = [];
  const warnings: Array<{ message: string; fields: Record<string, unknown> | undefined }> = [];
  const manager: SessionManager<Data> = createSessionManager<Data>({
    store,
    onEvent: (event) => events.push(event),
    logger: { warn: (message, fields) => warnings.push({ message, fields }) },
  });
  return { store, manager, events, warnings, browser: new Browser() };
}

describe('a property assigned to a session (req.session.views = 1)', () => {
  it('throws a TypeError (ES modules are strict) and adds nothing', async () => {
    const { manager } = setup();
    const session = await manager.load(undefined, { now: T0 });
    const loose = session as unknown as Record<string, unknown>;
    expect(() => {
      loose.views = 1;
    }).toThrow(TypeError);
    expect(loose.views).toBeUndefined();
    expect(Object.isExtensible(session)).toBe(false);
    // Replacing a method is refused as well (it would be a new own property).
    expect(() => {
      loose.get = () => 1;
    }).toThrow(TypeError);
    session.set('views', 1);
    expect(session.get('views')).toBe(1);
    await manager.commit(session);
  });

  it('sloppy-mode code (CommonJS without "use strict") cannot be refused: the assignment is ignored', async () => {
    const { manager } = setup();
    const session = await manager.load(undefined, { now: T0 });
    // new Function bodies are sloppy unless they say otherwise, as a CommonJS module is.
    const sloppy = new Function('session', 'session.views = 1; return session.views;');
    expect(sloppy(session)).toBeUndefined();
    await manager.commit(session);
  });
});

describe('express-session callbacks', () => {
  for (const call of ['destroy', 'regenerate', 'reload'] as const) {
    it(`${call}(callback) throws a TypeError at once, naming the drop-in; the callback is never called`, async () => {
      const { manager } = setup();
      const session = await manager.load(undefined, { now: T0 });
      let called = false;
      const method = session[call] as (callback: unknown) => unknown;
      expect(() => method.call(session, () => (called = true))).toThrow(TypeError);
      try {
        method.call(session, () => {});
      } catch (error) {
        expect((error as Error).message).toContain(`${call}() takes no callback`);
        expect((error as Error).message).toContain('teller/adapters/express-session');
      }
      expect(called).toBe(false);
      // Nothing happened: the session is still as loaded, and commits.
      expect(session.isNew).toBe(true);
      await expect(manager.commit(session)).resolves.toEqual({ setCookie: [] });
    });
  }
});

describe('a write after the response was sent (after commit)', () => {
  it('is dropped and reported (a warning and a late-write event naming the call and key), never thrown', async () => {
    const { store, manager, events, warnings, browser } = setup();
    await visit(manager, browser, (s) => s.set('views', 1));
    const session = await manager.load(browser.header(), { now: T0 });
    await manager.commit(session);
    store.resetCounts();
    events.length = 0;

    expect(() => session.set('views', 2)).not.toThrow();
    expect(session.get('views')).toBe(1);
    expect(session.update('views', (n = 0) => n + 10)).toBe(1);
    session.delete('cart');
    session.touch();
    session.regenerate();
    session.login('alice');
    session.logout();
    session.destroy();
    session.flash('notice', 'saved');
    expect(session.flash('notice')).toEqual([]);
    expect(session.csrfToken).toMatch(/^[\w-]+$/);
    await expect(session.reload()).resolves.toBeUndefined();

    expect(session.get('views')).toBe(1);
    expect(session.userId).toBeUndefined();
    expect(store.writes + store.deletes).toBe(0);
    const calls = [
      'set("views")',
      'update("views")',
      'delete("cart")',
      'touch()',
      'regenerate()',
      'login()',
      'logout()',
      'destroy()',
      'flash("notice")',
      'flash("notice")',
      'csrfToken',
      'reload()',
    ];
    expect(events.map((e) => e.type)).toEqual(calls.map(() => 'late-write'));
    expect(events.map((e) => e.detail)).toEqual(calls);
    expect(events.every((e) => e.ref !== undefined)).toBe(true);
    expect(warnings).toHaveLength(calls.length);
    expect(warnings[0]!.message).toMatch(/response was already sent/);
    expect(warnings[0]!.message).toContain('set("views")');
    expect(warnings[0]!.message).toMatch(/dropped/);
    const shown = JSON.stringify([events, warnings]);
    expect(shown).not.toContain(session.id);
    expect(shown).not.toContain(browser.value()!);
  });

  it('a fresh session: the write is dropped, nothing stored', async () => {
    const { store, manager, events } = setup();
    const session = await manager.load(undefined, { now: T0 });
    await manager.commit(session);
    session.set('views', 1);
    expect(store.writes).toBe(0);
    expect(events.map((e) => [e.type, e.detail])).toEqual([['late-write', 'set("views")']]);
  });

  it('commit twice is still refused (a bug in the adapter, not a late write)', async () => {
    const { manager } = setup();
    const session = await manager.load(undefined, { now: T0 });
    await manager.commit(session);
    await expect(manager.commit(session)).rejects.toThrow(/already committed/);
  });
});
