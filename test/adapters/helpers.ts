/**
 * Helpers of the adapter tests: a store wrapper that records, slows or breaks the real store, a minimal
 * cookie jar for a test client (name=value by name; a Max-Age=0 line removes), a socket client, and the
 * scenarios every adapter must pass alike, written against an adapter-neutral client ({@link AdapterCall}).
 * The shared-state scenarios and the fault load further down run against the app of
 * `test/fixtures/app-server.mjs`, on one process or several over one store ({@link SharedApp}).
 */
import { createHash } from 'node:crypto';
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign } from 'cookie-signature';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { SessionStoreError } from '../../src/session/errors.js';
import type { SessionManager } from '../../src/session/manager.js';
import type { SessionEvent } from '../../src/session/options.js';
import type { SessionRecord, SessionStore } from '../../src/session/store.js';
import { createMemoryStore, type MemoryStore } from '../../src/stores/memory.js';

export interface ProbeStore extends SessionStore {
  /** When each successful `set` finished (performance.now()). */
  setsDoneAt: number[];
  /** Delay every `set` by this many ms (to show the response waits for the write). */
  setDelay: number;
  /** 'up': pass through; 'throw': every call rejects; 'hang': every call never settles. */
  mode: 'up' | 'throw' | 'hang';
  /**
   * The next `sets` calls of `set` pass, the one after rejects (applied first when `lands`: a write whose answer
   * was lost), and the switch is off again.
   */
  failAfter: { sets: number; lands: boolean } | undefined;
}

/** Wraps a real store with switches for slowness and failure. */
export function probeStore(inner: MemoryStore): ProbeStore {
  const gate = async <T>(call: () => Promise<T>): Promise<T> => {
    if (probe.mode === 'throw')
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379 (the test store is down)');
    if (probe.mode === 'hang') return new Promise<T>(() => {});
    return call();
  };
  const probe: ProbeStore = {
    setsDoneAt: [],
    setDelay: 0,
    mode: 'up',
    failAfter: undefined,
    get: (key) => gate(() => inner.get(key)),
    set: (key: string, record: SessionRecord, expected: number | null, ttlMs: number) =>
      gate(async () => {
        if (probe.setDelay > 0) await new Promise((resolve) => setTimeout(resolve, probe.setDelay));
        const fail = probe.failAfter;
        if (fail !== undefined && fail.sets-- <= 0) {
          probe.failAfter = undefined;
          if (fail.lands) await inner.set(key, record, expected, ttlMs);
          throw new Error('read ECONNRESET (the test store failed mid-commit)');
        }
        const ok = await inner.set(key, record, expected, ttlMs);
        if (ok) probe.setsDoneAt.push(performance.now());
        return ok;
      }),
    delete: (key) => gate(() => inner.delete(key)),
    listByUser: (userId) => gate(() => inner.listByUser(userId)),
    deleteByUser: (userId, options) => gate(() => inner.deleteByUser(userId, options)),
    count: () => inner.count(),
  };
  return probe;
}

/** A test client's cookies: applies Set-Cookie lines, renders the Cookie header. */
export class TinyJar {
  readonly cookies = new Map<string, string>();
  apply(lines: readonly string[]): void {
    for (const line of lines) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/;\s*max-age=0/i.test(line) || /;\s*expires=thu, 01 jan 1970/i.test(line))
        this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  clone(): TinyJar {
    const copy = new TinyJar();
    for (const [name, value] of this.cookies) copy.cookies.set(name, value);
    return copy;
  }
}

/** A well-formed but unknown session id cookie under every default name, and the former ones (issue 18). */
export const FOREIGN_COOKIE = ['__Host-Http-sid', '__Http-sid', '__Host-sid', '__Secure-sid', 'sid']
  .map((n) => `${n}=${'A'.repeat(43)}`)
  .join('; ');

/** An answer as the shared scenarios read it, whichever adapter gave it. */
export interface AdapterAnswer {
  status: number;
  /** A response header by its lower-case name; undefined when absent. */
  header(name: string): string | undefined;
  setCookie: string[];
  body: string;
  /** performance.now() when the client had the answer (its head, over a socket). */
  receivedAt: number;
  /** ms from sending the request to having the answer. */
  elapsed: number;
}

/** A test client: sends a request (with the jar's cookies, and applies its Set-Cookie lines to the jar). */
export type AdapterCall = (
  method: string,
  path: string,
  options?: { jar?: TinyJar; headers?: Record<string, string>; signal?: AbortSignal },
) => Promise<AdapterAnswer>;

/** An adapter under test: its client, the real store behind the manager, the probe around it, its errors. */
export interface AdapterSubject {
  call: AdapterCall;
  inner: MemoryStore;
  store: ProbeStore;
  /** What the adapter's `onError` was told. */
  errors: unknown[];
}

/** What differs between adapters in {@link loginLogoutScenario}. */
export interface LoginLogoutOptions {
  /** The login's Set-Cookie line. @default an unsigned Teller id under `sid`, HttpOnly */
  cookie?: RegExp;
  /**
   * The app logs in with `session.login(user)`, so the user index lists the session; false for an app that keeps
   * its user in the session data (express-session's way): then the store holds that session and nothing else.
   * @default true
   */
  userIndex?: boolean;
}

/**
 * First visit -> login -> read -> concurrent writes -> logout -> replay the old cookie. `location` is the
 * login redirect's Location as the client sees it. Returns the login answer (the record was written
 * slowly, 150 ms) for the adapter's own checks.
 */
export async function loginLogoutScenario(
  { call, inner, store, errors }: AdapterSubject,
  location: string,
  options: LoginLogoutOptions = {},
): Promise<AdapterAnswer> {
  const { cookie = /^sid=[A-Za-z0-9_-]{43}; .*HttpOnly/i, userIndex = true } = options;
  /** The user's stored sessions: by the user index, or (an app that binds no user) all the store holds. */
  const sessionsOf = async (user: string) => {
    if (userIndex) return (await inner.listByUser(user)).length;
    // Every record held that is a session (not what a retired id leaves: tombstones, pointers, logouts).
    const page = await inner.scan!(null, 1000);
    return page.entries.filter(({ record }) => record.expiresAt > 0 && record.retired === undefined).length;
  };
  const jar = new TinyJar();

  // First visit: a session exists but nothing is stored and no cookie is set.
  const first = await call('GET', '/', { jar });
  expect(first.status).toBe(200);
  expect(JSON.parse(first.body)).toMatchObject({ user: null, n: 0 });
  expect(first.setCookie).toEqual([]);
  expect(first.header('vary')).toBe('Cookie');
  expect(first.header('cache-control')).toBeUndefined();
  expect(await inner.count()).toBe(0);

  // Login: a redirect that carries the cookie; the record is stored before the client sees the answer.
  store.setDelay = 150;
  const login = await call('POST', '/login?user=alice', { jar });
  store.setDelay = 0;
  expect(login.status).toBe(303);
  expect(login.header('location')).toBe(location);
  expect(login.setCookie).toHaveLength(1);
  expect(login.setCookie[0]).toMatch(cookie);
  expect(login.header('cache-control')).toBe('no-store');
  expect(store.setsDoneAt.at(-1)).toBeLessThan(login.receivedAt);
  expect(await sessionsOf('alice')).toBe(1);
  const loggedInCookie = jar.clone();

  // Read: the user is there; a read-only request sets no cookie.
  const read = await call('GET', '/', { jar });
  expect(JSON.parse(read.body)).toMatchObject({ user: 'alice' });
  expect(read.setCookie).toEqual([]);

  // 50 concurrent writes of one session, all at once: 25 distinct keys and 25 increments, none lost.
  const writes = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      call('POST', i % 2 === 0 ? `/add?key=k${i / 2}` : '/incr', { jar: jar.clone() }),
    ),
  );
  expect(writes.map((a) => a.status)).toEqual(Array(50).fill(200));
  const after = JSON.parse((await call('GET', '/', { jar })).body) as { n: number; data: object };
  expect(after.n).toBe(25);
  for (let i = 0; i < 25; i++) expect(after.data).toHaveProperty(`k${i}`, true);

  // Logout: the record is deleted and the cookie cleared.
  const logout = await call('POST', '/logout', { jar });
  expect(logout.status).toBe(303);
  expect(logout.setCookie.some((line) => /max-age=0|expires=thu, 01 jan 1970/i.test(line))).toBe(true);
  expect(await sessionsOf('alice')).toBe(0);
  expect(jar.cookies.size).toBe(0);

  // Replaying the old cookie gets a fresh anonymous session, not the old one.
  const replay = await call('GET', '/', { jar: loggedInCookie });
  expect(replay.status).toBe(200);
  expect(JSON.parse(replay.body)).toMatchObject({ user: null, n: 0, data: {} });
  expect(errors).toEqual([]);
  return login;
}

