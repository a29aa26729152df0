import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { Browser, MINUTE, T0, TestStore, visit } from './helpers.js';

describe('the in-process lock after an id renewal', () => {
  it('serializes requests with the old and the new cookie: 20 concurrent increments, no conflict', async () => {
    const store = new TestStore();
    const manager = createSessionManager<{ n: number }>({ store, renewAfter: 10 * MINUTE });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 0));
    const oldHeader = browser.header();
    const renewed = await visit(manager, browser, (s) => s.get('n'), { now: T0 + 11 * MINUTE });
    expect(renewed.setCookie).toHaveLength(1);
    const newHeader = browser.header();
    expect(newHeader).not.toBe(oldHeader);

    store.ticks = 3; // every store call takes a few event-loop turns, so requests interleave
    const now = T0 + 11 * MINUTE + 1000;
    const increment = async (header: string | undefined) => {
      const session = await manager.load(header, { now });
      const n = session.get('n') ?? 0;
      await new Promise((resolve) => setImmediate(resolve));
      session.set('n', n + 1);
      return manager.commit(session);
    };
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => increment(i % 2 === 0 ? oldHeader : newHeader)),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    store.ticks = 0;
    const { result } = await visit(manager, browser, (s) => s.get('n'), { now: now + 1000 });
    expect(result).toBe(20);
  });

  it('an old-cookie request that waited for the live record behind a slow handler still gets its full store budget', async () => {
    const store = new TestStore();
    const manager = createSessionManager<{ n: number }>({
      store,
      renewAfter: 10 * MINUTE,
      storeTimeout: 100,
    });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 0));
    const oldHeader = browser.header();
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 11 * MINUTE });
    const now = { now: T0 + 11 * MINUTE + 1000 };
    store.delayMs = 5; // a store on the network: every call takes real time
    const holder = await manager.load(browser.header(), now);
    const waiting = manager.load(oldHeader, now);
    await new Promise((resolve) => setTimeout(resolve, 150)); // the handler takes longer than storeTimeout
    holder.set('n', 1);
    await manager.commit(holder);
    const next = await waiting;
    expect(next.get('n')).toBe(1);
    await manager.commit(next);
  });
});
