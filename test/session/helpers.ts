/**
 * Test helpers of the session core: a Map store implementing the store contract that counts its calls
 * and injects faults (throws, hangs, slow answers), a tiny cookie-keeping browser, and a request helper.
 */
import { expect } from 'vitest';
import { parseSetCookie } from '../../src/cookie/index.js';
import { storeKeyOf } from '../../src/session/ids.js';
import type {
  CommitOptions,
  LoadContext,
  RequestOptions,
  SessionManager,
} from '../../src/session/manager.js';
import { createSessionManager } from '../../src/session/manager.js';
import type { SessionEvent } from '../../src/session/options.js';
import type { Session } from '../../src/session/session.js';
import type { SessionRecord, SessionStore } from '../../src/session/store.js';

/** A fixed epoch for fake clocks. */
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

interface Entry {
  record: SessionRecord;
  ttlMs: number;
}

/** A Map store (compare-and-set on `version`) that counts calls and can fail on demand. */
export class TestStore implements SessionStore {
  readonly records = new Map<string, Entry>();
  reads = 0;
  writes = 0;
  deletes = 0;
  /** When set, every call rejects with this error. */
  failWith: Error | undefined;
  /** When true, every call never settles. */
  hang = false;
  /** setImmediate turns each call waits before answering (lets requests interleave). */
  ticks = 0;
  /** Real milliseconds each call takes (a slow, degraded store). */
  delayMs = 0;
  /** Every call, in order: "get", "set", "delete", ... */
  readonly log: string[] = [];

  async #fault(op: string): Promise<void> {
    this.log.push(op);
    if (this.hang) await new Promise<never>(() => {});
    for (let i = 0; i < this.ticks; i++) await new Promise((resolve) => setImmediate(resolve));
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failWith) throw this.failWith;
  }

  async get(key: string): Promise<SessionRecord | null> {
    this.reads++;
    await this.#fault('get');
    const entry = this.records.get(key);
    return entry ? structuredClone(entry.record) : null;
  }

  async set(key: string, record: SessionRecord, expected: number | null, ttlMs: number): Promise<boolean> {
    this.writes++;
    await this.#fault('set');
    const current = this.records.get(key);
    if (expected === null ? current !== undefined : current?.record.version !== expected) return false;
    this.records.set(key, { record: structuredClone(record), ttlMs });
    return true;
  }

  async delete(key: string): Promise<void> {
    this.deletes++;
    await this.#fault('delete');
    this.records.delete(key);
  }

  async listByUser(userId: string): Promise<Array<{ key: string; record: SessionRecord }>> {
    this.reads++;
    await this.#fault('listByUser');
    return [...this.records]
      .filter(([, e]) => e.record.userId === userId)
      .map(([key, e]) => ({ key, record: structuredClone(e.record) }));
  }

  async deleteByUser(userId: string, options?: { exceptKey?: string }): Promise<number> {
    await this.#fault('deleteByUser');
    let n = 0;
    for (const [key, e] of this.records) {
      if (e.record.userId === userId && key !== options?.exceptKey) {
        this.records.delete(key);
        n++;
      }
    }
    return n;
  }

  async count(): Promise<number> {
    return this.records.size;
  }

  /** Records that are live sessions (not pointers or tombstones). */
  sessions(): Array<[string, SessionRecord]> {
    return [...this.records]
      .filter(([, e]) => e.record.movedTo === undefined && e.record.expiresAt > 0)
      .map(([k, e]) => [k, e.record]);
  }

  resetCounts(): void {
    this.reads = 0;
    this.writes = 0;
    this.deletes = 0;
    this.log.length = 0;
  }
}

/** A user agent that keeps the cookies it is sent (no domain/path logic: one host, Path=/). */
export class Browser {
  readonly cookies = new Map<string, string>();
  /** The last Set-Cookie lines received, parsed. */
  last: ReturnType<typeof parseSetCookie>[] = [];

  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }

  receive(lines: readonly string[], now: number = T0): void {
    this.last = lines.map((line) => parseSetCookie(line, { now }));
    for (const cookie of this.last) {
      if (cookie === undefined)
        throw new Error(`unparseable Set-Cookie from the manager: ${lines.join(' | ')}`);
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
  }

  /** The value of the session cookie (whatever its name). */
  value(name = 'sid'): string | undefined {
    return this.cookies.get(name);
  }
}

