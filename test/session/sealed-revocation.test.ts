import { describe, expect, it } from 'vitest';
import { createSessionManager, SessionConflictError } from '../../src/index.js';
import type { SessionRecord } from '../../src/session/store.js';
import { Browser, copyOf, HOUR, T0, TestStore, visit } from './helpers.js';

const S1 = 'first-sealing-secret-of-32-bytes-or-more';

/** A store that loses every compare-and-set race (someone else always wrote first). */
class AlwaysConflicting extends TestStore {
  override async set(key: string, record: SessionRecord, expected: number | null, ttlMs: number) {
    await super.set(key, record, expected, ttlMs);
    // Bump the version behind the writer's back, so its compare-and-set never matches.
    const entry = this.records.get(key);
    if (entry) entry.record.version += 7;
    return false;
  }
}

describe('sealed revokeSessions', () => {
  it('throws SessionConflictError when the not-before record cannot be written, instead of claiming success', async () => {
    const store = new AlwaysConflicting();
    const manager = createSessionManager({ seal: { secrets: [S1] }, store });
    await expect(manager.revokeSessions('alice', { now: T0 })).rejects.toBeInstanceOf(SessionConflictError);
  });

  it('succeeds on a cooperative store and then refuses the older sealed cookie', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ seal: { secrets: [S1] }, store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    expect(await manager.revokeSessions('alice', { now: T0 + 1 })).toBe(1);
    const { result } = await visit(manager, browser, (s) => s.userId, { now: T0 + 2 });
    expect(result).toBeUndefined();
  });
});

function sealedWithStore() {
  const store = new TestStore();
  const manager = createSessionManager<{ cart: string[] }>({ seal: { secrets: [S1] }, store });
  return { store, manager };
}

const later = (ms: number) => ({ now: T0 + ms });