/**
 * A slow (7 s) and a hanging request of one session beside fast ones (issue 16): the fast ones answer 200
 * within the lock wait (`lockTimeout`) plus their own time, never 503; the slow one's write still lands.
 * The app's routes: `/slow?ms=N` reads `n`, waits N ms and adds one to it; `/hang` reads the session and
 * never answers (the client gives up).
 */
export async function slowSiblingScenario(
  { call, errors }: Pick<AdapterSubject, 'call' | 'errors'>,
  lockTimeout: number,
): Promise<void> {
  const jar = new TinyJar();
  await call('POST', '/login?user=dana', { jar });
  errors.length = 0;
  const slow = call('POST', '/slow?ms=7000', { jar: jar.clone() });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const fast = await call('GET', '/', { jar });
  expect(fast.status).toBe(200);
  expect(JSON.parse(fast.body)).toMatchObject({ user: 'dana' });
  expect(fast.elapsed).toBeLessThan(lockTimeout + 500);
  const incr = await call('POST', '/incr', { jar });
  expect(incr.status).toBe(200);

  const gone = new AbortController();
  const hanging = call('GET', '/hang', { jar: jar.clone(), signal: gone.signal }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (let i = 0; i < 3; i++) {
    const next = await call('GET', '/', { jar });
    expect(next.status).toBe(200);
    expect(next.elapsed).toBeLessThan(lockTimeout + 500);
  }
  gone.abort();
  await hanging;

  const slowAnswer = await slow;
  expect(slowAnswer.status).toBe(200);
  // The slow request read n before the fast increment: its own increment merges onto the newest value.
  const after = await call('GET', '/', { jar });
  expect(JSON.parse(after.body)).toMatchObject({ user: 'dana', n: 2 });
  expect(errors).toEqual([]);
}

/** The adapters' own error answer: the status's reason phrase in plain text, never cached. */
export function expectPlainError(answer: AdapterAnswer, status: number): void {
  expect(answer.status).toBe(status);
  const reasons: Record<number, string> = { 429: 'Too Many Requests', 503: 'Service Unavailable' };
  expect(answer.body).toBe(`${reasons[status] ?? 'Internal Server Error'}\n`);
  expect(answer.header('content-type')).toMatch(/^text\/plain/);
  expect(answer.header('cache-control')).toBe('no-store');
}

/** An error answer that names neither Teller's internals nor the store (no stack line, no address, no cause). */
export function expectNoDetail(answer: AdapterAnswer): void {
  expect(answer.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|\bat\s|\[teller\]|SessionStoreError|\.ts:\d/);
}

/**
 * With the store down (`mode`), a read and a write answer 503 within 2 s, without stack or cause (as
 * `expectUnavailable` checks; by default the adapters' plain text), and `onError` hears of each as a
 * SessionStoreError. Leaves the store up again. The read carries `foreignCookie`, a well-formed cookie naming
 * no session (so the store is read): one signed with the app's secret for an app that signs its cookies.
 */
export async function storeDownScenario(
  { call, store, errors }: Pick<AdapterSubject, 'call' | 'store' | 'errors'>,
  mode: 'throw' | 'hang',
  expectUnavailable: (answer: AdapterAnswer) => void = (answer) => expectPlainError(answer, 503),
  foreignCookie = FOREIGN_COOKIE,
): Promise<void> {
  store.mode = mode;
  errors.length = 0;
  try {
    const read = await call('GET', '/', { headers: { cookie: foreignCookie } });
    expect(read.status).toBe(503);
    expect(read.elapsed).toBeLessThan(2_000);
    expectUnavailable(read);
    expectNoDetail(read);
    expect(read.setCookie).toEqual([]);
    const write = await call('POST', '/add');
    expect(write.status).toBe(503);
    expect(write.elapsed).toBeLessThan(2_000);
    expectUnavailable(write);
    expectNoDetail(write);
    expect(write.setCookie).toEqual([]);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.every((e) => e instanceof SessionStoreError)).toBe(true);
  } finally {
    store.mode = 'up';
  }
}

/** A server of one adapter's app for {@link adapterScenarios}, listening on 127.0.0.1. */
export interface ScenarioServer {
  port: number;
  close(): Promise<unknown>;
}

/**
 * Makes one adapter's app, on `manager`, its errors told to `onError`. Its routes: `GET /` answers JSON
 * `{ user, n, data }` (the user id or null, the session's `n` or 0, its data); `POST /login?user=x` logs in
 * and redirects (303) to `/`; `POST /add?key=x` sets `x` to true; `POST /incr` adds one to `n` with
 * `session.update`; `POST /logout` logs out and redirects (303) to `/`; `GET /throw` sets `lost` and then
 * throws an Error (whose message must reach no client) for the framework's own error path. And two passive
 * routes, set up with `{ passive: true }` the way the framework sets up a route's own request options:
 * `GET /passive` answers as `GET /` does, `POST /passive/add?key=x` as `POST /add` does.
 */
export type ScenarioApp = (
  manager: SessionManager,
  onError: (error: unknown) => void,
) => Promise<ScenarioServer>;

export interface ScenarioOptions {
  /** The login redirect's Location as the client sees it. @default '/' */
  location?: (port: number) => string;
  /** Checks a 503 of a store that is down, as this framework answers it. @default the adapters' plain text */
  unavailable?: (answer: AdapterAnswer) => void;
  /** Checks the framework's own answer to a handler that throws. @default the adapters' plain text 500 */
  thrown?: (answer: AdapterAnswer) => void;
  /** Checks a 429 of the brute-force policy, as this framework answers it. @default the adapters' plain text */
  limited?: (answer: AdapterAnswer) => void;
}

