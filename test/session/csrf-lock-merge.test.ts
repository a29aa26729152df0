import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { KeyedLock } from '../../src/session/lock.js';
import type { SessionRecord } from '../../src/session/store.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

/** A store without compare-and-set (an express-session store through the bridge): set writes what it is given. */
class LockOnlyStore extends TestStore {
  readonly lockOnly = true;
  override async set(
    key: string,
    record: SessionRecord,
    _expected: number | null,
    ttlMs: number,
  ): Promise<boolean> {
    this.writes++;
    for (let i = 0; i < this.ticks; i++) await new Promise((r) => setImmediate(r));
    this.records.set(key, { record: structuredClone(record), ttlMs });
    return true;
  }
}

describe('CSRF key, strict lock and merge re-runs (second review)', () => {
  it('CSRF key record: two processes on a lockOnly store end with one key', async () => {
    const store = new LockOnlyStore();
    store.ticks = 2;
    const m1 = createSessionManager({ store });
    const m2 = createSessionManager({ store });
    const a = new Browser();
    const b = new Browser();
    const [{ result: token }] = await Promise.all([
      visit(m1, a, (s) => s.csrfToken),
      visit(m2, b, (s) => s.csrfToken),
    ]);
    // The same browser, its next request served by the other process.
    expect((await visit(m2, a, (s) => s.verifyCsrfToken(token))).result).toBe(true);
  });

  it('a strict hold nobody releases is swept even while requests keep coming', async () => {
    const lock = new KeyedLock(50, { strictStaleMs: 200 });
    lock.acquire('k', 100); // a load never committed
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const late: Array<Promise<string>> = [];
    const start = performance.now();
    for (let t = 0; t < 1000; t += 20) {
      const p = Promise.resolve(lock.acquire('k', 100)).then(
        (release) => {
          release();
          return 'granted';
        },
        (e: Error) => e.name,
      );
      // Requests that arrive well after the abandoned hold went stale (200 ms).
      if (performance.now() - start > 400) late.push(p);
      await sleep(20);
    }
    const outcomes = await Promise.all(late);
    expect(outcomes.filter((o) => o === 'granted').length).toBeGreaterThan(0);
  });

  it('control: with compare-and-set the key race converges', async () => {
    const store = new TestStore();
    store.ticks = 2;
    const m1 = createSessionManager({ store });
    const m2 = createSessionManager({ store });
    const a = new Browser();
    const b = new Browser();
    const [{ result: token }] = await Promise.all([
      visit(m1, a, (s) => s.csrfToken),
      visit(m2, b, (s) => s.csrfToken),
    ]);
    expect((await visit(m2, a, (s) => s.verifyCsrfToken(token))).result).toBe(true);
  });

  it('update re-run by a merge is held to the JSON rule too', async () => {
    const store = new TestStore();
    const manager = createSessionManager<{ v: unknown }>({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('v', 0));
    const s1 = await manager.load(browser.header(), { now: T0 }, { lock: false });
    const s2 = await manager.load(browser.header(), { now: T0 }, { lock: false });
    s1.update('v', (c) => (c === 0 ? 1 : (new Date(0) as never)));
    s2.set('v', 5);
    await manager.commit(s2);
    const outcome = await manager.commit(s1).then(
      () => 'committed',
      (e: Error) => e.name,
    );
    const { result } = await visit(manager, browser, (s) => s.get('v'));
    // The Date came back as a string: JSON did not carry it unchanged, and nothing refused it.
    expect({ outcome, stored: typeof result }).not.toEqual({ outcome: 'committed', stored: 'string' });
  });
});

describe('anonymous CSRF with the store down', () => {
  it('store down: rendering and verifying anonymous tokens answer 503, never accept', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    const { result: token } = await visit(manager, browser, (s) => s.csrfToken);
    const fresh = createSessionManager({ store });
    store.failWith = new Error('down');
    const err = await fresh.load(browser.header(), { now: T0 }).then(
      () => 'loaded',
      (e) => (e as { status?: number }).status,
    );
    expect(err).toBe(503);
    const s = await fresh.load(undefined, { now: T0 });
    s.csrfToken;
    const c = await fresh.commit(s).then(
      () => 'ok',
      (e) => (e as { status?: number }).status,
    );
    expect(c).toBe(503);
    expect(token).toBeTypeOf('string');
  });
});