export interface Visit<Data extends object, R> {
  session: Session<Data>;
  setCookie: string[];
  result: R;
}

/**
 * One request: load with the browser's cookies (and `request`'s options), run `handler`, commit, give the
 * browser the cookies.
 */
export async function visit<Data extends object, R = void>(
  manager: SessionManager<Data>,
  browser: Browser,
  handler?: (session: Session<Data>) => R | Promise<R>,
  context: LoadContext = { now: T0 },
  commit: CommitOptions = {},
  request?: RequestOptions,
): Promise<Visit<Data, R>> {
  const session = await manager.load(browser.header(), context, request);
  const result = (await handler?.(session)) as R;
  const { setCookie } = await manager.commit(session, commit);
  const now =
    context.now === undefined ? T0 : typeof context.now === 'number' ? context.now : context.now.getTime();
  browser.receive(setCookie, now);
  return { session, setCookie, result };
}

/** A stored session holding `data` (written by a manager of its own on `store`); its Cookie header. */
export async function seeded(store: TestStore, data: Record<string, number>): Promise<string> {
  const manager = createSessionManager({ store });
  const browser = new Browser();
  await visit(manager, browser, (s) => {
    for (const [k, v] of Object.entries(data)) s.set(k, v);
  });
  return browser.header()!;
}

/** A second browser holding a copy of `browser`'s cookies, taken now (a stolen cookie, another tab). */
export function copyOf(browser: Browser): Browser {
  const copy = new Browser();
  for (const [name, value] of browser.cookies) copy.cookies.set(name, value);
  return copy;
}

/**
 * A guest puts an apple in the cart, logs in as alice, adds a pear: what the next request then sees,
 * `[userId, cart]` (each request at `context()`; `['alice', ['apple', 'pear']]` when the store keeps it all).
 */
export async function cartThroughLogin(
  manager: SessionManager<{ cart: string[] }>,
  browser: Browser,
  context: () => LoadContext,
): Promise<unknown> {
  await visit(manager, browser, (s) => s.set('cart', ['apple']), context());
  await visit(manager, browser, (s) => s.login('alice'), context());
  await visit(manager, browser, (s) => s.update('cart', (c = []) => [...c, 'pear']), context());
  return (await visit(manager, browser, (s) => [s.userId, s.get('cart')], context())).result;
}

/** A session logged in as alice on a TestStore, behind a manager with a 100 ms storeTimeout (for fault tests). */
export async function loggedIn() {
  const store = new TestStore();
  const manager = createSessionManager({ store, storeTimeout: 100 });
  const browser = new Browser();
  await visit(manager, browser, (s) => s.login('alice'));
  return { store, manager, browser };
}

/** The request context of the minute `minutes` after T0 (the fake clock of the scenarios below). */
const minute = (minutes: number): LoadContext => ({ now: T0 + minutes * MINUTE });

/** The session's user, login time and freshness within 5 minutes (what the scenarios below compare). */
const freshness = (s: Session<{ cart: string[] }>) => [s.userId, s.authenticatedAt, s.isFresh(5 * MINUTE)];

/** A handler that does `act`, then answers `read` of the session. */
const then =
  <S, R>(act: (s: S) => void, read: (s: S) => R) =>
  (s: S): R => {
    act(s);
    return read(s);
  };

/**
 * Step-up freshness on `store` (run by the session tests of every store): `authenticatedAt` is the time of
 * the last `login()`, kept by writes, touches, `regenerate()` and renewal; a second login of the same user
 * (the re-authentication) and another user's login set it anew; logout removes it; `isFresh(ms)` follows it
 * by the request's time. A session stored before `authenticatedAt` existed (a user, no login time) is not fresh.
 */
