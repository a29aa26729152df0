import { expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { Browser, MINUTE, T0, TestStore, visit } from './helpers.js';

const at = (ms: number) => ({ now: T0 + ms });

it('a request with an old id (in its grace) that waits for the lock behind a renewal still gets the session', async () => {
  const store = new TestStore();
  const manager = createSessionManager({ store, renewAfter: MINUTE, renewGrace: 5 * MINUTE });
  const browser = new Browser();
  await visit(manager, browser, (s) => s.login('alice'), at(0));
  const oldHeader = browser.header(); // id A
  await visit(manager, browser, (s) => s.userId, at(1.5 * MINUTE)); // A -> B
  const renewing = await manager.load(browser.header(), at(3 * MINUTE)); // holds B's lock; renews B -> C at commit
  const withA = manager.load(oldHeader, at(3 * MINUTE)); // A -> B: waits for B's lock
  await new Promise((r) => setTimeout(r, 10));
  await manager.commit(renewing);
  const s = await withA;
  expect(s.userId).toBe('alice');
  await manager.commit(s);
});
