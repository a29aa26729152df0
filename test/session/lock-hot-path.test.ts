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

/** How many microtask turns pass before `promise` settles (each `await null` is one). */
async function turnsUntilSettled(promise: Promise<unknown>): Promise<number> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  let turns = 0;
  while (!settled && turns < 100) {
    await null;
    turns++;
  }
  return turns;
}

it('a load and a write of a live session (in-memory store) take few promise turns', async () => {
  // Each turn is a settled promise and a microtask on every request: the store read and the compare-and-set
  // are awaited where they are needed, not through further async functions (4 and 5 turns before).
  const manager = createSessionManager({ store: createMemoryStore() });
  const browser = new Browser();
  await visit(manager, browser, (s) => s.set('n', 1));
  const loading = manager.load(browser.header(), { now: T0 + 1000 });
  expect(await turnsUntilSettled(loading)).toBeLessThanOrEqual(3);
  const s = await loading;
  s.set('n', 2);
  const committing = manager.commit(s);
  expect(await turnsUntilSettled(committing)).toBeLessThanOrEqual(4);
  expect((await committing).setCookie).toEqual([]);
  expect((await visit(manager, browser, (x) => x.get('n'))).result).toBe(2);
});