export async function freshnessScenario(store: SessionStore): Promise<void> {
  const manager = createSessionManager<{ cart: string[] }>({ store, renewAfter: 10 * MINUTE });
  const browser = new Browser();
  const go = <R>(minutes: number, handler: (s: Session<{ cart: string[] }>) => R) =>
    visit(manager, browser, handler, minute(minutes));
  const anonymous = await go(0, (s) => {
    s.set('cart', ['apple']);
    return freshness(s);
  });
  expect(anonymous.result).toEqual([undefined, undefined, false]);
  const login = await go(1, (s) => {
    s.login('alice');
    return freshness(s);
  });
  expect(login.result).toEqual(['alice', T0 + MINUTE, true]);
  const written = await go(3, (s) => {
    s.update('cart', (cart = []) => [...cart, 'pear']);
    return freshness(s);
  });
  expect(written.result).toEqual(['alice', T0 + MINUTE, true]);
  // Two minutes after the write the throttled touch is due: it moves the record's last-seen time, not the login's.
  const touched = await go(5, (s) => [...freshness(s), s.handle]);
  expect(touched.result.slice(0, 3)).toEqual(['alice', T0 + MINUTE, true]);
  expect((await store.get(touched.result[3] as string))?.lastSeenAt).toBe(T0 + 5 * MINUTE);
  expect((await go(6, freshness)).result).toEqual(['alice', T0 + MINUTE, true]); // 5 minutes exactly
  expect((await go(7, freshness)).result).toEqual(['alice', T0 + MINUTE, false]);
  const beforeRegenerate = browser.value();
  await go(8, (s) => s.regenerate());
  expect(browser.value()).not.toBe(beforeRegenerate);
  expect((await go(9, (s) => [s.authenticatedAt, s.isFresh(8 * MINUTE)])).result).toEqual([
    T0 + MINUTE,
    true,
  ]);
  // renewAfter (10 minutes after the regenerate's id): a new id, the same login time.
  const beforeRenewal = browser.value();
  const renewed = await go(19, freshness);
  expect(browser.value()).not.toBe(beforeRenewal);
  expect(renewed.result).toEqual(['alice', T0 + MINUTE, false]);
  // The user types the password again: the same user's login makes the session fresh, the cart stays.
  expect(
    (
      await go(
        20,
        then((s) => s.login('alice'), freshness),
      )
    ).result,
  ).toEqual(['alice', T0 + 20 * MINUTE, true]);
  expect((await go(21, (s) => [s.get('cart'), ...freshness(s)])).result).toEqual([
    ['apple', 'pear'],
    'alice',
    T0 + 20 * MINUTE,
    true,
  ]);
  expect((await go(26, (s) => [s.isFresh(5 * MINUTE), s.isFresh(6 * MINUTE)])).result).toEqual([false, true]);
  expect(
    (
      await go(
        27,
        then((s) => s.login('bob'), freshness),
      )
    ).result,
  ).toEqual(['bob', T0 + 27 * MINUTE, true]);
  expect(
    (
      await go(
        28,
        then((s) => s.logout(), freshness),
      )
    ).result,
  ).toEqual([undefined, undefined, false]);
  expect((await go(28.5, freshness)).result).toEqual([undefined, undefined, false]);
  // A session stored by an earlier version: a user, no login time (its record rewritten without it).
  const carol = await go(
    29,
    then(
      (s) => s.login('carol'),
      (s) => s.handle,
    ),
  );
  const record = (await store.get(carol.result))!;
  const data = JSON.parse(record.data) as Record<string, unknown>;
  expect(data['teller:auth']).toBe(T0 + 29 * MINUTE);
  delete data['teller:auth'];
  const older = { ...record, data: JSON.stringify(data), version: record.version + 1 };
  expect(await store.set(carol.result, older, record.version, 30 * MINUTE)).toBe(true);
  expect((await go(30, freshness)).result).toEqual(['carol', undefined, false]);
  expect(
    (
      await go(
        31,
        then((s) => s.login('carol'), freshness),
      )
    ).result,
  ).toEqual(['carol', T0 + 31 * MINUTE, true]);
}

/**
 * Passive requests on `store` (run by the session tests of every store), with the default 30-minute idle
 * timeout and `renewAfter` 10 minutes: a session polled every minute by passive requests (reading, writing,
 * or calling `touch()`) still ends at its idle timeout, sends no cookie and keeps its record's expiry; the
 * same polls as ordinary requests keep it alive (and renew it); a passive write lands (the next poll and an
 * ordinary request read it); a remembered session's passive write re-sends no persistent cookie.
 */
