import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { storeKeyOf } from '../../src/session/ids.js';
import { Browser, HOUR, MINUTE, T0, TestStore, visit } from './helpers.js';

describe('idle and absolute timeouts, judged by the manager clock', () => {
  it('idle: 30 minutes of inactivity end the session (defaults)', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    expect((await visit(manager, browser, (s) => s.userId, { now: T0 + 30 * MINUTE - 1 })).result).toBe(
      'alice',
    );
    // That request touched the session (a minute had passed): idle counts from it.
    expect((await visit(manager, browser, (s) => s.userId, { now: T0 + 60 * MINUTE - 2 })).result).toBe(
      'alice',
    );
    expect(
      (await visit(manager, browser, (s) => s.userId, { now: T0 + 90 * MINUTE })).result,
    ).toBeUndefined();
  });

  it('absolute: 12 hours end the session however active', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    for (let t = 10; t < 12 * 60; t += 10) {
      const { result } = await visit(manager, browser, (s) => s.userId, { now: T0 + t * MINUTE });
      expect(result).toBe('alice');
    }
    expect((await visit(manager, browser, (s) => s.userId, { now: T0 + 12 * HOUR })).result).toBeUndefined();
  });

  it('context.now may be a Date, and the manager clock is the default', async () => {
    const store = new TestStore();
    let now = T0;
    const manager = createSessionManager({ store, clock: () => now });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1), {});
    now += 31 * MINUTE;
    expect((await visit(manager, browser, (s) => s.get('n'), {})).result).toBeUndefined();
    const b2 = new Browser();
    await visit(manager, b2, (s) => s.set('n', 1), { now: new Date(T0) });
    expect((await visit(manager, b2, (s) => s.get('n'), { now: new Date(T0 + 1000) })).result).toBe(1);
  });

  it('stores get the remaining lifetime (plus slack), never a shorter one; the record carries expiresAt', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store, idleTimeout: 20 * MINUTE, absoluteTimeout: HOUR });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1));
    const key = storeKeyOf(browser.value()!);
    let entry = store.records.get(key)!;
    expect(entry.record.expiresAt).toBe(T0 + 20 * MINUTE);
    expect(entry.ttlMs).toBeGreaterThanOrEqual(20 * MINUTE);
    expect(entry.ttlMs).toBeLessThanOrEqual(20 * MINUTE + 5 * MINUTE);
    // Near the absolute end the remaining lifetime shrinks to it: at minute 45, 15 minutes are left.
    for (let t = 15; t <= 45; t += 15)
      await visit(manager, browser, (s) => s.set('n', t), { now: T0 + t * MINUTE });
    entry = store.records.get(key)!;
    expect(entry.record.expiresAt).toBe(T0 + HOUR);
    expect(entry.ttlMs).toBeGreaterThanOrEqual(15 * MINUTE);
    expect(entry.ttlMs).toBeLessThanOrEqual(20 * MINUTE);
  });

  it('a record the store still holds past its expiry is not used (stores may drop late)', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store, idleTimeout: MINUTE * 5 });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    expect(store.records.size).toBe(1);
    const { result } = await visit(manager, browser, (s) => [s.userId, s.isNew], { now: T0 + 5 * MINUTE });
    expect(result).toEqual([undefined, true]);
  });
});

describe('renewal', () => {
  const renewAfter = 15 * MINUTE;

  async function setup() {
    const store = new TestStore();
    const manager = createSessionManager<{ n: number }>({ store, renewAfter, renewGrace: MINUTE });
    const browser = new Browser();
    await visit(manager, browser, (s) => {
      s.set('n', 1);
      s.login('alice');
    });
    return { store, manager, browser };
  }

  it('rotates the id after renewAfter, keeping the data, user and absolute lifetime', async () => {
    const { store, manager, browser } = await setup();
    const old = browser.value()!;
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 10 * MINUTE });
    expect(browser.value()).toBe(old);
    const { setCookie } = await visit(manager, browser, (s) => s.get('n'), { now: T0 + 16 * MINUTE });
    expect(setCookie).toHaveLength(1);
    const fresh = browser.value()!;
    expect(fresh).not.toBe(old);
    const record = store.records.get(storeKeyOf(fresh))!.record;
    expect(record).toMatchObject({ userId: 'alice', createdAt: T0 });
    expect(store.records.get(storeKeyOf(old))!.record.movedTo).toBe(storeKeyOf(fresh));
    const { result } = await visit(manager, browser, (s) => [s.get('n'), s.userId], {
      now: T0 + 17 * MINUTE,
    });
    expect(result).toEqual([1, 'alice']);
    // And again after another renewAfter.
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 32 * MINUTE });
    expect(browser.value()).not.toBe(fresh);
  });

  it('the old id keeps working for the grace window (requests in flight), writing to the new record', async () => {
    const { store, manager, browser } = await setup();
    const inFlight = new Browser();
    inFlight.cookies.set('sid', browser.value()!);
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 16 * MINUTE });
    const { result, setCookie } = await visit(
      manager,
      inFlight,
      (s) => {
        s.set('n', 2);
        return s.userId;
      },
      { now: T0 + 16 * MINUTE + 30_000 },
    );
    expect(result).toBe('alice');
    expect(setCookie).toEqual([]);
    expect((await visit(manager, browser, (s) => s.get('n'), { now: T0 + 17 * MINUTE })).result).toBe(2);
    expect(store.sessions()).toHaveLength(1);
  });

  it('a pointer cannot itself be renewed, and ends with its grace window', async () => {
    const { store, manager, browser } = await setup();
    const inFlight = new Browser();
    inFlight.cookies.set('sid', browser.value()!);
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 16 * MINUTE });
    const keys = store.records.size;
    // The old id is older than renewAfter too, but reading through it never rotates it again.
    const { setCookie } = await visit(manager, inFlight, (s) => s.touch(), {
      now: T0 + 16 * MINUTE + 10_000,
    });
    expect(setCookie).toEqual([]);
    expect(store.records.size).toBe(keys);
    const late = await visit(manager, inFlight, (s) => [s.userId, s.isNew], { now: T0 + 17 * MINUTE + 1 });
    expect(late.result).toEqual([undefined, true]);
  });

  it('logout through the new id also ends the pointer', async () => {
    const { store, manager, browser } = await setup();
    const inFlight = new Browser();
    inFlight.cookies.set('sid', browser.value()!);
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 16 * MINUTE });
    await visit(manager, inFlight, (s) => s.logout(), { now: T0 + 16 * MINUTE + 1000 });
    expect(store.sessions()).toHaveLength(0);
    expect(
      (await visit(manager, browser, (s) => s.userId, { now: T0 + 16 * MINUTE + 2000 })).result,
    ).toBeUndefined();
  });
});