describe('sealed sessions with a store: an ended cookie cannot be replayed (CVE-2024-31999 class)', () => {
  it('logout: a copy taken before is refused; one store read per logged-in request', async () => {
    const { store, manager } = sealedWithStore();
    const browser = new Browser();
    await visit(manager, browser, (s) => {
      s.login('alice');
      s.set('cart', ['apple']);
    });
    const stolen = copyOf(browser);
    store.resetCounts();
    expect((await visit(manager, copyOf(browser), (s) => s.userId, later(1000))).result).toBe('alice');
    expect(store.log).toEqual(['get']);
    await visit(manager, browser, (s) => s.logout(), later(2000));
    expect(browser.value()).toBeUndefined();
    store.resetCounts();
    const { result } = await visit(manager, stolen, (s) => [s.userId, s.get('cart')], later(3000));
    expect(result).toEqual([undefined, undefined]);
    // Refused by the one read; off the ordinary path, one more learns what ended it (stolen-id detection).
    expect(store.log).toEqual(['get', 'get']);
  });

  it("logout on one device leaves the user's other devices logged in", async () => {
    const { manager } = sealedWithStore();
    const laptop = new Browser();
    const phone = new Browser();
    await visit(manager, laptop, (s) => s.login('alice'));
    await visit(manager, phone, (s) => s.login('alice'), later(10));
    await visit(manager, laptop, (s) => s.logout(), later(20));
    expect((await visit(manager, phone, (s) => s.userId, later(30))).result).toBe('alice');
  });

  it('destroy of an anonymous sealed session: the copy is refused (one read of its deny record)', async () => {
    const { store, manager } = sealedWithStore();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    const stolen = copyOf(browser);
    await visit(manager, browser, (s) => s.destroy(), later(1000));
    store.resetCounts();
    expect((await visit(manager, stolen, (s) => s.get('cart'), later(2000))).result).toBeUndefined();
    expect(store.log).toEqual(['get']);
  });

  it('login and regenerate: the cookie from before the new id is refused, the new one works', async () => {
    const { manager } = sealedWithStore();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    const anonymous = copyOf(browser);
    await visit(manager, browser, (s) => s.login('alice'), later(1000));
    expect((await visit(manager, anonymous, (s) => s.get('cart'), later(2000))).result).toBeUndefined();
    const loggedIn = copyOf(browser);
    await visit(manager, browser, (s) => s.regenerate(), later(3000));
    expect((await visit(manager, loggedIn, (s) => s.userId, later(4000))).result).toBeUndefined();
    const { result } = await visit(manager, browser, (s) => [s.userId, s.get('cart')], later(5000));
    expect(result).toEqual(['alice', ['apple']]);
  });

  it('deny records live as long as the ended cookie could, and a 5xx writes none', async () => {
    const { store, manager } = sealedWithStore();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    const copy = copyOf(browser);
    await visit(manager, copyOf(browser), (s) => s.destroy(), later(1000), { status: 500 });
    expect(store.records.size).toBe(0);
    await visit(manager, browser, (s) => s.destroy(), later(1000));
    const [entry] = [...store.records.values()];
    // A refreshed copy of the cookie could live until the session's absolute lifetime ends (T0 + 12 h),
    // not only until the ended cookie's own expiry (issue 15): that remaining time plus the stores' slack.
    expect(entry!.ttlMs).toBe(12 * HOUR - 1000 + 60_000);
    expect((await visit(manager, copy, (s) => s.get('cart'), later(2000))).result).toBeUndefined();
  });

  it('revocations and denials of one user keep one another', async () => {
    const { manager } = sealedWithStore();
    const a = new Browser();
    const b = new Browser();
    const c = new Browser();
    await visit(manager, a, (s) => s.login('alice'));
    await visit(manager, b, (s) => s.login('alice'));
    const copyOfA = copyOf(a);
    await visit(manager, a, (s) => s.logout(), later(1000));
    await manager.revokeSessions('alice', later(2000));
    await visit(manager, c, (s) => s.login('alice'), later(3000));
    const d = copyOf(c);
    await visit(manager, c, (s) => s.logout(), later(4000));
    expect((await visit(manager, copyOfA, (s) => s.userId, later(5000))).result).toBeUndefined();
    expect((await visit(manager, b, (s) => s.userId, later(5000))).result).toBeUndefined();
    expect((await visit(manager, d, (s) => s.userId, later(5000))).result).toBeUndefined();
    const e = new Browser();
    await visit(manager, e, (s) => s.login('alice'), later(6000));
    expect((await visit(manager, e, (s) => s.userId, later(7000))).result).toBe('alice');
  });

  it('without a store (documented): a copy of the cookie keeps working until its sealed expiry', async () => {
    const manager = createSessionManager({ seal: { secrets: [S1] } });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    const copy = copyOf(browser);
    await visit(manager, browser, (s) => s.logout(), later(1000));
    expect((await visit(manager, copy, (s) => s.userId, later(2000))).result).toBe('alice');
    expect((await visit(manager, copy, (s) => s.userId, later(31 * 60_000))).result).toBeUndefined();
  });
});

describe("a user's list of ended sealed sessions", () => {
  it('is pruned of expired entries and bounded: beyond 256, every older cookie of the user ends', async () => {
    const { store, manager } = sealedWithStore();
    const listed = () => {
      // The user's not-before record (under the 'nb.' prefix) lists the ended sessions.
      const [entry] = [...store.records].filter(([key]) => key.startsWith('nb.')).map(([, e]) => e);
      return Object.keys((JSON.parse(entry!.record.data) as { d?: object }).d ?? {}).length;
    };
    const kept = new Browser();
    await visit(manager, kept, (s) => s.login('alice'));
    for (let i = 0; i < 256; i++) {
      const device = new Browser();
      await visit(manager, device, (s) => s.login('alice'), later(i));
      await visit(manager, device, (s) => s.logout(), later(i));
    }
    expect(listed()).toBe(256);
    expect((await visit(manager, kept, (s) => s.userId, later(300))).result).toBe('alice');
    const last = new Browser();
    await visit(manager, last, (s) => s.login('alice'), later(400));
    const copy = copyOf(last);
    await visit(manager, last, (s) => s.logout(), later(500));
    expect(listed()).toBe(1);
    expect((await visit(manager, copy, (s) => s.userId, later(600))).result).toBeUndefined();
    expect((await visit(manager, kept, (s) => s.userId, later(600))).result).toBeUndefined();
    // Expired entries are dropped at the next write (a denial lasts the session's absolute lifetime, 12 h).
    const next = new Browser();
    await visit(manager, next, (s) => s.login('alice'), later(13 * HOUR));
    await visit(manager, next, (s) => s.logout(), later(13 * HOUR));
    expect(listed()).toBe(1);
  });
});