/**
 * A well-formed session cookie under every default name (and the former ones) whose id (43 characters from
 * `seed`) names no session.
 */
export function unknownCookie(seed: number): string {
  const id = createHash('sha256').update(String(seed)).digest('base64url');
  return ['__Host-Http-sid', '__Http-sid', '__Host-sid', '__Secure-sid', 'sid']
    .map((n) => `${n}=${id}`)
    .join('; ');
}

/**
 * The session cookie's rename (issue 18), on an app whose manager makes the cookie Secure (`cookie.secure:
 * true`), over `store`: a session an earlier version logged in under `__Host-sid` keeps its user and data
 * through the adapter, and its first answer moves the cookie (sets `__Host-Http-sid`, Secure and HttpOnly,
 * with the same id, and deletes `__Host-sid`); from then on the browser sends the new name alone, and nothing
 * more is set until a write; a logout clears the new name.
 */
export async function renamedCookieScenario(call: AdapterCall, store: SessionStore): Promise<void> {
  const earlier = createSessionManager({ store, cookie: { name: '__Host-sid', secure: true } });
  const s = await earlier.load(undefined);
  s.login('heidi');
  s.set('cart', true);
  const [line] = (await earlier.commit(s)).setCookie;
  const id = /^__Host-sid=([A-Za-z0-9_-]{43});/.exec(line!)![1]!;

  const jar = new TinyJar();
  jar.apply([`__Host-sid=${id}; Path=/; Secure; HttpOnly`]);
  const moved = await call('GET', '/', { jar });
  expect(moved.status).toBe(200);
  expect(JSON.parse(moved.body)).toMatchObject({ user: 'heidi', data: { cart: true } });
  expect(moved.setCookie).toHaveLength(2);
  expect(moved.setCookie[0]).toMatch(
    new RegExp(`^__Host-Http-sid=${id}; Path=/; HttpOnly; Secure; SameSite=Lax$`),
  );
  expect(moved.setCookie[1]).toMatch(
    /^__Host-sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure/,
  );
  expect([...jar.cookies.keys()]).toEqual(['__Host-Http-sid']);

  const read = await call('GET', '/', { jar });
  expect(JSON.parse(read.body)).toMatchObject({ user: 'heidi', data: { cart: true } });
  expect(read.setCookie).toEqual([]);
  expect((await call('POST', '/incr', { jar })).status).toBe(200);
  expect(JSON.parse((await call('GET', '/', { jar })).body)).toMatchObject({ user: 'heidi', n: 1 });
  const logout = await call('POST', '/logout', { jar });
  expect(logout.setCookie).toHaveLength(1);
  expect(logout.setCookie[0]).toMatch(/^__Host-Http-sid=; Max-Age=0/);
  expect(jar.cookies.size).toBe(0);
  await earlier.close();
}

/**
 * Brute-force policy '429' with `threshold` 3 (the manager's `bruteForce`): a client's third distinct unknown
 * id within the window is answered 429 with Retry-After, plain (as `limited` checks), no cookie, no detail, and
 * one `brute-force` event names its address; the same stale cookie sent again counts once; a logged-in session
 * of the same address and a request without a cookie are still served. And `clearSiteData: { logout: true }`:
 * the logout answer carries `Clear-Site-Data: "cookies", "storage"`, a read does not.
 */
export async function bruteForceScenario(
  call: AdapterCall,
  events: SessionEvent[],
  limited: (answer: AdapterAnswer) => void = (answer) => expectPlainError(answer, 429),
): Promise<void> {
  const jar = new TinyJar();
  expect((await call('POST', '/login?user=grace', { jar })).status).toBe(303);
  // A browser repeating its one stale cookie is not guessing: it counts once.
  for (let i = 0; i < 5; i++) {
    expect((await call('GET', '/', { headers: { cookie: unknownCookie(0) } })).status).toBe(200);
  }
  expect((await call('GET', '/', { headers: { cookie: unknownCookie(1) } })).status).toBe(200);
  expect(events.filter((e) => e.type === 'brute-force')).toEqual([]);
  const refused = await call('GET', '/', { headers: { cookie: unknownCookie(2) } });
  limited(refused);
  expect(refused.status).toBe(429);
  const retryAfter = Number(refused.header('retry-after'));
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `${retryAfter}`).toBe(true);
  expect(refused.setCookie).toEqual([]);
  expectNoDetail(refused);
  expect((await call('GET', '/', { headers: { cookie: unknownCookie(3) } })).status).toBe(429);
  const bursts = events.filter((e) => e.type === 'brute-force');
  expect(bursts).toHaveLength(1);
  expect(bursts[0]!.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  // Never a live session, never a first visit.
  const mine = await call('GET', '/', { jar });
  expect(mine.status).toBe(200);
  expect(JSON.parse(mine.body)).toMatchObject({ user: 'grace' });
  expect(mine.header('clear-site-data')).toBeUndefined();
  expect((await call('GET', '/')).status).toBe(200);
  const logout = await call('POST', '/logout', { jar });
  expect(logout.status).toBe(303);
  expect(logout.header('clear-site-data')).toBe('"cookies", "storage"');
}

/**
 * A login whose store fails after the new record is written, while the old id is retired (the retire call
 * failing outright, or landing with its answer lost): the answer is a 503 (as `expectUnavailable` checks) that
 * still carries the new id's cookie, so the browser is logged in with the cart it had, never stranded on an id
 * that may lead nowhere; the old id never gives the logged-in session. `onError` hears a SessionStoreError.
 */
export async function rotationFailureScenario(
  { call, store, errors }: Pick<AdapterSubject, 'call' | 'store' | 'errors'>,
  expectUnavailable: (answer: AdapterAnswer) => void = (answer) => expectPlainError(answer, 503),
): Promise<void> {
  for (const lands of [false, true]) {
    errors.length = 0;
    const jar = new TinyJar();
    expect((await call('POST', '/add?key=cart', { jar })).status).toBe(200);
    const before = jar.clone();
    store.failAfter = { sets: 1, lands };
    const login = await call('POST', '/login?user=ivy', { jar });
    expect(store.failAfter).toBeUndefined();
    expect(login.status, `lands: ${lands}`).toBe(503);
    expectUnavailable(login);
    expectNoDetail(login);
    expect(login.setCookie).toHaveLength(1);
    expect(login.setCookie[0]).toMatch(/HttpOnly/i);
    expect(jar.header()).not.toBe(before.header());
    const after = JSON.parse((await call('GET', '/', { jar })).body) as { user: string; data: object };
    expect(after.user).toBe('ivy');
    expect(after.data).toHaveProperty('cart', true);
    const old = JSON.parse((await call('GET', '/', { jar: before })).body) as { user: string | null };
    expect(old.user).toBeNull();
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.every((e) => e instanceof SessionStoreError)).toBe(true);
  }
}

/**
 * Passive routes (`{ passive: true }`), on a manager whose clock `setMinute` moves: a session polled every
 * minute through `GET /passive`, or written every minute through `POST /passive/add`, ends at its idle timeout
 * (30 minutes) and its answers carry no cookie; the same polls through `GET /` keep it alive (so this could
 * fail); a passive write lands (the next passive read and an ordinary `GET /` read it).
 */