export async function passiveScenario(store: SessionStore): Promise<void> {
  const manager = createSessionManager<{ polls: number; seen: number }>({ store, renewAfter: 10 * MINUTE });
  const passive: RequestOptions = { passive: true };
  for (const kind of ['read', 'write', 'touch', 'ordinary'] as const) {
    const browser = new Browser();
    const login = await visit(
      manager,
      browser,
      then(
        (s) => s.login('alice'),
        (s) => s.handle,
      ),
      minute(0),
    );
    let polls = 0;
    for (let m = 1; m <= 35; m++) {
      const poll = await visit(
        manager,
        browser,
        (s) => {
          if (kind === 'write' && s.userId !== undefined) s.update('polls', (n = 0) => n + 1);
          if (kind === 'touch') s.touch();
          return [s.userId, s.get('polls')];
        },
        minute(m),
        {},
        kind === 'ordinary' ? undefined : passive,
      );
      if (kind === 'ordinary' || m < 30) {
        if (kind === 'write') polls++;
        expect(poll.result, `${kind} poll at minute ${m}`).toEqual([
          'alice',
          kind === 'write' ? polls : undefined,
        ]);
        if (kind !== 'ordinary') expect(poll.setCookie, `${kind} poll at minute ${m}`).toEqual([]);
      } else expect(poll.result, `${kind} poll at minute ${m}`).toEqual([undefined, undefined]);
      if (m === 10 && kind !== 'ordinary') {
        // The record's idle expiry and last-seen time are the login's.
        const record = await store.get(login.result);
        expect(record).toMatchObject({ lastSeenAt: T0, expiresAt: T0 + 30 * MINUTE });
      }
    }
    if (kind === 'ordinary') expect(browser.value()).not.toBe(undefined);
  }
  // A passive write lands: an ordinary request reads it (and, being ordinary, extends the session).
  const browser = new Browser();
  await visit(manager, browser, (s) => s.login('alice', { remember: true }), minute(0));
  const write = await visit(manager, browser, (s) => s.set('seen', 1), minute(5), {}, passive);
  expect(write.setCookie).toEqual([]); // no persistent cookie re-sent with a longer Max-Age
  const read = await visit(manager, browser, (s) => [s.userId, s.get('seen')], minute(6));
  expect(read.result).toEqual(['alice', 1]);
  const ordinary = await visit(manager, browser, (s) => s.set('seen', 2), minute(7));
  expect(ordinary.setCookie).toHaveLength(1); // an ordinary write re-sends it (its Max-Age follows the session)
}

/**
 * Stolen-id detection on `store` (run by the session tests of every store): two managers (two processes, the
 * second on `other`, a second client of the same backend when given) serve one victim's browser in turn, and
 * a thief holds a copy of the victim's cookie. Checked: the thief's copy used after the victim logged in again,
 * after a renewal and after a logout raises one `reuse` event each, with who, what and when and the thief's
 * user agent and ip, and gets a fresh anonymous session; requests in flight across a rotation, an aborted
 * rotation (the new id never presented) and the renewal grace raise nothing; an id ended by `revokeSessions`
 * (a retirement record, left in one store call) raises one, and never a further revocation; with `reuse:
 * 'revoke'` a rotation reuse ends every session of the user; no event carries an id, a key or a ref.
 */