describe('sealed sessions with a store: how long an ended session stays refused (issue 15)', () => {
  const SECOND = 1000;
  /** A 2-minute idle timeout and a 10 s touch interval, so copies can be refreshed and outlive each other. */
  const shortLived = () => {
    const store = new TestStore();
    const options = {
      seal: { secrets: [S1] },
      store,
      idleTimeout: 2 * 60 * SECOND,
      touchInterval: 10 * SECOND,
    };
    return { store, manager: createSessionManager<{ cart: string[] }>(options) };
  };

  it('a copy refreshed after the theft stays refused after the logout, until the session’s absolute lifetime ends', async () => {
    const { manager } = shortLived();
    const victim = new Browser();
    await visit(manager, victim, (s) => s.login('alice'));
    const thief = copyOf(victim);
    // The thief refreshes the copy at 70 s: a later expiry than the victim's cookie carries.
    const refresh = await visit(manager, thief, (s) => s.userId, later(70 * SECOND));
    expect(refresh.result).toBe('alice');
    expect(refresh.setCookie).toHaveLength(1);
    await visit(manager, victim, (s) => s.logout(), later(71 * SECOND));
    expect((await visit(manager, copyOf(thief), (s) => s.userId, later(72 * SECOND))).result).toBeUndefined();
    // Another device's logout rewrites the user's record (pruning the entries that ended).
    const other = new Browser();
    await visit(manager, other, (s) => s.login('alice'), later(100 * SECOND));
    await visit(manager, other, (s) => s.logout(), later(150 * SECOND));
    // The thief's copy (valid until 190 s by its own expiry) is still refused.
    expect(
      (await visit(manager, copyOf(thief), (s) => s.userId, later(160 * SECOND))).result,
    ).toBeUndefined();
    expect(
      (await visit(manager, copyOf(thief), (s) => s.userId, later(185 * SECOND))).result,
    ).toBeUndefined();
  });

  it('the same for an anonymous sealed session: a refreshed copy stays refused after destroy', async () => {
    const { store, manager } = shortLived();
    const victim = new Browser();
    await visit(manager, victim, (s) => s.set('cart', ['apple']));
    const thief = copyOf(victim);
    await visit(manager, thief, (s) => s.touch(), later(70 * SECOND));
    await visit(manager, victim, (s) => s.destroy(), later(71 * SECOND));
    for (const t of [72, 150, 185]) {
      const replay = await visit(manager, copyOf(thief), (s) => s.get('cart'), later(t * SECOND));
      expect(replay.result).toBeUndefined();
    }
    // The deny record lives as long as a copy could: beyond the victim cookie's own expiry (120 s).
    const [deny] = [...store.records].filter(([key]) => key.startsWith('dn.'));
    expect(deny![1].record.expiresAt).toBeGreaterThan(T0 + 190 * SECOND);
  });

  it('revokeSessions (unaffected, beside it): a refreshed copy stays refused too', async () => {
    const { manager } = shortLived();
    const victim = new Browser();
    await visit(manager, victim, (s) => s.login('alice'));
    const thief = copyOf(victim);
    await visit(manager, thief, (s) => s.userId, later(70 * SECOND));
    await manager.revokeSessions('alice', later(71 * SECOND));
    for (const t of [72, 150, 185]) {
      expect(
        (await visit(manager, copyOf(thief), (s) => s.userId, later(t * SECOND))).result,
      ).toBeUndefined();
    }
  });

  it('the session kept by revokeSessions({ except }) stays kept through its own regenerations', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ seal: { secrets: [S1] }, store });
    const kept = new Browser();
    const other = new Browser();
    await visit(manager, kept, (s) => s.login('alice'));
    await visit(manager, other, (s) => s.login('alice'));
    const { session } = await visit(manager, kept, (s) => s.userId, later(1000));
    await manager.revokeSessions('alice', { except: session, ...later(2000) });
    expect((await visit(manager, other, (s) => s.userId, later(3000))).result).toBeUndefined();
    await visit(manager, kept, (s) => s.regenerate(), later(4000));
    expect((await visit(manager, kept, (s) => s.userId, later(5000))).result).toBe('alice');
    await visit(manager, kept, (s) => s.regenerate(), later(6000));
    expect((await visit(manager, kept, (s) => s.userId, later(7000))).result).toBe('alice');
  });
});