export async function passiveRouteScenario(
  call: AdapterCall,
  setMinute: (minute: number) => void,
): Promise<void> {
  for (const kind of ['read', 'write', 'ordinary'] as const) {
    setMinute(0);
    const jar = new TinyJar();
    expect((await call('POST', '/login?user=polly', { jar })).status).toBe(303);
    for (let minute = 1; minute <= 31; minute++) {
      setMinute(minute);
      const poll =
        kind === 'read'
          ? await call('GET', '/passive', { jar })
          : kind === 'write'
            ? await call('POST', `/passive/add?key=k${minute}`, { jar })
            : await call('GET', '/', { jar });
      expect(poll.status, `${kind} at minute ${minute}`).toBe(200);
      const alive = kind === 'ordinary' || minute < 30;
      if (alive && kind !== 'ordinary') expect(poll.setCookie, `${kind} at minute ${minute}`).toEqual([]);
      const read = await call('GET', '/passive', { jar });
      expect(read.setCookie).toEqual([]);
      const view = JSON.parse(read.body) as { user: string | null; data: Record<string, unknown> };
      expect(view.user, `${kind} at minute ${minute}`).toBe(alive ? 'polly' : null);
      if (alive && kind === 'write') expect(view.data).toHaveProperty(`k${minute}`, true);
    }
  }
  // A passive write lands: an ordinary read has it.
  setMinute(0);
  const jar = new TinyJar();
  await call('POST', '/login?user=polly', { jar });
  setMinute(1);
  expect((await call('POST', '/passive/add?key=landed', { jar })).setCookie).toEqual([]);
  setMinute(2);
  const read = JSON.parse((await call('GET', '/', { jar })).body) as { user: string; data: object };
  expect(read).toMatchObject({ user: 'polly', data: { landed: true } });
}

/**
 * A sealed session split across cookies (issue 19), through the adapter: `POST /add` with long keys grows it
 * from one cookie to two (`sid`, `sid.1`), every part is sent back and read, a login re-seals both parts, and
 * a logout deletes both in the same answer.
 */
export async function sealedSplitScenario(call: AdapterCall): Promise<void> {
  const jar = new TinyJar();
  const key = (i: number) => `k${i}-${createHash('sha256').update(String(i)).digest('hex').repeat(20)}`;
  expect((await call('POST', `/add?key=${key(1)}`, { jar })).status).toBeLessThan(400);
  expect([...jar.cookies.keys()]).toEqual(['sid']);
  for (let i = 2; i <= 4; i++)
    expect((await call('POST', `/add?key=${key(i)}`, { jar })).status).toBeLessThan(400);
  expect([...jar.cookies.keys()].sort()).toEqual(['sid', 'sid.1']);
  const read = bodyOf<{ data: Record<string, unknown> }>(await call('GET', '/', { jar }));
  expect(Object.keys(read.data).sort()).toEqual([1, 2, 3, 4].map(key).sort());
  const login = await call('POST', '/login?user=sam', { jar });
  expect(login.setCookie.map((line) => line.split('=')[0]).sort()).toEqual(['sid', 'sid.1']);
  expect(bodyOf<{ user: string; data: object }>(await call('GET', '/', { jar }))).toMatchObject({
    user: 'sam',
  });
  const logout = await call('POST', '/logout', { jar });
  expect(logout.setCookie.map((line) => line.split('=')[0]).sort()).toEqual(['sid', 'sid.1']);
  expect(jar.cookies.size).toBe(0);
}

/**
 * THE adapter scenario suite, run by every adapter's test file with its own app ({@link ScenarioApp}) over
 * real HTTP on loopback: first visit, login, read, 50 concurrent writes, logout, replay of the old cookie
 * ({@link loginLogoutScenario}); a store that is down (failing, or hanging past its timeout) -> 503
 * ({@link storeDownScenario}); a handler that throws -> the framework's own error path, nothing persisted.
 */
export function adapterScenarios(name: string, start: ScenarioApp, options: ScenarioOptions = {}): void {
  const location = options.location ?? (() => '/');
  const thrown = options.thrown ?? ((answer: AdapterAnswer) => expectPlainError(answer, 500));
  describe(`${name}: the adapter scenarios, over HTTP on 127.0.0.1`, () => {
    const inner = createMemoryStore({ cleanupInterval: 0 });
    const store = probeStore(inner);
    const manager = createSessionManager({ store });
    const errors: unknown[] = [];
    let server: ScenarioServer | undefined;
    const call = httpCaller(() => server?.port ?? 0);
    beforeAll(async () => {
      server = await start(manager, (error) => errors.push(error));
    });
    afterAll(async () => {
      await server?.close();
      await manager.close();
    });

    it('first visit -> login -> read -> 50 concurrent writes -> logout -> replay the old cookie', async () => {
      errors.length = 0;
      const login = await loginLogoutScenario({ call, inner, store, errors }, location(server!.port));
      expect(login.elapsed).toBeGreaterThanOrEqual(140);
    });

    for (const mode of ['throw', 'hang'] as const) {
      it(`a store that is down (${mode}) answers 503 within 2 s, without stack or cause`, async () => {
        await storeDownScenario({ call, store, errors }, mode, options.unavailable);
        expect((await call('GET', '/')).status).toBe(200);
      });
    }

    it('a login whose store fails while the old id is retired answers 503 with the new id, losing nothing', async () => {
      await rotationFailureScenario({ call, store, errors }, options.unavailable);
    });

    describe('with bruteForce { policy: 429, threshold: 3 } and clearSiteData { logout: true }', () => {
      const events: SessionEvent[] = [];
      const limitedManager = createSessionManager({
        store: createMemoryStore({ cleanupInterval: 0 }),
        bruteForce: { policy: '429', threshold: 3 },
        clearSiteData: { logout: true },
        onEvent: (event) => events.push(event),
      });
      let limitedServer: ScenarioServer | undefined;
      beforeAll(async () => {
        limitedServer = await start(limitedManager, () => {});
      });
      afterAll(async () => {
        await limitedServer?.close();
        await limitedManager.close();
      });

      it('answers a burst of unknown ids 429 with Retry-After, serves live sessions, sends Clear-Site-Data at logout', async () => {
        await bruteForceScenario(
          httpCaller(() => limitedServer?.port ?? 0),
          events,
          options.limited,
        );
      });
    });

    describe('passive routes ({ passive: true }) on a fake clock', () => {
      let now = Date.now();
      const start0 = now;
      const clocked = createSessionManager({
        store: createMemoryStore({ cleanupInterval: 0 }),
        clock: () => now,
      });
      let clockedServer: ScenarioServer | undefined;
      beforeAll(async () => {
        clockedServer = await start(clocked, () => {});
      });
      afterAll(async () => {
        await clockedServer?.close();
        await clocked.close();
      });

      it('a session polled every minute, read or written, ends at its idle timeout; its writes land', async () => {
        await passiveRouteScenario(
          httpCaller(() => clockedServer?.port ?? 0),
          (minute) => {
            now = start0 + minute * 60_000;
          },
        );
      });
    });

    describe('with cookie { secure: true } (the cookie __Host-Http-sid)', () => {
      const renamedStore = createMemoryStore({ cleanupInterval: 0 });
      const renamedManager = createSessionManager({ store: renamedStore, cookie: { secure: true } });
      let renamedServer: ScenarioServer | undefined;
      beforeAll(async () => {
        renamedServer = await start(renamedManager, (error) => errors.push(error));
      });
      afterAll(async () => {
        await renamedServer?.close();
        await renamedManager.close();
      });

      it('a session of the former cookie name __Host-sid keeps its user and moves to __Host-Http-sid', async () => {
        errors.length = 0;
        await renamedCookieScenario(
          httpCaller(() => renamedServer?.port ?? 0),
          renamedStore,
        );
        expect(errors).toEqual([]);
      });
    });

    describe('sealed sessions', () => {
      const sealedManager = createSessionManager({
        seal: { secrets: ['a-sealing-secret-of-32-bytes-or-more'] },
      });
      let sealedServer: ScenarioServer | undefined;
      beforeAll(async () => {
        sealedServer = await start(sealedManager, (error) => errors.push(error));
      });
      afterAll(async () => {
        await sealedServer?.close();
        await sealedManager.close();
      });

      it('a session past 4 KB travels in two cookies, every part sent and read; logout deletes both', async () => {
        errors.length = 0;
        await sealedSplitScenario(httpCaller(() => sealedServer?.port ?? 0));
        expect(errors).toEqual([]);
      });
    });

    it("a handler that throws takes the framework's own error path, and nothing of it persists", async () => {
      errors.length = 0;
      const before = await inner.count();
      const fresh = await call('GET', '/throw');
      expect(fresh.status).toBe(500);
      thrown(fresh);
      expect(fresh.setCookie).toEqual([]);
      expect(await inner.count()).toBe(before);
      // A logged-in session keeps what it had: the failed request's write is dropped.
      const jar = new TinyJar();
      await call('POST', '/login?user=frank', { jar });
      const failed = await call('GET', '/throw', { jar });
      expect(failed.status).toBe(500);
      expect(failed.setCookie).toEqual([]);
      const read = JSON.parse((await call('GET', '/', { jar })).body) as { user: string; data: object };
      expect(read.user).toBe('frank');
      expect(read.data).not.toHaveProperty('lost');
      expect(errors.every((e) => !(e instanceof SessionStoreError))).toBe(true);
    });
  });
}

