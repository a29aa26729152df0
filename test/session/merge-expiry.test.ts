import { expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { Browser, MINUTE, T0, TestStore, visit } from './helpers.js';

const at = (ms: number) => ({ now: T0 + ms });

it("a long request's late merge does not pull back the idle expiry another request extended meanwhile", async () => {
  const store = new TestStore();
  const manager = createSessionManager<{ n: number; upload: string }>({ store, idleTimeout: 30 * MINUTE });
  const browser = new Browser();
  await visit(manager, browser, (s) => s.login('alice'), at(0));
  const upload = await manager.load(browser.header(), at(MINUTE), { lock: false }); // a long upload
  await visit(manager, browser, (s) => s.set('n', 1), at(20 * MINUTE)); // the user is active: expiry 50 min
  upload.set('upload', 'done');
  await manager.commit(upload); // merges onto the newest record
  const { result } = await visit(
    manager,
    browser,
    (s) => [s.userId, s.get('n'), s.get('upload')],
    at(40 * MINUTE),
  );
  expect(result).toEqual(['alice', 1, 'done']);
});
