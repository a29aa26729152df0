/**
 * Test helpers of the session core: a Map store implementing the store contract that counts its calls
 * and injects faults (throws, hangs, slow answers), a tiny cookie-keeping browser, and a request helper.
 */
import { expect } from 'vitest';
import { parseSetCookie } from '../../src/cookie/index.js';
import type {
  CommitOptions,
  LoadContext,
  RequestOptions,
  SessionManager,
} from '../../src/session/manager.js';
import { createSessionManager } from '../../src/session/manager.js';
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
