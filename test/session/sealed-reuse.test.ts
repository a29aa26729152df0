import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import type { SessionEvent } from '../../src/session/options.js';
import type { SessionRecord } from '../../src/session/store.js';
import { Browser, copyOf, HOUR, MINUTE, sealedReuseScenario, T0, TestStore, visit } from './helpers.js';

const S1 = 'first-sealing-secret-of-32-bytes-or-more';
const later = (ms: number) => ({ now: T0 + ms });

/** A store whose calls on keys under `prefix` fail while `failing` is set (`op`: which call). */
class FailingUnder extends TestStore {
  failing = false;
  constructor(
    readonly prefix: string,
    readonly op: 'get' | 'set',
  ) {
    super();
  }
  override async get(key: string): Promise<SessionRecord | null> {
    if (this.failing && this.op === 'get' && key.startsWith(this.prefix)) throw new Error('store down');
    return super.get(key);
  }
  override async set(key: string, record: SessionRecord, expected: number | null, ttlMs: number) {
    if (this.failing && this.op === 'set' && key.startsWith(this.prefix)) throw new Error('store down');
    return super.set(key, record, expected, ttlMs);
  }
}

function setup(store = new TestStore(), reuse: 'event' | 'revoke' = 'event') {
  const events: SessionEvent[] = [];
  const warnings: string[] = [];
  const manager = createSessionManager<{ cart: string[] }>({
    seal: { secrets: [S1] },
    store,
    reuse,
    onEvent: (e) => events.push(e),
    logger: { warn: (m) => warnings.push(m) },
  });
  const reuses = () => events.filter((e) => e.type === 'reuse');
  return { store, manager, events, warnings, reuses };
}

/** The data of the one record under `prefix`, parsed. */
function dataUnder(store: TestStore, prefix: string): Record<string, unknown> {
  const entries = [...store.records].filter(([key]) => key.startsWith(prefix));
  expect(entries).toHaveLength(1);
  return JSON.parse(entries[0]![1].record.data) as Record<string, unknown>;
}

