import { afterEach, expect, it, vi } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { Browser, T0, visit } from './helpers.js';

afterEach(() => vi.restoreAllMocks());

it('an uncontended load (in-memory store) arms no timer', async () => {
  const manager = createSessionManager({ store: createMemoryStore() });
  const browser = new Browser();
  await visit(manager, browser, (s) => s.set('n', 1));
  const interval = vi.spyOn(globalThis, 'setInterval');
  const timeout = vi.spyOn(globalThis, 'setTimeout');
  const s = await manager.load(browser.header(), { now: T0 + 1000 });
  await manager.commit(s);
  expect([interval.mock.calls.length, timeout.mock.calls.length]).toEqual([0, 0]);
});
