import { describe, expect, it, vi } from 'vitest';
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

describe('the per-session lock as a bounded courtesy (enter)', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('a waiter waits at most its bound, then takes over the stale hold and says who held it', async () => {
    const lock = new KeyedLock(40);
    const holder = lock.enter('k', 40, 'GET /slow') as () => void;
    const started = performance.now();
    const got = await lock.enter('k', 40, 'GET /');
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    expect(typeof got).toBe('object');
    const timedOut = got as Exclude<typeof got, () => void>;
    expect(timedOut.heldBy).toBe('GET /slow');
    expect(timedOut.heldForMs).toBeGreaterThanOrEqual(35);
    expect(typeof timedOut.release).toBe('function');
    // The stuck holder's late release does not end the new holder's hold.
    holder();
    expect(lock.size).toBe(1);
    timedOut.release!();
    expect(lock.size).toBe(0);
  });

  it('a request arriving after the hold went stale takes it over at once', async () => {
    const lock = new KeyedLock(30);
    lock.enter('k', 30);
    await sleep(40);
    const late = lock.enter('k', 30);
    expect(typeof late).toBe('function');
    (late as () => void)();
    expect(lock.size).toBe(0);
  });

  it('a hold never released is swept by the requests that come later: nothing leaks per abandoned session', async () => {
    const lock = new KeyedLock(20);
    for (let i = 0; i < 100; i++) lock.enter(`k${i}`, 20);
    expect(lock.size).toBe(100);
    await sleep(40);
    const other = lock.enter('other', 20) as () => void;
    expect(lock.size).toBe(1);
    other();
    expect(lock.size).toBe(0);
  });

  it('an uncontended hold arms no timer', () => {
    const lock = new KeyedLock(20);
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    const intervals = vi.spyOn(globalThis, 'setInterval');
    (lock.enter('k', 20) as () => void)();
    expect([timeouts.mock.calls.length, intervals.mock.calls.length]).toEqual([0, 0]);
    vi.restoreAllMocks();
  });

  it('fail() from a holder whose hold was taken over fails nobody', async () => {
    const lock = new KeyedLock(20);
    const stale = lock.enter('k', 20) as () => void;
    await sleep(30);
    const taker = lock.enter('k', 1000) as () => void;
    const waiter = lock.enter('k', 1000);
    lock.fail('k', new Error('the stale holder timed out'), stale);
    taker();
    expect(typeof (await waiter)).toBe('function');
  });

  it('a strict hold (a store without compare-and-set) is never taken over', async () => {
    const lock = new KeyedLock(20);
    lock.acquire('k', 1000);
    await sleep(40);
    await expect(lock.acquire('k', 30)).rejects.toBeInstanceOf(SessionLockTimeoutError);
  });

  it('fast holders still serialize their waiters, first in first out', async () => {
    const lock = new KeyedLock(1000);
    const first = lock.enter('k', 1000) as () => void;
    const order: number[] = [];
    const waiting = [1, 2, 3].map(async (n) => {
      const got = await lock.enter('k', 1000);
      order.push(n);
      (got as () => void)();
    });
    first();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    expect(lock.size).toBe(0);
  });
});