/** GET `path` answers `status` with `body` and no cookie, and the store's record count is unchanged. */
export async function expectAnswerPersistingNothing(
  { call, inner }: Pick<AdapterSubject, 'call' | 'inner'>,
  path: string,
  status: number,
  body: string,
): Promise<void> {
  const before = await inner.count();
  const answer = await call('GET', path);
  expect(answer.status).toBe(status);
  expect(answer.body).toBe(body);
  expect(answer.setCookie).toEqual([]);
  expect(await inner.count()).toBe(before);
  // The adapter's own error answers are never cached.
  if (/^(Internal Server Error|Conflict|Service Unavailable)\n$/.test(body)) {
    expect(answer.header('cache-control')).toBe('no-store');
  }
}

/** Behind a trusted proxy, the left-most X-Forwarded-For and the User-Agent are what the session records. */
export async function forwardedClientScenario(
  call: AdapterCall,
  manager: Pick<SessionManager, 'listSessions'>,
): Promise<void> {
  const jar = new TinyJar();
  await call('POST', '/login?user=bob', {
    jar,
    headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.1', 'user-agent': 'TestAgent/1.0' },
  });
  const list = await manager.listSessions('bob');
  expect(list).toHaveLength(1);
  expect(list[0]).toMatchObject({ ip: '203.0.113.9', userAgent: 'TestAgent/1.0' });
}

/** An answer over a socket, with its headers as node:http gives them. */
export interface HttpAnswer extends AdapterAnswer {
  headers: IncomingHttpHeaders;
}

