/**
 * StoreCalls bounds every call of a store that is not `immediate` by its operation's deadline, with one
 * timer for all the calls in flight (armed for the earliest deadline) instead of one per call. These tests
 * hold that timer to the old rule: each call fails at its own deadline, whatever the order in which calls
 * of different operations arrive and settle. Real (short) time: the deadlines are performance.now() values.
 */
import { describe, expect, it } from 'vitest';
import { SessionStoreTimeoutError } from '../../src/session/errors.js';
import { Reporter } from '../../src/session/report.js';
import type { SessionRecord, SessionStore } from '../../src/session/store.js';
import { type Budget, StoreCalls } from '../../src/session/store-calls.js';

/** A store whose calls answer only when told to: `answer(key, value)`; a key never answered hangs. */
class ManualStore implements SessionStore {
  readonly immediate = false;
  readonly #waiting = new Map<string, (value: SessionRecord | null) => void>();
  get(key: string): Promise<SessionRecord | null> {
    return new Promise((resolve) => this.#waiting.set(key, resolve));
  }
  async set(): Promise<boolean> {
    return true;
  }
  async delete(): Promise<void> {}
  answer(key: string, value: SessionRecord | null): void {
    this.#waiting.get(key)?.(value);
  }
}

/** A budget whose deadline is `ms` from now. */
const within = (ms: number): Budget => ({ now: Date.now(), deadline: performance.now() + ms });

/** When each promise settled (ms after `start`) and how. */
function track(start: number, promise: Promise<unknown>) {
  const seen: { ms?: number; error?: unknown; value?: unknown } = {};
  promise.then(
    (value) => Object.assign(seen, { ms: performance.now() - start, value }),
    (error: unknown) => Object.assign(seen, { ms: performance.now() - start, error }),
  );
  return seen;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('store call deadlines (one timer for every call in flight)', () => {
  it('fails each hung call at its own deadline, also one with an earlier deadline that arrives later', async () => {
    const events: string[] = [];
    const calls = new StoreCalls(
      new ManualStore(),
      1_000,
      new Reporter(undefined, (e) => events.push(e.type)),
    );
    const start = performance.now();
    // The timer is armed for the first call (400 ms); a call of an operation begun earlier (150 ms left)
    // arrives after it and must not wait for the 400 ms.
    const late = track(start, calls.get('late', within(400)));
    const early = track(start, calls.get('early', within(150)));
    await sleep(300);
    expect(early.error).toBeInstanceOf(SessionStoreTimeoutError);
    expect(early.ms).toBeGreaterThanOrEqual(140);
    expect(early.ms).toBeLessThan(290);
    expect(late.ms).toBeUndefined();
    await sleep(250);
    expect(late.error).toBeInstanceOf(SessionStoreTimeoutError);
    expect(late.ms).toBeGreaterThanOrEqual(390);
    expect(events).toEqual(['store-error', 'store-error']);
  });

  it('a call answered in time is never failed, and answered calls do not delay the timeout of a hung one', async () => {
    const store = new ManualStore();
    const calls = new StoreCalls(store, 1_000, new Reporter(undefined, undefined));
    const start = performance.now();
    const answered = track(start, calls.get('answered', within(100)));
    const hung = track(start, calls.get('hung', within(250)));
    store.answer('answered', null);
    await sleep(20);
    expect(answered).toMatchObject({ value: null });
    expect(answered.error).toBeUndefined();
    // The timer was armed for the answered call (100 ms); when it fires it re-arms for the hung one.
    for (let i = 0; i < 5; i++) {
      const quick = calls.get(`quick-${i}`, within(1_000));
      store.answer(`quick-${i}`, null);
      expect(await quick).toBeNull();
    }
    await sleep(330);
    expect(hung.error).toBeInstanceOf(SessionStoreTimeoutError);
    expect(hung.ms).toBeGreaterThanOrEqual(240);
    expect(hung.ms).toBeLessThan(330);
    // An answer after the timeout changes nothing: the call already failed.
    store.answer('hung', null);
    await sleep(5);
    expect(hung.error).toBeInstanceOf(SessionStoreTimeoutError);
    expect(hung.value).toBeUndefined();
  });
});
