/**
 * The express-session habits (issue 16, "Mistakes fail fast and clearly"): a property assigned to the
 * session.
 */
import { describe, expect, it } from 'vitest';
import { createSessionManager, type SessionEvent, type SessionManager } from '../../src/index.js';
import { Browser, T0, TestStore } from './helpers.js';

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
