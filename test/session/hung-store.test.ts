import { describe, expect, it } from 'vitest';
import { createSessionManager, SessionStoreError } from '../../src/index.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

const STORE_TIMEOUT = 200;

async function setup(lockTimeout?: number) {
  const store = new TestStore();
  const manager = createSessionManager<{ n: number }>({ store, storeTimeout: STORE_TIMEOUT, lockTimeout });
  const browser = new Browser();
  await visit(manager, browser, (s) => s.set('n', 1));
  return { store, manager, header: browser.header() };
}

/** Settles every promise and says how long each took (real ms: the store timeout is real time). */
async function timed(runs: Array<() => Promise<unknown>>) {
  const start = performance.now();
  return Promise.all(
    runs.map((run) =>
      run().then(
        (value) => ({ ok: true as const, value, ms: performance.now() - start }),
        (error: unknown) => ({ ok: false as const, error, ms: performance.now() - start }),
      ),
    ),
  );
}

describe('a hung store and requests queued on one session', () => {
  it('6 concurrent loads of one session all get SessionStoreError within one storeTimeout, not one per storeTimeout', async () => {
    const { store, manager, header } = await setup();
    store.hang = true;
    const results = await timed(Array.from({ length: 6 }, () => () => manager.load(header, { now: T0 })));
    for (const result of results) {
      expect(result.ok).toBe(false);
      expect(result.ok ? undefined : result.error).toBeInstanceOf(SessionStoreError);
      // Before: the k-th answered after k * storeTimeout (1.2 s for the last); now all after one.
      expect(result.ms).toBeLessThan(2 * STORE_TIMEOUT);
    }
    // Only the lock holder asked the hung store; the others did not pile calls onto it.
    expect(store.log.filter((op) => op === 'get').length).toBeLessThanOrEqual(2);
  });

  it('loads queued behind a commit whose store write hangs fail with it', async () => {
    const { store, manager, header } = await setup();
    const holder = await manager.load(header, { now: T0 });
    holder.set('n', 2);
    store.hang = true;
    const results = await timed([
      () => manager.commit(holder),
      ...Array.from({ length: 5 }, () => () => manager.load(header, { now: T0 })),
    ]);
    for (const result of results) {
      expect(result.ok ? undefined : result.error).toBeInstanceOf(SessionStoreError);
      expect(result.ms).toBeLessThan(2 * STORE_TIMEOUT);
    }
  });

  it('a healthy store: waiters behind a slow handler are not failed, they get the session in turn', async () => {
    // A handler slower than storeTimeout, though within lockTimeout (beyond it, waiters go on without the lock).
    const { manager, header } = await setup(2_000);
    const holder = await manager.load(header, { now: T0 });
    const waiting = manager.load(header, { now: T0 });
    await new Promise((resolve) => setTimeout(resolve, STORE_TIMEOUT + 50)); // a handler slower than storeTimeout
    holder.update('n', (n = 0) => n + 1);
    await manager.commit(holder);
    const next = await waiting;
    expect(next.get('n')).toBe(2);
    await manager.commit(next);
  });
});
