import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

const S1 = 'first-sealing-secret-of-32-bytes-or-more';
const later = (ms: number) => ({ now: T0 + ms });

describe('the sealed session handle after commit', () => {
  it.each([
    ['sealed', { seal: { secrets: [S1] } }],
    ['stored (the same flow, for comparison)', {}],
  ])(
    '%s: session.handle after a committed regenerate names the new cookie, so revokeSessions({ except: session }) keeps it',
    async (_mode, extra) => {
      const store = new TestStore();
      const manager = createSessionManager({ store, ...extra });
      const browser = new Browser();
      await visit(manager, browser, (s) => s.login('alice'), later(0));
      const session = await manager.load(browser.header(), later(1000));
      session.regenerate();
      browser.receive((await manager.commit(session)).setCookie, T0 + 1000);
      // "log out other devices", after the commit (manual load/commit):
      await manager.revokeSessions('alice', { except: session, now: T0 + 2000 });
      const { result } = await visit(manager, browser, (s) => s.userId, later(3000));
      expect(result).toBe('alice');
    },
  );
});
