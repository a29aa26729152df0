import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import type { SessionEvent } from '../../src/session/options.js';
import { Browser, copyOf, HOUR, T0, TestStore, visit } from './helpers.js';

const S1 = 'first-sealing-secret-of-32-bytes-or-more';
const later = (ms: number) => ({ now: T0 + ms });

describe('sealed stolen-id detection: review', () => {
  it('an aborted login whose successor outlives nothing: the old cookie, back after the successor could have ended, raises nothing', async () => {
    const events: SessionEvent[] = [];
    const manager = createSessionManager<{ cart: string[] }>({
      seal: { secrets: [S1] },
      store: new TestStore(),
      reuse: 'revoke',
      onEvent: (e) => events.push(e),
    });
    const browser = new Browser();
    // A remembered session (90 days absolute), presented once.
    await visit(manager, browser, (s) => s.login('alice', { remember: true }));
    await visit(manager, browser, (s) => s.userId, later(1000));
    // A login as bob (a session cookie: 12 h absolute) whose response never reached the browser.
    await visit(manager, copyOf(browser), (s) => s.login('bob'), later(2000));
    // The browser, which never had bob's cookie, comes back with its own 13 h later.
    await visit(manager, browser, (s) => s.userId, later(13 * HOUR));
    expect(events.filter((e) => e.type === 'reuse')).toEqual([]);
    expect(events.filter((e) => e.type === 'revoked')).toEqual([]);
  });
});
