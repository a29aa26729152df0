import { describe, expect, it } from 'vitest';
import { SessionLockTimeoutError } from '../../src/index.js';
import { KeyedLock } from '../../src/session/lock.js';

describe('the per-session lock', () => {
  it('serves waiters first in, first out, and frees the key when the last one releases', async () => {
    const lock = new KeyedLock();
    const order: number[] = [];
    const first = await lock.acquire('k', 1000);
    const waiting = [1, 2, 3].map(async (n) => {
      const release = await lock.acquire('k', 1000);
      order.push(n);
      release();
    });
    expect(lock.size).toBe(1);
    first();
    first(); // a second call does nothing
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    expect(lock.size).toBe(0);
  });

  it('other keys are independent; an uncontended acquire is immediate (no promise)', () => {
    const lock = new KeyedLock();
    const a = lock.acquire('a', 10);
    const b = lock.acquire('b', 10);
    expect(typeof a).toBe('function');
    expect(typeof b).toBe('function');
    (a as () => void)();
    (b as () => void)();
    expect(lock.size).toBe(0);
  });

  it('a waiter that times out leaves the queue; the lock passes to the next one', async () => {
    const lock = new KeyedLock();
    const holder = await lock.acquire('k', 1000);
    const late = lock.acquire('k', 20);
    const patient = lock.acquire('k', 1000);
    await expect(late).rejects.toBeInstanceOf(SessionLockTimeoutError);
    holder();
    const release = await patient;
    release();
    expect(lock.size).toBe(0);
  });
});