/** Sends one request to 127.0.0.1:`port` with the jar's cookies; applies the answer's Set-Cookie to the jar. */
export function httpCall(
  port: number,
  method: string,
  path: string,
  options: { jar?: TinyJar; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<HttpAnswer> {
  const started = performance.now();
  const headers: Record<string, string> = { ...options.headers };
  const cookie = options.jar?.header();
  if (cookie !== undefined) headers.cookie = cookie;
  return new Promise((resolve, reject) => {
    const target = { host: '127.0.0.1', port, method, path, headers, signal: options.signal };
    const req = httpRequest(target, (res) => {
      const receivedAt = performance.now();
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const setCookie = res.headers['set-cookie'] ?? [];
        options.jar?.apply(setCookie);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          header: (name) => {
            const value = res.headers[name];
            return Array.isArray(value) ? value.join(', ') : value;
          },
          setCookie,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt,
          elapsed: performance.now() - started,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The adapter-neutral client of the shared scenarios, for the port a server listens on once started. */
export const httpCaller =
  (port: () => number): AdapterCall =>
  (method, path, options) =>
    httpCall(port(), method, path, options);

/**
 * The client address of each `Request` a fetch-style app gets on node:http (@hono/node-server's listener passes
 * `{ incoming }` beside it), for the fetch and Hono adapters' `clientIp` option.
 */
export function socketAddresses(): {
  note(request: Request, env: { incoming: { socket: IncomingMessage['socket'] } }): void;
  clientIp(request: Request): string | undefined;
} {
  const ips = new WeakMap<Request, string>();
  return {
    note(request, env) {
      const ip = env.incoming.socket.remoteAddress;
      if (ip !== undefined) ips.set(request, ip);
    },
    clientIp: (request) => ips.get(request),
  };
}

/** Starts `server` on an ephemeral loopback port and returns the port. */
export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Stops `server` and waits until it is closed. */
export function close(server: Server): Promise<unknown> {
  return new Promise((resolve) => server.close(resolve));
}

/**
 * The app of `test/fixtures/app-server.mjs` run by one or more processes over one store: `processes` reach one
 * process each, `call` sends each request to the next process in turn. With one process, the scenarios below
 * say what a single process does; with several, that they do exactly the same across processes.
 */
export interface SharedApp {
  processes: AdapterCall[];
  call: AdapterCall;
}

/** A client sending each request to the next of `processes` in turn. */
export function roundRobin(processes: AdapterCall[]): AdapterCall {
  let next = 0;
  return (method, path, options) => {
    const target = processes[next++ % processes.length] as AdapterCall;
    return target(method, path, options);
  };
}

/** What GET /session of the app answers. */
export interface SessionView {
  pid: number;
  user: string | null;
  cart: string[];
  balance: number | null;
  keys: string[];
}

/** The JSON body of an answer that must be `status`. */
export function bodyOf<T = Record<string, unknown>>(answer: AdapterAnswer, status = 200): T {
  expect(answer.status, answer.body).toBe(status);
  return JSON.parse(answer.body) as T;
}

/** The session as each process sees it for a copy of `jar` (the jar itself is left as it is). */
export async function viewsOnEach({ processes }: SharedApp, jar: TinyJar): Promise<SessionView[]> {
  const answers = await Promise.all(processes.map((p) => p('GET', '/session', { jar: jar.clone() })));
  return answers.map((answer) => bodyOf<SessionView>(answer));
}

/** Expects every process to see `expected` (a partial view) for `jar`. */
export async function expectEverywhere(app: SharedApp, jar: TinyJar, expected: Partial<SessionView>) {
  const views = await viewsOnEach(app, jar);
  for (const view of views) expect(view).toMatchObject(expected);
  // Each process answered: the views come from as many processes as there are.
  expect(new Set(views.map((v) => v.pid)).size).toBe(app.processes.length);
}

/**
 * A guest puts an apple in the cart, logs in as `user` (balance 1000), adds a pear: every process then sees
 * the user and both items; the guest's cookie (its id retired by the login) sees an empty anonymous session.
 * Returns the logged-in browser.
 */
export async function sharedCartThroughLogin(app: SharedApp, user: string): Promise<TinyJar> {
  const { call } = app;
  const jar = new TinyJar();
  const first = await call('POST', '/cart?item=apple', { jar });
  expect(bodyOf(first)).toMatchObject({ cart: ['apple'] });
  expect(first.setCookie).toHaveLength(1);
  const guest = jar.clone();
  const login = await call('POST', `/login?user=${user}&balance=1000`, { jar });
  expect(bodyOf(login)).toMatchObject({ user });
  expect(login.setCookie).toHaveLength(1);
  expect(jar.header()).not.toBe(guest.header());
  expect(bodyOf(await call('POST', '/cart?item=pear', { jar }))).toMatchObject({ cart: ['apple', 'pear'] });
  await expectEverywhere(app, jar, { user, cart: ['apple', 'pear'], balance: 1000, keys: [] });
  await expectEverywhere(app, guest, { user: null, cart: [], balance: null, keys: [] });
  return jar;
}

/**
 * The concurrency guarantees, for the browser {@link sharedCartThroughLogin} returned (balance 1000): 50
 * parallel requests each adding a different key leave 50 keys; 20 parallel `update('balance', b => b - 10)`
 * leave it 200 lower; the cart is untouched. Every request answers 200, and they reached every process.
 */
export async function sharedConcurrentWrites(app: SharedApp, jar: TinyJar): Promise<void> {
  const { call } = app;
  const keys = Array.from({ length: 50 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  const adds = await Promise.all(keys.map((key) => call('POST', `/add?key=${key}`, { jar: jar.clone() })));
  const pids = new Set(adds.map((answer) => bodyOf<{ pid: number }>(answer).pid));
  expect(pids.size).toBe(app.processes.length);
  const withdrawals = await Promise.all(
    Array.from({ length: 20 }, () => call('POST', '/withdraw', { jar: jar.clone() })),
  );
  for (const answer of withdrawals) bodyOf(answer);
  await expectEverywhere(app, jar, { balance: 1000 - 200, keys, cart: ['apple', 'pear'] });
}

/**
 * Logout ends the session on every process: the cookie is cleared, and a copy of it kept from before (another
 * tab, a thief) is an empty anonymous session everywhere; a write with that copy starts a new anonymous
 * session, never the old one.
 */
export async function sharedLogout(app: SharedApp, jar: TinyJar): Promise<void> {
  const kept = jar.clone();
  const logout = await app.call('POST', '/logout', { jar });
  expect(bodyOf(logout)).toMatchObject({ user: null });
  expect(logout.setCookie.some((line) => /max-age=0|expires=thu, 01 jan 1970/i.test(line))).toBe(true);
  expect(jar.cookies.size).toBe(0);
  await expectEverywhere(app, kept, { user: null, cart: [], balance: null, keys: [] });
  for (const p of app.processes) {
    expect(bodyOf(await p('POST', '/add?key=zombie', { jar: kept.clone() }))).toMatchObject({ user: null });
  }
}

/**
 * Two devices of `user`, logged in on different processes: both are listed; "log out my other devices" on one
 * process ends the other device's session on every process, and the first device's lives on.
 */
export async function sharedRevokeOthers(app: SharedApp, user: string): Promise<void> {
  const { processes } = app;
  const last = processes.length - 1;
  const laptop = new TinyJar();
  const phone = new TinyJar();
  bodyOf(await (processes[0] as AdapterCall)('POST', `/login?user=${user}`, { jar: laptop }));
  bodyOf(
    await (processes[1 % processes.length] as AdapterCall)('POST', `/login?user=${user}`, { jar: phone }),
  );
  await expectEverywhere(app, phone, { user });
  const listed = bodyOf<{ current: string; handles: string[] }>(
    await (processes[last] as AdapterCall)('GET', '/sessions', { jar: laptop }),
  );
  expect(listed.handles).toHaveLength(2);
  expect(listed.handles).toContain(listed.current);
  const revoke = await (processes[0] as AdapterCall)('POST', '/revoke-others', { jar: laptop });
  expect(bodyOf(revoke)).toMatchObject({ revoked: 1 });
  await expectEverywhere(app, phone, { user: null, keys: [] });
  await expectEverywhere(app, laptop, { user });
  const after = bodyOf<{ current: string; handles: string[] }>(
    await (processes[last] as AdapterCall)('GET', '/sessions', { jar: laptop }),
  );
  expect(after.handles).toEqual([listed.current]);
}

/**
 * What a browser sees of the session cookie over plain HTTP on 127.0.0.1, and of a handler that throws (the
 * app's `POST /throw` writes to the session, then throws): a first read sets no cookie (`Vary: Cookie`); the
 * first write sets `sid` (a 43-character base64url id; HttpOnly, SameSite=Lax, Path=/, host-only, not Secure
 * over http) with `Cache-Control: no-store`; the throw answers a plain 500 without stack or message and without
 * cookie (the adapter's own answer, or the framework's error path's), and nothing it wrote is kept.
 */
export async function sharedCookieAndThrow({ call }: SharedApp): Promise<void> {
  const jar = new TinyJar();
  const first = await call('GET', '/session', { jar });
  expect(bodyOf(first)).toMatchObject({ user: null, cart: [], keys: [] });
  expect(first.setCookie).toEqual([]);
  expect(first.header('vary')).toBe('Cookie');

  const write = await call('POST', '/cart?item=fig', { jar });
  expect(bodyOf(write)).toMatchObject({ cart: ['fig'] });
  expect(write.setCookie).toHaveLength(1);
  const [line = ''] = write.setCookie;
  expect(line).toMatch(/^sid=[A-Za-z0-9_-]{43};/);
  const attributes = line
    .split(';')
    .slice(1)
    .map((attribute) => attribute.trim().toLowerCase());
  expect(attributes).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=lax']));
  expect(attributes.filter((a) => a === 'secure' || a.startsWith('domain='))).toEqual([]);
  expect(write.header('cache-control')).toBe('no-store');
  expect(write.header('vary')).toBe('Cookie');

  // The adapter's own answer ('Internal Server Error\n'), or the framework's error path's (Hono's has no newline).
  const thrown = await call('POST', '/throw', { jar });
  expect(thrown.status).toBe(500);
  expect(thrown.body).toMatch(/^Internal Server Error\n?$/);
  expect(thrown.header('content-type')).toMatch(/^text\/plain/);
  expect(thrown.setCookie).toEqual([]);
  expect(bodyOf(await call('GET', '/session', { jar }))).toMatchObject({ cart: ['fig'], keys: [] });
}

/** How the write of each race round ended. */
export interface LogoutRaceOutcome {
  rounds: number;
  /** The write came after the logout and was refused (409, nothing saved). */
  refused: number;
  /** The write was saved before the logout, which then ended the session with it. */
  savedThenEnded: number;
}

/**
 * A write racing a logout never brings the session back. Each round logs a fresh user in, starts a slow write
 * on one process (it loads the session, lets go of its lock and waits at a gate), then logs out on another
 * process (round by round, every pair, the same one included). Even rounds open the gate once the logout
 * answered: the write must be refused (409, no cookie). Odd rounds open it and log out at once, with a random
 * head start of up to 20 ms for either: whichever lands first, afterwards the old cookie is an empty anonymous
 * session on every process, and the user has no session left (a new login lists only itself). Runs `rounds`
 * rounds, or fewer when `deadline` (performance.now()) comes first; the caller checks how many ran.
 */
export async function logoutRace(
  app: SharedApp,
  user: string,
  rounds: number,
  deadline: number,
): Promise<LogoutRaceOutcome> {
  const { processes } = app;
  const n = processes.length;
  const outcome: LogoutRaceOutcome = { rounds: 0, refused: 0, savedThenEnded: 0 };
  const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
  for (let r = 0; r < rounds && performance.now() < deadline; r++) {
    const writer = processes[r % n] as AdapterCall;
    const ender = processes[(r + Math.floor(r / n)) % n] as AdapterCall;
    const name = `${user}${r}`;
    const jar = new TinyJar();
    bodyOf(await writer('POST', `/login?user=${name}`, { jar }));
    const kept = jar.clone();
    const write = writer('POST', `/slow-write?key=late&gate=${name}`, { jar: jar.clone() });
    bodyOf(await writer('POST', `/gate/arrived?name=${name}`));
    let written: AdapterAnswer;
    if (r % 2 === 0) {
      bodyOf(await ender('POST', '/logout', { jar }));
      bodyOf(await writer('POST', `/gate/open?name=${name}`));
      written = await write;
      expect(written.status).toBe(409);
    } else {
      const [logout] = await Promise.all([
        pause().then(() => ender('POST', '/logout', { jar })),
        pause().then(() => writer('POST', `/gate/open?name=${name}`)),
      ]);
      bodyOf(logout);
      written = await write;
      expect([200, 409]).toContain(written.status);
    }
    if (written.status === 409) {
      expect(written.body).toBe('Conflict\n');
      expect(written.setCookie).toEqual([]);
      outcome.refused++;
    } else outcome.savedThenEnded++;
    await expectEverywhere(app, kept, { user: null, keys: [] });
    const checker = new TinyJar();
    bodyOf(await ender('POST', `/login?user=${name}`, { jar: checker }));
    const listed = bodyOf<{ current: string; handles: string[] }>(
      await writer('GET', '/sessions', { jar: checker }),
    );
    expect(listed.handles).toEqual([listed.current]);
    bodyOf(await ender('POST', '/logout', { jar: checker }));
    outcome.rounds++;
  }
  return outcome;
}

/** One answer of {@link loadOf}: a client's write of a unique token, or its read. */
export interface LoadAnswer {
  client: number;
  kind: 'write' | 'read';
  /** The key the write adds (unique in the run). */
  token?: string;
  /** 0 when no HTTP answer came (the connection failed; `body` then names the error). */
  status: number;
  /** The process that answered 200 (the app's `pid`). */
  pid?: number;
  /** performance.now() when the request was sent. */
  startedAt: number;
  elapsed: number;
  setCookie: string[];
  contentType: string | undefined;
  body: string;
}

/** A running load: its answers so far, and how to wait for a condition on them and to stop it. */
export interface Load {
  readonly answers: LoadAnswer[];
  /** The logged-in browser of each client. */
  readonly jars: TinyJar[];
  /** Resolves once `done(answers)` holds (true), or after `timeoutMs` (false). */
  until(done: (answers: LoadAnswer[]) => boolean, timeoutMs: number): Promise<boolean>;
  /** Stops the clients; resolves with every answer once their last requests answered. */
  stop(): Promise<LoadAnswer[]>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A bounded load on the app of `test/fixtures/app-server.mjs`: each of `users` logs in (each a browser of its
 * own), then loops a write of a unique token (POST /add?key=) and a read (GET /session) until stopped; after
 * an answer that is not 200 it waits 10 ms, so an outage is not a busy loop.
 */
export async function loadOf(call: AdapterCall, users: string[]): Promise<Load> {
  const jars = users.map(() => new TinyJar());
  await Promise.all(
    users.map(async (user, c) => {
      const login = await call('POST', `/login?user=${user}`, { jar: jars[c] as TinyJar });
      expect(login.status, login.body).toBe(200);
    }),
  );
  const answers: LoadAnswer[] = [];
  let stopped = false;
  const send = async (client: number, kind: LoadAnswer['kind'], path: string, token?: string) => {
    const startedAt = performance.now();
    const answer = await call(kind === 'write' ? 'POST' : 'GET', path, {
      jar: jars[client] as TinyJar,
    }).then(
      (a) => ({ ...a, contentType: a.header('content-type') }),
      (error: NodeJS.ErrnoException) => ({
        status: 0,
        body: String(error.code ?? error.message),
        setCookie: [],
        contentType: undefined,
        elapsed: performance.now() - startedAt,
      }),
    );
    const { status, body, setCookie, contentType, elapsed } = answer;
    const pid = status === 200 ? (JSON.parse(body) as { pid?: number }).pid : undefined;
    answers.push({ client, kind, token, status, pid, startedAt, elapsed, setCookie, contentType, body });
    if (status !== 200) await sleep(10);
  };
  const loops = users.map(async (_, client) => {
    for (let n = 0; !stopped; n++) {
      const token = `t${client}x${n}`;
      await send(client, 'write', `/add?key=${token}`, token);
      if (!stopped) await send(client, 'read', '/session');
    }
  });
  return {
    answers,
    jars,
    async until(done, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      while (!done(answers)) {
        if (performance.now() > deadline) return false;
        await sleep(50);
      }
      return true;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return answers;
    },
  };
}

/**
 * What every answer of a load through a store outage must be: within `boundMs`; a 200 of the client's own
 * logged-in session that sets no cookie; or a plain 503 (the reason phrase, no stack, no cause) that sets no
 * cookie either (no new anonymous session). Returns the 503s.
 */
export function expectCleanUnderFault(answers: LoadAnswer[], users: string[], boundMs: number): LoadAnswer[] {
  const unavailable: LoadAnswer[] = [];
  for (const a of answers) {
    const what = `${a.kind} of client ${a.client}: ${a.status} ${a.body.slice(0, 200)}`;
    expect(a.elapsed, what).toBeLessThan(boundMs);
    expect([200, 503], what).toContain(a.status);
    expect(a.setCookie, what).toEqual([]);
    if (a.status === 503) {
      expect(a.body, what).toBe('Service Unavailable\n');
      expect(a.contentType, what).toMatch(/^text\/plain/);
      unavailable.push(a);
    } else {
      expect((JSON.parse(a.body) as { user: unknown }).user, what).toBe(users[a.client]);
    }
  }
  return unavailable;
}

/**
 * A Teller app taking over express-session's live sessions (`legacyCookies: 'express-session'` over a store that
 * migrates, e.g. `fromExpressStore(store, { legacyKeys: true })`), beside a real express-session app on the same
 * store and secret. The Teller app's routes: `GET /` answers `{ user, cart, views }` as JSON, `POST /add?item=x`
 * adds to the cart, `POST /login?user=x` logs in (and answers the same JSON).
 */
export interface LegacySubject {
  /** The Teller app's client. */
  call: AdapterCall;
  /** A second Teller app (another process: its own manager and lock) on the same store. */
  other: AdapterCall;
  /** The session cookie's name, express-session's (the Teller app is configured with it). */
  cookieName: string;
  /** express-session's secret, the Teller app's `secret` too. */
  secret: string;
  /**
   * A new session written by the real express-session app: `{ cart, views: 1 }`, with a persistent cookie
   * (`cookie.maxAge`) when asked. Its Set-Cookie value as the browser keeps it (percent-encoded), and its id.
   */
  seed(cart: string[], persistent?: boolean): Promise<{ value: string; id: string }>;
  /** Whether the express store holds an entry under `sid` (a raw id or a hash). */
  has(sid: string): Promise<boolean>;
  /** How many entries the express store holds (this test's). */
  entries(): Promise<number>;
  /** The sids the Teller apps' bridge read (`get`) since the last call; clears them. */
  reads(): string[];
  /** Teller apps' errors (`onError`). */
  errors: unknown[];
}

/** Teller's store key of an id (SHA-256, base64url), computed here independently of the code under test. */
const hashOf = (id: string) => createHash('sha256').update(id).digest('base64url');

/** `value` (`s:<id>.<signature>`) with one bit of its signature flipped: a tampered cookie. */
function flipSignature(value: string): string {
  const dot = value.lastIndexOf('.');
  const mac = Buffer.from(value.slice(dot + 1), 'base64');
  mac[0] = mac[0]! ^ 1;
  return `${value.slice(0, dot + 1)}${mac.toString('base64').replace(/=+$/, '')}`;
}

/**
 * Live express-session sessions survive the switch to Teller: the first request with the browser's existing
 * cookie finds the data (moved under the hash of the id, the raw entry gone), the next ones read only the hash,
 * a write keeps it, login rotates to a Teller id, a tampered or foreign-signed cookie gets a fresh session
 * without any store read, and two first requests at once (one process, or two) both see the data and leave one
 * entry. A persistent cookie re-sent on a write keeps express-session's format (both read it).
 */
export async function legacySessionScenario(subject: LegacySubject): Promise<void> {
  const { call, other, cookieName, secret, seed, has, entries, reads, errors } = subject;
  const body = (answer: AdapterAnswer) => JSON.parse(answer.body) as Record<string, unknown>;
  const jarWith = (value: string) => {
    const jar = new TinyJar();
    jar.cookies.set(cookieName, value);
    return jar;
  };

  // The browser's cookie from express-session: express-session's own data, moved once.
  const before = await entries();
  const { value, id } = await seed(['apple', 'pear']);
  expect(decodeURIComponent(value)).toMatch(/^s:[A-Za-z0-9_-]{32}\.[A-Za-z0-9+/]{43}$/);
  expect(await has(id)).toBe(true);
  expect(await has(hashOf(id))).toBe(false);
  expect(await entries()).toBe(before + 1);
  reads();
  const jar = jarWith(value);
  const first = await call('GET', '/', { jar });
  expect(first.status).toBe(200);
  expect(body(first)).toEqual({ user: null, cart: ['apple', 'pear'], views: 1 });
  expect(first.setCookie).toEqual([]); // a browser-session cookie, nothing to re-send
  // The miss on the hash, then the raw id, once (the bridge's write as absent reads the hash again).
  const firstReads = reads();
  expect(firstReads[0]).toBe(hashOf(id));
  expect(firstReads.filter((sid) => sid === id)).toHaveLength(1);
  expect(await has(id)).toBe(false);
  expect(await has(hashOf(id))).toBe(true);
  expect(await entries()).toBe(before + 1);

  // The next request finds it by the hash alone; a write keeps it there.
  const second = await call('GET', '/', { jar });
  expect(body(second)).toEqual({ user: null, cart: ['apple', 'pear'], views: 1 });
  expect(reads()).toEqual([hashOf(id)]);
  const added = await call('POST', '/add?item=plum', { jar });
  expect(body(added).cart).toEqual(['apple', 'pear', 'plum']);
  expect(reads()).not.toContain(id);

  // A tampered signature, or the right id signed with another secret: a fresh session, no store read at all.
  const raw = decodeURIComponent(value);
  for (const forged of [flipSignature(raw), `s:${sign(id, 'not the secret of this app, but long enough')}`]) {
    reads();
    const answer = await call('GET', '/', { jar: jarWith(forged) });
    expect(answer.status).toBe(200);
    expect(body(answer)).toEqual({ user: null, cart: null, views: null });
    expect(reads()).toEqual([]);
  }

  // Login rotates to a Teller id (Teller's format); the data goes along; the express-session cookie is retired.
  const login = await call('POST', '/login?user=alice', { jar });
  expect(login.setCookie).toHaveLength(1);
  expect(login.setCookie[0]).toMatch(
    new RegExp(`^${cookieName.replace('.', '\\.')}=[A-Za-z0-9_-]{43}\\.[A-Za-z0-9+/]{43};`),
  );
  const after = await call('GET', '/', { jar });
  expect(body(after)).toEqual({ user: 'alice', cart: ['apple', 'pear', 'plum'], views: 1 });
  const replay = await call('GET', '/', { jar: jarWith(value) });
  expect(body(replay)).toEqual({ user: null, cart: null, views: null });

  // Two first requests at once with one cookie, in one process and in two: the same data, one entry.
  for (const [label, second] of [
    ['one process', call],
    ['two processes', other],
  ] as const) {
    const count = await entries();
    const race = await seed([label]);
    const answers = await Promise.all([
      call('GET', '/', { jar: jarWith(race.value) }),
      second('GET', '/', { jar: jarWith(race.value) }),
    ]);
    for (const answer of answers) {
      expect(answer.status, label).toBe(200);
      expect(body(answer), label).toEqual({ user: null, cart: [label], views: 1 });
    }
    expect(await has(race.id), label).toBe(false);
    expect(await has(hashOf(race.id)), label).toBe(true);
    expect(await entries(), label).toBe(count + 1);
  }

  // A persistent express-session cookie: persistent here too; re-sent on a write in express-session's format.
  const kept = await seed(['kept'], true);
  const keptJar = jarWith(kept.value);
  expect(body(await call('GET', '/', { jar: keptJar })).cart).toEqual(['kept']);
  const write = await call('POST', '/add?item=more', { jar: keptJar });
  expect(write.setCookie).toHaveLength(1);
  const resent = write.setCookie[0]!;
  expect(resent).toMatch(/; Max-Age=\d+/);
  const resentValue = resent.slice(cookieName.length + 1, resent.indexOf(';'));
  expect(resentValue).toBe(`s:${sign(kept.id, secret)}`);
  expect(body(await call('GET', '/', { jar: keptJar })).cart).toEqual(['kept', 'more']);
  expect(errors).toEqual([]);
}
