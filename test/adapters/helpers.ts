/**
 * Helpers of the adapter tests: a store wrapper that records, slows or breaks the real store, a minimal
 * cookie jar for a test client (name=value by name; a Max-Age=0 line removes), and the scenarios every
 * adapter must pass alike, written against an adapter-neutral client ({@link AdapterCall}).
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign } from 'cookie-signature';
import { expect } from 'vitest';
import { SessionStoreError } from '../../src/session/errors.js';
import type { SessionManager } from '../../src/session/manager.js';
import type { SessionRecord, SessionStore } from '../../src/session/store.js';
import type { MemoryStore } from '../../src/stores/memory.js';

export interface ProbeStore extends SessionStore {
  /** When each successful `set` finished (performance.now()). */
  setsDoneAt: number[];
  /** Delay every `set` by this many ms (to show the response waits for the write). */
  setDelay: number;
  /** 'up': pass through; 'throw': every call rejects; 'hang': every call never settles. */
  mode: 'up' | 'throw' | 'hang';
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
    get: (key) => gate(() => inner.get(key)),
    set: (key: string, record: SessionRecord, expected: number | null, ttlMs: number) =>
      gate(async () => {
        if (probe.setDelay > 0) await new Promise((resolve) => setTimeout(resolve, probe.setDelay));
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

/** A well-formed but unknown session id cookie under every default name. */
export const FOREIGN_COOKIE = ['__Host-sid', '__Secure-sid', 'sid']
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

/**
 * First visit -> login -> read -> concurrent writes -> logout -> replay the old cookie. `location` is the
 * login redirect's Location as the client sees it. Returns the login answer (the record was written
 * slowly, 150 ms) for the adapter's own checks.
 */
export async function loginLogoutScenario(
  { call, inner, store, errors }: AdapterSubject,
  location: string,
): Promise<AdapterAnswer> {
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
  expect(login.setCookie[0]).toMatch(/^sid=[A-Za-z0-9_-]{43}; .*HttpOnly/i);
  expect(login.header('cache-control')).toBe('no-store');
  expect(store.setsDoneAt.at(-1)).toBeLessThan(login.receivedAt);
  expect((await inner.listByUser('alice')).length).toBe(1);
  const loggedInCookie = jar.clone();

  // Read: the user is there; a read-only request sets no cookie.
  const read = await call('GET', '/', { jar });
  expect(JSON.parse(read.body)).toMatchObject({ user: 'alice' });
  expect(read.setCookie).toEqual([]);

  // Concurrent writes of one session: 20 distinct keys and 20 increments, none lost.
  const adds = await Promise.all(
    Array.from({ length: 20 }, (_, i) => call('POST', `/add?key=k${i}`, { jar: jar.clone() })),
  );
  expect(adds.map((a) => a.status)).toEqual(Array(20).fill(200));
  const incrs = await Promise.all(
    Array.from({ length: 20 }, () => call('POST', '/incr', { jar: jar.clone() })),
  );
  expect(incrs.map((a) => a.status)).toEqual(Array(20).fill(200));
  const after = JSON.parse((await call('GET', '/', { jar })).body) as { n: number; data: object };
  expect(after.n).toBe(20);
  for (let i = 0; i < 20; i++) expect(after.data).toHaveProperty(`k${i}`, true);

  // Logout: the record is deleted and the cookie cleared.
  const logout = await call('POST', '/logout', { jar });
  expect(logout.status).toBe(303);
  expect(logout.setCookie.some((line) => /max-age=0|expires=thu, 01 jan 1970/i.test(line))).toBe(true);
  expect(await inner.listByUser('alice')).toEqual([]);
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

/**
 * With the store down (`mode`), a read and a write answer a plain 503 within 2 s, without stack or
 * cause, and `onError` hears of each as a SessionStoreError. Leaves the store up again.
 */
export async function storeDownScenario(
  { call, store, errors }: Pick<AdapterSubject, 'call' | 'store' | 'errors'>,
  mode: 'throw' | 'hang',
): Promise<void> {
  store.mode = mode;
  errors.length = 0;
  const read = await call('GET', '/', { headers: { cookie: FOREIGN_COOKIE } });
  expect(read.status).toBe(503);
  expect(read.elapsed).toBeLessThan(2_000);
  expect(read.body).toBe('Service Unavailable\n');
  expect(read.header('content-type')).toMatch(/^text\/plain/);
  expect(read.setCookie).toEqual([]);
  const write = await call('POST', '/add');
  expect(write.status).toBe(503);
  expect(write.elapsed).toBeLessThan(2_000);
  expect(write.body).not.toMatch(/ECONNREFUSED|\bat\s|Error/);
  expect(errors.length).toBeGreaterThanOrEqual(2);
  expect(errors.every((e) => e instanceof SessionStoreError)).toBe(true);
  store.mode = 'up';
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