export async function reuseScenario(store: SessionStore, other: SessionStore = store): Promise<void> {
  const events: SessionEvent[] = [];
  const onEvent = (event: SessionEvent) => events.push(event);
  const options = { renewAfter: 10 * MINUTE, onEvent } as const;
  const m1 = createSessionManager<{ cart: string[] }>({ store, ...options });
  const m2 = createSessionManager<{ cart: string[] }>({ store: other, ...options });
  const ids = new Set<string>();
  const keep = (b: Browser) => {
    const id = b.value();
    if (id !== undefined) ids.add(id);
  };
  const at = (minutes: number, thief = false): LoadContext => ({
    now: T0 + minutes * MINUTE,
    ...(thief
      ? { userAgent: 'ThiefBrowser/1', ip: '203.0.113.9' }
      : { userAgent: 'VictimUA/1', ip: '10.0.0.1' }),
  });
  const reuses = () => events.filter((e) => e.type === 'reuse');
  const userOf = async (m: typeof m1, b: Browser, ctx: LoadContext) => {
    const { result } = await visit(m, b, (s) => s.userId, ctx);
    keep(b);
    return result;
  };

  // Login: the thief copied the anonymous id before the victim logged in (on the other process).
  const victim = new Browser();
  await visit(m1, victim, (s) => s.set('cart', ['apple']), at(0));
  keep(victim);
  const beforeLogin = copyOf(victim);
  await visit(m2, victim, (s) => s.login('alice'), at(1));
  keep(victim);
  // In flight across the rotation: the old id, before and after the settle window, while the new id was
  // never presented yet (the browser may not have the answer): nothing.
  expect(await userOf(m1, copyOf(beforeLogin), { now: T0 + MINUTE + 50 })).toBeUndefined();
  expect(await userOf(m2, copyOf(beforeLogin), at(1.5))).toBeUndefined();
  expect(reuses()).toEqual([]);
  // The victim's browser presents the new id (the rightful browser holds it), on the other process.
  expect(await userOf(m1, victim, at(2))).toBe('alice');
  expect(await userOf(m2, beforeLogin, at(3, true))).toBeUndefined();
  expect(reuses()).toEqual([
    {
      type: 'reuse',
      at: T0 + 3 * MINUTE,
      userId: 'alice',
      retiredBy: 'login',
      retiredAgoMs: 2 * MINUTE,
      userAgent: 'ThiefBrowser/1',
      ip: '203.0.113.9',
    },
  ]);
  // The thief's fresh session is not alice's, and alice's goes on.
  expect(await userOf(m1, victim, at(4))).toBe('alice');

  // Renewal (renewAfter 10 minutes after the login): the thief's copy of the logged-in id.
  const beforeRenewal = copyOf(victim);
  const old = victim.value();
  await visit(m2, victim, (s) => s.get('cart'), at(11.5));
  keep(victim);
  expect(victim.value()).not.toBe(old);
  // Within the renewal grace the old id still reaches the session (requests in flight): nothing.
  // (It writes: a write through the old id does not count as the new id presented.)
  const inGrace = await visit(
    m1,
    copyOf(beforeRenewal),
    (s) => {
      s.set('cart', ['apple', 'pear']);
      return s.userId;
    },
    { now: T0 + 11.5 * MINUTE + 20_000 },
  );
  expect(inGrace.result).toBe('alice');
  // Past the grace, the new id not presented yet (the grace request above came with the old id): nothing.
  expect(await userOf(m2, copyOf(beforeRenewal), at(13))).toBeUndefined();
  expect(reuses()).toHaveLength(1);
  expect(await userOf(m1, victim, at(13.5))).toBe('alice');
  expect(await userOf(m2, beforeRenewal, at(14, true))).toBeUndefined();
  expect(reuses().slice(1)).toEqual([
    expect.objectContaining({ userId: 'alice', retiredBy: 'renewal', retiredAgoMs: 2.5 * MINUTE }),
  ]);

  // Logout: the thief's copy of the live id, presented after the victim logged out.
  const beforeLogout = copyOf(victim);
  await visit(m1, victim, (s) => s.logout(), at(15));
  expect(victim.value()).toBeUndefined();
  expect(await userOf(m2, beforeLogout, at(16, true))).toBeUndefined();
  expect(reuses().slice(2)).toEqual([
    expect.objectContaining({ userId: 'alice', retiredBy: 'logout', retiredAgoMs: MINUTE }),
  ]);

  // An aborted rotation: the regenerate's answer never reached the browser, which goes on with the old id.
  const bob = new Browser();
  await visit(m1, bob, (s) => s.login('bob'), at(20));
  keep(bob);
  await visit(m2, copyOf(bob), (s) => s.get('cart'), at(20.5)); // confirms bob's login id
  const lost = await m2.load(bob.header(), at(21));
  lost.regenerate();
  await m2.commit(lost); // the Set-Cookie is dropped
  expect(await userOf(m1, copyOf(bob), at(22))).toBeUndefined();
  expect(await userOf(m2, copyOf(bob), at(40))).toBeUndefined();
  expect(reuses()).toHaveLength(3);

  // revokeSessions leaves retirement records too (one store call): a revoked id gets a fresh session and an
  // event, never a further revocation; the session kept by `except` goes on.
  const dave = new Browser();
  const davePhone = new Browser();
  await visit(m1, dave, (s) => s.login('dave'), at(30));
  await visit(m2, davePhone, (s) => s.login('dave'), at(30));
  keep(dave);
  keep(davePhone);
  const daveCopy = copyOf(dave);
  const { result: phoneHandle } = await visit(m2, davePhone, (s) => s.handle, at(30));
  expect(typeof phoneHandle).toBe('string');
  const revokedBefore = events.filter((e) => e.type === 'revoked').length;
  expect(await m2.revokeSessions('dave', { now: T0 + 31 * MINUTE, except: phoneHandle as string })).toBe(1);
  expect(await userOf(m1, daveCopy, at(32, true))).toBeUndefined();
  expect(reuses().slice(3)).toEqual([
    expect.objectContaining({ userId: 'dave', retiredBy: 'revoke', retiredAgoMs: MINUTE }),
  ]);
  expect(await userOf(m1, davePhone, at(33))).toBe('dave');
  expect(events.filter((e) => e.type === 'revoked').length).toBe(revokedBefore + 1);

  // reuse: 'revoke': carol's phone and laptop; a copy of the laptop's id from before its regenerate.
  const r1 = createSessionManager<{ cart: string[] }>({ store, ...options, reuse: 'revoke' });
  const r2 = createSessionManager<{ cart: string[] }>({ store: other, ...options, reuse: 'revoke' });
  const laptop = new Browser();
  const phone = new Browser();
  await visit(r1, laptop, (s) => s.login('carol'), at(50));
  await visit(r2, phone, (s) => s.login('carol'), at(50));
  keep(laptop);
  keep(phone);
  const beforeRegenerate = copyOf(laptop);
  await visit(r2, laptop, (s) => s.regenerate(), at(51));
  keep(laptop);
  expect(await userOf(r1, laptop, at(52))).toBe('carol');
  expect(await userOf(r2, phone, at(52))).toBe('carol');
  expect(await userOf(r1, beforeRegenerate, at(53, true))).toBeUndefined();
  expect(reuses().slice(4)).toEqual([
    expect.objectContaining({ userId: 'carol', retiredBy: 'regenerate', retiredAgoMs: 2 * MINUTE }),
  ]);
  expect(events.filter((e) => e.type === 'revoked').at(-1)).toMatchObject({ userId: 'carol', detail: '2' });
  expect(await userOf(r2, laptop, at(54))).toBeUndefined();
  expect(await userOf(r1, phone, at(54))).toBeUndefined();
  expect(await r1.listSessions('carol', { now: T0 + 54 * MINUTE })).toEqual([]);
  // A rotation reuse of an id whose user is gone, and a revocation reuse, revoke nothing more.
  expect(reuses()).toHaveLength(7);
  expect(
    reuses()
      .slice(5)
      .map((e) => e.retiredBy),
  ).toEqual(['revoke', 'revoke']);
  expect(events.filter((e) => e.type === 'revoked').length).toBe(revokedBefore + 2);

  // No event carries an id, a key, or a ref.
  const text = JSON.stringify(reuses());
  expect(ids.size).toBeGreaterThanOrEqual(8);
  for (const id of ids) {
    expect(text).not.toContain(id);
    expect(text).not.toContain(storeKeyOf(id));
  }
  for (const event of reuses()) expect(event.ref).toBeUndefined();
}

