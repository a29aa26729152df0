import { expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import type { SessionRecord } from '../../src/session/store.js';
import { seeded, T0, TestStore } from './helpers.js';

/** Reads answer; writes hang (a degraded store). */
class WritesHang extends TestStore {
  hangWrites = false;
  override async set(key: string, record: SessionRecord, expected: number | null, ttlMs: number) {
    if (this.hangWrites) await new Promise<never>(() => {});
    return super.set(key, record, expected, ttlMs);
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('a holder whose hold was taken over does not fail the waiters queued behind the new holder', async () => {
  const store = new WritesHang();
  const cookie = await seeded(store, { n: 0 });
  const manager = createSessionManager({ store, lockTimeout: 300, storeTimeout: 100 });
  const now = { now: T0 + 1000 };
  const stale = await manager.load(cookie, now);
  await sleep(320); // its hold is stale now
  const taker = await manager.load(cookie, now); // takes the hold over at once
  const waiter = manager.load(cookie, now); // queued behind `taker` (a read-only request)
  store.hangWrites = true;
  stale.set('n', 1);
  await expect(manager.commit(stale)).rejects.toThrow(/did not answer in time/);
  // `waiter` waits for `taker`, not for the stale holder's write: it must be served (reads work).
  const result = await waiter.then(
    (s) => s.get('n'),
    (e: Error) => e.name,
  );
  expect(result).toBe(0);
  await manager.commit(taker, { status: 500 });
});
