import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { Browser, copyOf, MINUTE, T0, TestStore, visit } from './helpers.js';

const at = (ms: number) => ({ now: T0 + ms });
describe('renewal races', () => {
  it('every old id keeps working for its own grace window, with as many renewals as fit in it (7)', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store, renewAfter: MINUTE, renewGrace: 7 * MINUTE });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), at(0));
    const first = copyOf(browser); // id A
    for (let i = 1; i <= 7; i++) await visit(manager, browser, (s) => s.userId, at(i * 1.01 * MINUTE));
    // A was renewed at 1.01 min: its grace ends at 8.01 min; six more renewals followed within it.
    const withA = await visit(manager, copyOf(first), (s) => s.userId, at(8 * MINUTE));
    expect(withA.result).toBe('alice');
  });

  it('a renewGrace longer than the pointers followed can cover is refused at construction', () => {
    expect(() =>
      createSessionManager({ store: new TestStore(), renewAfter: MINUTE, renewGrace: 8 * MINUTE }),
    ).toThrow(/renewGrace \(480000 ms\) may be at most 7 times renewAfter/);
  });

  it('a write racing a renewal (a { lock: false } request) must not re-send the retired id in a persistent cookie', async () => {
    const store = new TestStore();
    const a = createSessionManager<{ n: number }>({ store, renewAfter: 10 * MINUTE, renewGrace: MINUTE });
    const b = a;
    const browser = new Browser();
    await visit(a, browser, (s) => s.login('alice', { remember: true }), at(0));
    const header = browser.header();
    const renews = await a.load(header, at(11 * MINUTE)); // reads only: renews at commit
    const writes = await b.load(header, at(11 * MINUTE), { lock: false }); // e.g. a long poll
    writes.set('n', 1);
    browser.receive((await a.commit(renews)).setCookie, T0 + 11 * MINUTE); // new id C
    browser.receive((await b.commit(writes)).setCookie, T0 + 11 * MINUTE); // merged onto C, but which cookie?
    // After the old id's grace, the browser must still be logged in (remember me: 30 days).
    const later = await visit(a, browser, (s) => [s.userId, s.get('n')], at(13 * MINUTE));
    expect(later.result).toEqual(['alice', 1]);
  });
});