describe('sealed sessions with a store: stolen-id detection', () => {
  it('two managers sharing a memory store: reuse events, the revoke policy', async () => {
    await sealedReuseScenario(new TestStore());
  });

  it('a cookie refused by revokeSessions raises the event; one refused by a full deny list does not', async () => {
    const { store, manager, reuses } = setup();
    // revokeSessions marks its not-before time (r: 1): a cookie it ended raises the event, and no revoke.
    const laptop = new Browser();
    await visit(manager, laptop, (s) => s.login('zoe'));
    const laptopCopy = copyOf(laptop);
    await manager.revokeSessions('zoe', later(MINUTE));
    expect(dataUnder(store, 'nb.').r).toBe(1);
    expect((await manager.load(laptopCopy.header(), later(2 * MINUTE))).userId).toBeUndefined();
    expect(reuses()).toEqual([
      expect.objectContaining({ userId: 'zoe', retiredBy: 'revoke', retiredAgoMs: MINUTE }),
    ]);
    // A later phone; then 256 ended sessions fill zoe's deny list, and the next ending sets a not-before time
    // instead (fail closed), which is no revocation: the mark goes.
    const phone = new Browser();
    await visit(manager, phone, (s) => s.login('zoe'), later(3 * MINUTE));
    const phoneCopy = copyOf(phone);
    for (let i = 0; i <= 256; i++) {
      const other = new Browser();
      await visit(manager, other, (s) => s.login('zoe'), later(4 * MINUTE + i * 1000));
      await visit(manager, other, (s) => s.logout(), later(4 * MINUTE + i * 1000 + 500));
    }
    const body = dataUnder(store, 'nb.');
    expect(body.n).toBeGreaterThan(T0 + 4 * MINUTE);
    expect(body.r).toBeUndefined();
    // The phone's cookie, older than that time: refused, but nothing says it was stolen.
    expect((await manager.load(phoneCopy.header(), later(20 * MINUTE))).userId).toBeUndefined();
    expect(reuses()).toHaveLength(1);
  });

  it('costs the ordinary request nothing: one read; the first request presenting a successor writes once', async () => {
    const { store, manager } = setup();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    await visit(manager, browser, (s) => s.login('alice'), later(1000));
    // The successor's first request: its read, and one write marking it presented.
    store.resetCounts();
    expect((await visit(manager, browser, (s) => s.userId, later(2000))).result).toBe('alice');
    expect(store.log).toEqual(['get', 'set']);
    for (const t of [3000, 4000]) {
      store.resetCounts();
      expect((await visit(manager, browser, (s) => s.userId, later(t))).result).toBe('alice');
      expect(store.log).toEqual(['get']);
    }
    // A user's regenerate: the same, once.
    await visit(manager, browser, (s) => s.regenerate(), later(5000));
    store.resetCounts();
    await visit(manager, browser, (s) => s.userId, later(6000));
    expect(store.log).toEqual(['get', 'set']);
    store.resetCounts();
    await visit(manager, browser, (s) => s.userId, later(7000));
    expect(store.log).toEqual(['get']);
    // An anonymous session's regenerate: its successor's mark, confirmed once.
    const anon = new Browser();
    await visit(manager, anon, (s) => s.set('cart', ['pear']), later(8000));
    store.resetCounts();
    await visit(manager, anon, (s) => s.get('cart'), later(9000));
    expect(store.log).toEqual(['get']);
    await visit(manager, anon, (s) => s.regenerate(), later(10_000));
    store.resetCounts();
    expect((await visit(manager, anon, (s) => s.get('cart'), later(11_000))).result).toEqual(['pear']);
    expect(store.log).toEqual(['get', 'set']);
    store.resetCounts();
    expect((await visit(manager, anon, (s) => s.get('cart'), later(12_000))).result).toEqual(['pear']);
    expect(store.log).toEqual(['get']);
  });

  it('requests in flight across a rotation raise nothing, though the successor was presented', async () => {
    const { manager, reuses } = setup(new TestStore(), 'revoke');
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    await visit(manager, browser, (s) => s.userId, later(1000));
    // Two requests sent with the old cookie; a third regenerates; the new cookie is used at once.
    const slow1 = await manager.load(browser.header(), later(60_000));
    const slow2 = await manager.load(browser.header(), later(60_000));
    const old = copyOf(browser);
    await visit(manager, browser, (s) => s.regenerate(), later(60_000));
    expect((await visit(manager, browser, (s) => s.userId, later(60_100))).result).toBe('alice');
    await manager.commit(slow1);
    await manager.commit(slow2);
    // Old-cookie requests arriving within reuseSettleMs (10 s) of the rotation: refused, no event.
    for (const t of [60_200, 65_000, 69_999]) {
      expect((await visit(manager, copyOf(old), (s) => s.userId, later(t))).result).toBeUndefined();
    }
    expect(reuses()).toEqual([]);
    expect((await visit(manager, browser, (s) => s.userId, later(70_000))).result).toBe('alice');
    // Past it, the same cookie is a reuse (and with 'revoke', alice's sessions end).
    await visit(manager, copyOf(old), (s) => s.userId, later(70_000));
    expect(reuses()).toHaveLength(1);
    expect((await visit(manager, browser, (s) => s.userId, later(71_000))).result).toBeUndefined();
  });

  it('the successor presented by two requests at once: both served, marked once', async () => {
    const { store, manager, warnings, reuses } = setup();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    const old = copyOf(browser);
    await visit(manager, browser, (s) => s.login('alice'), later(1000));
    store.ticks = 2;
    const [a, b] = await Promise.all([
      visit(manager, copyOf(browser), (s) => s.userId, later(2000)),
      visit(manager, copyOf(browser), (s) => s.userId, later(2000)),
    ]);
    store.ticks = 0;
    expect([a.result, b.result]).toEqual(['alice', 'alice']);
    expect(dataUnder(store, 'nb.')).toEqual({ n: 0, v: 2 });
    expect(warnings).toEqual([]);
    await visit(manager, old, (s) => s.userId, later(MINUTE));
    expect(reuses()).toEqual([expect.objectContaining({ userId: 'alice', retiredBy: 'login' })]);
  });

  it('a rotation to another user: the old user’s cookie names the new user, whose record holds the mark', async () => {
    const { manager, reuses } = setup();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    await visit(manager, browser, (s) => s.userId, later(1000));
    const old = copyOf(browser);
    await visit(manager, browser, (s) => s.login('bob'), later(2000));
    expect((await visit(manager, copyOf(old), (s) => s.userId, later(MINUTE))).result).toBeUndefined();
    expect(reuses()).toEqual([]);
    expect((await visit(manager, browser, (s) => s.userId, later(MINUTE))).result).toBe('bob');
    await visit(manager, old, (s) => s.userId, later(2 * MINUTE));
    expect(reuses()).toEqual([
      expect.objectContaining({ userId: 'bob', retiredBy: 'login', retiredAgoMs: 2 * MINUTE - 2000 }),
    ]);
  });

  it("a user's record rewritten by an earlier version (its pending marks dropped) proves nothing", async () => {
    const { store, manager, reuses } = setup();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    const old = copyOf(browser);
    await visit(manager, browser, (s) => s.login('alice'), later(1000));
    const [nbKey, nb] = [...store.records].find(([key]) => key.startsWith('nb.'))!;
    expect(Object.keys(JSON.parse(nb.record.data) as object)).toEqual(['n', 'p', 'v']);
    // An earlier version rewrites it with the fields it knows (n, x, d), the successor never presented.
    store.records.set(nbKey, { ...nb, record: { ...nb.record, data: '{"n":0}' } });
    await visit(manager, old, (s) => s.userId, later(MINUTE));
    expect(reuses()).toEqual([]);
  });

  it('records of the earlier format (a deny record without a reason, denials as plain numbers) still refuse, with no event', async () => {
    const { store, manager, reuses, warnings } = setup();
    // Anonymous: destroyed, then its deny record rewritten as the earlier version wrote it (data '').
    const anon = new Browser();
    await visit(manager, anon, (s) => s.set('cart', ['apple']));
    const anonCopy = copyOf(anon);
    await visit(manager, anon, (s) => s.destroy(), later(1000));
    const [denyKey, deny] = [...store.records].find(([key]) => key.startsWith('dn.'))!;
    expect(JSON.parse(deny.record.data)).toEqual({ b: 'destroy', a: T0 + 1000 });
    store.records.set(denyKey, { ...deny, record: { ...deny.record, data: '' } });
    // A user's: logged out, its key listed in the user's record (as before) and what ended it in a deny record
    // of its own, which the earlier version did not write.
    const user = new Browser();
    await visit(manager, user, (s) => s.login('alice'), later(2000));
    const userCopy = copyOf(user);
    const userKey = (await visit(manager, copyOf(user), (s) => s.handle, later(2500))).result;
    await visit(manager, user, (s) => s.logout(), later(3000));
    const [nbKey, nb] = [...store.records].find(([key]) => key.startsWith('nb.'))!;
    expect(JSON.parse(nb.record.data)).toEqual({ n: 0, d: { [userKey]: T0 + 2000 + 12 * HOUR }, v: 2 });
    expect(JSON.parse(store.records.get(`dn.${userKey}`)!.record.data)).toEqual({
      b: 'logout',
      a: T0 + 3000,
      u: 'alice',
    });
    store.records.delete(`dn.${userKey}`);
    // And the user's record as the earlier version wrote it (no format mark).
    const earlier = JSON.stringify({ n: 0, d: { [userKey]: T0 + 2000 + 12 * HOUR } });
    store.records.set(nbKey, { ...nb, record: { ...nb.record, data: earlier } });
    expect((await visit(manager, anonCopy, (s) => s.get('cart'), later(MINUTE))).result).toBeUndefined();
    expect((await visit(manager, userCopy, (s) => s.userId, later(MINUTE))).result).toBeUndefined();
    expect(reuses()).toEqual([]);
    expect(warnings).toEqual([]);
    // A later write keeps the earlier denial and adds its own reason beside it.
    const other = new Browser();
    await visit(manager, other, (s) => s.login('alice'), later(2 * MINUTE));
    const otherCopy = copyOf(other);
    await visit(manager, other, (s) => s.logout(), later(3 * MINUTE));
    expect(
      (await visit(manager, copyOf(userCopy), (s) => s.userId, later(4 * MINUTE))).result,
    ).toBeUndefined();
    expect((await visit(manager, otherCopy, (s) => s.userId, later(4 * MINUTE))).result).toBeUndefined();
    expect(reuses()).toEqual([expect.objectContaining({ userId: 'alice', retiredBy: 'logout' })]);
    // Foreign data under a deny key: refused, nothing to report.
    store.records.set(denyKey, { ...deny, record: { ...deny.record, data: '{"b":"stolen","a":"x"}' } });
    expect(
      (await visit(manager, copyOf(anonCopy), (s) => s.get('cart'), later(5 * MINUTE))).result,
    ).toBeUndefined();
    expect(reuses()).toHaveLength(1);
  });

  it('a store failure in the reuse check is logged; the request gets its fresh session', async () => {
    const store = new FailingUnder('nb.', 'get');
    const { manager, reuses, warnings } = setup(store);
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    const old = copyOf(browser);
    await visit(manager, browser, (s) => s.login('alice'), later(1000));
    await visit(manager, browser, (s) => s.userId, later(2000));
    store.failing = true;
    // The anonymous cookie's deny record reads fine; the successor's user record does not.
    const { result, setCookie } = await visit(manager, old, (s) => s.get('cart'), later(MINUTE));
    expect(result).toBeUndefined();
    expect(setCookie).toEqual([]);
    expect(reuses()).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/stolen-id detection could not complete/)]);
  });

  it('a failure marking the successor presented is logged; the request is served', async () => {
    const store = new FailingUnder('nb.', 'set');
    const { manager, reuses, warnings } = setup(store);
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    const old = copyOf(browser);
    await visit(manager, browser, (s) => s.login('alice'), later(1000));
    store.failing = true;
    expect((await visit(manager, browser, (s) => s.get('cart'), later(2000))).result).toEqual(['apple']);
    expect(warnings).toEqual([expect.stringMatching(/could not be marked as presented/)]);
    store.failing = false;
    // Not marked: the old cookie is no proof yet; the next request presenting the successor marks it.
    await visit(manager, copyOf(old), (s) => s.userId, later(MINUTE));
    expect(reuses()).toEqual([]);
    await visit(manager, browser, (s) => s.userId, later(MINUTE));
    await visit(manager, old, (s) => s.userId, later(2 * MINUTE));
    expect(reuses()).toHaveLength(1);
  });

  it('pending successors beyond the limit are dropped, and their rotations prove nothing', async () => {
    const { store, manager, reuses } = setup();
    const olds: Browser[] = [];
    for (let i = 0; i <= 256; i++) {
      // A login whose answer never arrived: the successor is never presented.
      const b = new Browser();
      await visit(manager, b, (s) => s.set('cart', [String(i)]), later(i));
      olds.push(copyOf(b));
      await visit(manager, b, (s) => s.login('alice'), later(i));
    }
    const data = dataUnder(store, 'nb.');
    expect(Object.keys(data.p as object)).toHaveLength(256);
    expect(data.o).toBe(T0 + 256);
    for (const old of [olds[0]!, olds[256]!]) {
      expect((await visit(manager, old, (s) => s.get('cart'), later(MINUTE))).result).toBeUndefined();
    }
    expect(reuses()).toEqual([]);
  });

  it('without a store, a sealed session has no server-side memory: no detection', async () => {
    const events: SessionEvent[] = [];
    const manager = createSessionManager({ seal: { secrets: [S1] }, onEvent: (e) => events.push(e) });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    const copy = copyOf(browser);
    await visit(manager, browser, (s) => s.logout(), later(1000));
    expect((await visit(manager, copy, (s) => s.userId, later(MINUTE))).result).toBe('alice');
    expect(events.filter((e) => e.type === 'reuse')).toEqual([]);
  });
});
