/**
 * The express-session habits (issue 16, "Mistakes fail fast and clearly"): a property assigned to the
 * session, a callback given to destroy/regenerate/reload.
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

  it('without an argument they work as before', async () => {
    const { manager, browser } = setup();
    await visit(manager, browser, (s) => s.set('views', 1));
    const { result } = await visit(manager, browser, async (s) => {
      s.set('views', 2);
      await s.reload();
      return s.get('views');
    });
    expect(result).toBe(1);
  });
});
