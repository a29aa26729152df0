import { expect, it } from 'vitest';
import {
  createSessionManager,
  type SessionEvent,
  type SessionManager,
  SessionStoreTimeoutError,
} from '../../src/index.js';
import { seeded, T0, TestStore } from './helpers.js';

it('merges that outlast storeTimeout on a healthy store are not reported as a store timeout (503, store-error)', async () => {
  const store = new TestStore();
  const cookie = await seeded(store, { start: 0 });
  store.delayMs = 20; // every call answers in 20 ms: the store is healthy
  const events: SessionEvent[] = [];
  const managers: SessionManager[] = Array.from({ length: 12 }, () =>
    createSessionManager({ store, storeTimeout: 150, onEvent: (e) => events.push(e) }),
  );
  const results = await Promise.allSettled(
    managers.map(async (manager, i) => {
      const s = await manager.load(cookie, { now: T0 + 1000 });
      s.set(`k${i}`, i);
      return manager.commit(s);
    }),
  );
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  expect(errors.length).toBeGreaterThan(0); // the budget ends for some writers
  expect(errors.filter((e) => e instanceof SessionStoreTimeoutError)).toEqual([]);
  expect(events.filter((e) => e.type === 'store-error')).toEqual([]);
});