/**
 * Stolen-id detection of sealed sessions with a store (the deny and not-before records), on two managers
 * (two processes) sharing `store` (or `store` and `other`, two connections to one database): login,
 * regenerate, logout, an anonymous regenerate and destroy, an aborted rotation, revokeSessions, and the
 * `'revoke'` policy. Sealed sessions have no renewal.
 */
export async function sealedReuseScenario(store: SessionStore, other: SessionStore = store): Promise<void> {
  const events: SessionEvent[] = [];
  const onEvent = (event: SessionEvent) => events.push(event);
  const options = { seal: { secrets: ['a-sealing-secret-for-reuse-tests-32b+'] }, onEvent } as const;
  const m1 = createSessionManager<{ cart: string[] }>({ store, ...options });
  const m2 = createSessionManager<{ cart: string[] }>({ store: other, ...options });
  const keys = new Set<string>();
  /** The handles (store keys) of the sessions seen, which no event may carry. */
  const keep = (s: Session<{ cart: string[] }>) => {
    if (!s.isNew || s.userId !== undefined) keys.add(s.handle);
  };
  const at = (minutes: number, thief = false): LoadContext => ({
    now: T0 + minutes * MINUTE,
    ...(thief
      ? { userAgent: 'ThiefBrowser/1', ip: '203.0.113.9' }
      : { userAgent: 'VictimUA/1', ip: '10.0.0.1' }),
  });
  const reuses = () => events.filter((e) => e.type === 'reuse');
  const userOf = async (m: typeof m1, b: Browser, ctx: LoadContext) => {
    const { result, session } = await visit(m, b, (s) => s.userId, ctx);
    keep(session);
    return result;
  };

  // Login: the thief copied the anonymous cookie before the victim logged in (on the other process).
  const victim = new Browser();
  keep((await visit(m1, victim, (s) => s.set('cart', ['apple']), at(0))).session);
  const beforeLogin = copyOf(victim);
  keep((await visit(m2, victim, (s) => s.login('alice'), at(1))).session);
  // The successor never presented yet (the browser may not have the answer): nothing, in flight or later.
  expect(await userOf(m1, copyOf(beforeLogin), { now: T0 + MINUTE + 50 })).toBeUndefined();
  expect(await userOf(m2, copyOf(beforeLogin), at(1.5))).toBeUndefined();
  // The victim's browser presents the new cookie; a request sent before it had it arrives after: nothing.
  expect(await userOf(m1, victim, at(1.6))).toBe('alice');
  expect(await userOf(m2, copyOf(beforeLogin), { now: T0 + MINUTE + 9_000 })).toBeUndefined();
  expect(reuses()).toEqual([]);
  expect(await userOf(m2, beforeLogin, at(3, true))).toBeUndefined();
  expect(reuses()).toEqual([
    {
      type: 'reuse',
      at: T0 + 3 * MINUTE,
      userId: 'alice',
      retiredBy: 'login',
      retiredAgoMs: 2 * MINUTE,
      userAgent: 'ThiefBrowser/1',
      ip: '203.0.113.9',
    },
  ]);
  // The thief's fresh session is not alice's, and alice's goes on.
  expect(await userOf(m1, victim, at(4))).toBe('alice');

  // Regenerate of a logged-in session: a copy of it, before and after the successor was presented.
  const beforeRegenerate = copyOf(victim);
  keep((await visit(m1, victim, (s) => s.regenerate(), at(5))).session);
  expect(await userOf(m2, copyOf(beforeRegenerate), at(6, true))).toBeUndefined();
  expect(reuses()).toHaveLength(1);
  expect(await userOf(m2, victim, at(7))).toBe('alice');
  expect(await userOf(m1, beforeRegenerate, at(8, true))).toBeUndefined();
  expect(reuses().slice(1)).toEqual([
    expect.objectContaining({ userId: 'alice', retiredBy: 'regenerate', retiredAgoMs: 3 * MINUTE }),
  ]);

  // Logout: the thief's copy of the live cookie, presented after the victim logged out (no settle time).
  const beforeLogout = copyOf(victim);
  await visit(m2, victim, (s) => s.logout(), at(10));
  expect(victim.value()).toBeUndefined();
  expect(await userOf(m1, beforeLogout, { ...at(10, true), now: T0 + 10 * MINUTE + 1 })).toBeUndefined();
  expect(reuses().slice(2)).toEqual([
    expect.objectContaining({ userId: 'alice', retiredBy: 'logout', retiredAgoMs: 1 }),
  ]);

  // An anonymous session: regenerate (its successor marked in a record of its own), then destroy.
  const anon = new Browser();
  keep((await visit(m1, anon, (s) => s.set('cart', ['pear']), at(20))).session);
  const beforeAnonRegenerate = copyOf(anon);
  keep((await visit(m2, anon, (s) => s.regenerate(), at(21))).session);
  expect(
    (await visit(m1, copyOf(beforeAnonRegenerate), (s) => s.get('cart'), at(22))).result,
  ).toBeUndefined();
  expect(reuses()).toHaveLength(3);
  expect((await visit(m1, anon, (s) => s.get('cart'), at(23))).result).toEqual(['pear']);
  expect((await visit(m2, anon, (s) => s.get('cart'), at(23.5))).result).toEqual(['pear']);
  expect(await userOf(m2, beforeAnonRegenerate, at(24, true))).toBeUndefined();
  expect(reuses().slice(3)).toEqual([
    expect.objectContaining({ retiredBy: 'regenerate', retiredAgoMs: 3 * MINUTE, ip: '203.0.113.9' }),
  ]);
  expect(reuses()[3]).not.toHaveProperty('userId');
  const beforeDestroy = copyOf(anon);
  await visit(m1, anon, (s) => s.destroy(), at(25));
  expect((await visit(m2, beforeDestroy, (s) => s.get('cart'), at(26, true))).result).toBeUndefined();
  expect(reuses().slice(4)).toEqual([
    expect.objectContaining({ retiredBy: 'destroy', retiredAgoMs: MINUTE }),
  ]);

  // An aborted rotation: the regenerate's answer never reached the browser, which goes on with the old cookie.
  const bob = new Browser();
  keep((await visit(m1, bob, (s) => s.login('bob'), at(30))).session);
  const lost = await m2.load(bob.header(), at(31));
  lost.regenerate();
  await m2.commit(lost); // the Set-Cookie is dropped
  expect(await userOf(m1, copyOf(bob), at(32))).toBeUndefined();
  expect(await userOf(m2, copyOf(bob), at(40))).toBeUndefined();
  expect(reuses()).toHaveLength(5);

  // revokeSessions ends everything at once: a revoked cookie gets a fresh session and the event (its
  // not-before time says when), never a further revocation.
  const dave = new Browser();
  keep((await visit(m1, dave, (s) => s.login('dave'), at(50))).session);
  const daveCopy = copyOf(dave);
  expect(await m2.revokeSessions('dave', { now: T0 + 51 * MINUTE })).toBe(1);
  expect(await userOf(m1, daveCopy, at(52, true))).toBeUndefined();
  expect(reuses().slice(5)).toEqual([
    expect.objectContaining({ userId: 'dave', retiredBy: 'revoke', retiredAgoMs: MINUTE }),
  ]);

  // reuse: 'revoke': carol's phone and laptop; a copy of the laptop's cookie from before its regenerate.
  const r1 = createSessionManager<{ cart: string[] }>({ store, ...options, reuse: 'revoke' });
  const r2 = createSessionManager<{ cart: string[] }>({ store: other, ...options, reuse: 'revoke' });
  const laptop = new Browser();
  const phone = new Browser();
  keep((await visit(r1, laptop, (s) => s.login('carol'), at(60))).session);
  keep((await visit(r2, phone, (s) => s.login('carol'), at(60))).session);
  const laptopBefore = copyOf(laptop);
  keep((await visit(r2, laptop, (s) => s.regenerate(), at(61))).session);
  expect(await userOf(r1, laptop, at(62))).toBe('carol');
  expect(await userOf(r2, phone, at(62))).toBe('carol');
  expect(await userOf(r1, laptopBefore, at(63, true))).toBeUndefined();
  expect(reuses().slice(6)).toEqual([
    expect.objectContaining({ userId: 'carol', retiredBy: 'regenerate', retiredAgoMs: 2 * MINUTE }),
  ]);
  expect(events.filter((e) => e.type === 'revoked').at(-1)).toMatchObject({ userId: 'carol', detail: '2' });
  // The victim's own cookies, ended by that revocation: each raises a revocation reuse, and no further revoke.
  expect(await userOf(r2, laptop, at(64))).toBeUndefined();
  expect(await userOf(r1, phone, at(64))).toBeUndefined();
  expect(
    reuses()
      .slice(7)
      .map((e) => [e.userId, e.retiredBy]),
  ).toEqual([
    ['carol', 'revoke'],
    ['carol', 'revoke'],
  ]);
  // The laptop's cookie from before, presented again: refused, no second revoke (its rotation predates it).
  const revokes = events.filter((e) => e.type === 'revoked').length;
  expect(await userOf(r2, copyOf(laptopBefore), at(65, true))).toBeUndefined();
  expect(reuses()).toHaveLength(9);
  expect(events.filter((e) => e.type === 'revoked')).toHaveLength(revokes);
  // A logout reuse never revokes, even with 'revoke': erin's other device stays logged in.
  const erin = new Browser();
  const erinPhone = new Browser();
  keep((await visit(r1, erin, (s) => s.login('erin'), at(70))).session);
  keep((await visit(r1, erinPhone, (s) => s.login('erin'), at(70))).session);
  const erinCopy = copyOf(erin);
  await visit(r2, erin, (s) => s.logout(), at(71));
  expect(await userOf(r1, erinCopy, at(72, true))).toBeUndefined();
  expect(reuses().slice(9)).toEqual([expect.objectContaining({ userId: 'erin', retiredBy: 'logout' })]);
  expect(events.filter((e) => e.type === 'revoked')).toHaveLength(revokes);
  expect(await userOf(r2, erinPhone, at(73))).toBe('erin');

  // No event carries a key (a sealed cookie's id never leaves it), nor a ref.
  const text = JSON.stringify(reuses());
  expect(keys.size).toBeGreaterThanOrEqual(8);
  for (const key of keys) expect(text).not.toContain(key);
  for (const event of reuses()) expect(event.ref).toBeUndefined();
}
