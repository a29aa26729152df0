/**
 * The express-session drop-in (`teller/adapters/express-session`), over real HTTP on 127.0.0.1 with Express 5:
 * - a sample app written for express-session (login, cart, regenerate, destroy, flash through `req.session`) and a
 *   Passport (passport-local) login pass the same tests on express-session and on the drop-in, only the import
 *   changed (the app is typed `typeof import('express-session')` and given the drop-in: that it compiles is the
 *   type-level test);
 * - an express-session cookie and record made by express-session itself are recognized after the switch, with
 *   express-session's MemoryStore and with a store written for it, passed through;
 * - what the drop-in fixes: concurrent writes are not lost, destroy() clears the cookie, the memory store is
 *   bounded, a store failure is a plain 503;
 * - the shared adapter scenarios (`helpers.ts`) where their steps apply (the app keeps its user in the session data,
 *   so the user index does not apply, nor the merge of a key read then written, which is a conflict here);
 * - `require()` from a CommonJS app, in a child process, against the built dist.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { RedisStore } from 'connect-redis';
import { sign } from 'cookie-signature';
import express from 'express';
import expressSession from 'express-session';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dropIn, { type TellerOptions } from '../../src/adapters/express-session.js';
import { SessionStoreError } from '../../src/session/errors.js';
import type { SessionEvent } from '../../src/session/options.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { reachable } from '../support/net.js';
import {
  bruteForceScenario,
  close,
  expectAnswerPersistingNothing,
  httpCall,
  httpCaller,
  listen,
  loginLogoutScenario,
  probeStore,
  storeDownScenario,
  TinyJar,
} from './helpers.js';

declare module 'express-session' {
  interface SessionData {
    user: string;
    cart: string[];
    flash: string[];
    views: number;
    n: number;
  }
}

const SECRET = 'the secret express-session signed with, 32 bytes or more';

// connect-redis on the shared Redis: keys under a prefix of this run, deleted by SCAN at the end (never FLUSH).
const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const redisUp = await reachable(redisUrl.hostname, Number(redisUrl.port || 6379));
if (!redisUp) {
  if (process.env.CI)
    throw new Error(`Redis is unreachable at ${redisUrl.href}: the connect-redis test must run in CI`);
  console.warn(
    `[express-session drop-in] Redis is unreachable at ${redisUrl.href}: the connect-redis test is skipped`,
  );
}
const redisPrefix = `teller-test-dropin:${randomBytes(4).toString('hex')}:`;
const redis = redisUp ? createClient({ url: redisUrl.href }) : undefined;
if (redis !== undefined) {
  redis.on('error', () => {});
  await redis.connect();
  afterAll(async () => {
    for await (const keys of redis.scanIterator({ MATCH: `${redisPrefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await redis.del(keys);
    }
    redis.destroy();
  });
}
const HOUR = 3_600_000;
type Library = typeof expressSession;
const libraries: Array<[string, Library]> = [
  ['express-session', expressSession],
  ['the Teller drop-in', dropIn],
];

/** Express's error path, as an app has it: a plain 500, never a stack. */
function errorHandler(
  _error: unknown,
  _req: express.Request,
  res: express.Response,
  _next: express.NextFunction,
) {
  res.status(500).set('Cache-Control', 'no-store').type('text/plain').send('Internal Server Error\n');
}

/** A sample app written for express-session; `session` is the library (express-session or the drop-in). */
function sampleApp(
  session: Library,
  options: Partial<expressSession.SessionOptions> & TellerOptions = {},
): Server {
  const app = express();
  app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, ...options }));
  app.get('/', (req, res) => {
    const flash = req.session.flash ?? [];
    delete req.session.flash;
    res.json({
      user: req.session.user ?? null,
      cart: req.session.cart ?? [],
      flash,
      views: req.session.views ?? 0,
    });
  });
  app.get('/whoami', (req, res) => {
    res.json({
      id: req.sessionID,
      same: req.session.id === req.sessionID,
      maxAge: req.session.cookie.maxAge,
    });
  });
  app.post('/cart', (req, res) => {
    req.session.cart = [...(req.session.cart ?? []), String(req.query.item)];
    res.json({ cart: req.session.cart });
  });
  app.post('/visit', (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ views: req.session.views });
  });
  app.post('/login', (req, res, next) => {
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.user = String(req.query.user);
      req.session.flash = [`welcome, ${req.session.user}`];
      req.session.save((error) => (error ? next(error) : res.redirect(303, '/')));
    });
  });
  app.post('/remember', (req, res) => {
    req.session.cookie.maxAge = HOUR;
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ maxAge: req.session.cookie.maxAge, originalMaxAge: req.session.cookie.originalMaxAge });
  });
  app.post('/reload', (req, res, next) => {
    req.session.views = 99;
    req.session.reload((error) => (error ? next(error) : res.json({ views: req.session.views ?? 0 })));
  });
  app.post('/slow', (req, res) => {
    // Reads, takes its time, then writes what it read plus ten (a stale write if another request wrote meanwhile).
    const views = req.session.views ?? 0;
    setTimeout(
      () => {
        req.session.views = views + 10;
        res.json({ views: req.session.views });
      },
      Number(req.query.ms ?? 0),
    );
  });
  app.post('/stamp', (req, res) => {
    // Assigns without reading, after a while: a write of a key the handler did not read.
    setTimeout(
      () => {
        (req.session as unknown as Record<string, unknown>).stamp = String(req.query.value);
        res.json({ stamped: true });
      },
      Number(req.query.ms ?? 0),
    );
  });
  app.get('/stamp', (req, res) => {
    res.json({ stamp: (req.session as unknown as Record<string, unknown>).stamp ?? null });
  });
  app.post('/unset', (req, res) => {
    req.session.views = 1_000;
    (req as { session: unknown }).session = null;
    res.json({ unset: true });
  });
  app.get('/stored', (req, res, next) => {
    req.sessionStore.get(req.sessionID, (error, stored) => (error ? next(error) : res.json(stored ?? null)));
  });
  app.post('/end-by-id', (req, res, next) => {
    req.sessionStore.destroy(String(req.query.sid), (error) =>
      error ? next(error) : res.json({ ended: true }),
    );
  });
  app.post('/touch', (req, res) => {
    req.session.touch();
    res.json({ touched: true });
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.redirect(303, '/')));
  });
  app.use(errorHandler);
  return createServer(app);
}

/** A Passport app (passport-local: its login calls regenerate and save with callbacks), on `session`. */
function passportApp(session: Library): Server {
  const app = express();
  app.use(session({ secret: SECRET, resave: false, saveUninitialized: false }));
  const auth = new passport.Passport();
  auth.use(
    new LocalStrategy((username, password, done) =>
      done(null, username === 'alice' && password === 'wonderland' ? { id: 'alice' } : false),
    ),
  );
  auth.serializeUser((user, done) => done(null, (user as { id: string }).id));
  auth.deserializeUser((id: string, done) => done(null, { id }));
  app.use(auth.authenticate('session'));
  app.post('/login', auth.authenticate('local', { successRedirect: '/', failureRedirect: '/?failed=1' }));
  app.get('/', (req, res) => res.json({ user: (req.user as { id: string } | undefined)?.id ?? null }));
  app.post('/logout', (req, res, next) =>
    req.logout((error) => (error ? next(error) : res.redirect(303, '/'))),
  );
  app.use(errorHandler);
  return createServer(app);
}

/** A store written for express-session (callback API, JSON in a Map), on the `Store` class of `session`. */
function mapStore(session: Library) {
  return new (class MapStore extends session.Store {
    readonly entries = new Map<string, string>();
    get(sid: string, callback: (error: unknown, session?: expressSession.SessionData | null) => void) {
      const text = this.entries.get(sid);
      setImmediate(() => callback(null, text === undefined ? null : JSON.parse(text)));
    }
    set(sid: string, data: expressSession.SessionData, callback?: (error?: unknown) => void) {
      this.entries.set(sid, JSON.stringify(data));
      setImmediate(() => callback?.());
    }
    destroy(sid: string, callback?: (error?: unknown) => void) {
      this.entries.delete(sid);
      setImmediate(() => callback?.());
    }
  })();
}

/** Starts `server`; returns a client for it and a stop function. */
async function serve(server: Server) {
  const port = await listen(server);
  return { call: httpCaller(() => port), stop: () => close(server) };
}

const json = (answer: { body: string }) => JSON.parse(answer.body) as Record<string, unknown>;

describe.each(libraries)('a sample app written for express-session, on %s', (_name, session) => {
  let client: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    client = await serve(sampleApp(session));
  });
  afterAll(() => client.stop());

  it('cart, login (regenerate + save), flash once, views, reload, replay, logout (destroy)', async () => {
    const { call } = client;
    const jar = new TinyJar();
    const first = await call('GET', '/', { jar });
    expect(json(first)).toEqual({ user: null, cart: [], flash: [], views: 0 });
    expect(first.setCookie).toEqual([]); // saveUninitialized: false
    // reload() of a session never stored calls back with an error: the app's error path.
    expect((await call('POST', '/reload', { jar: new TinyJar() })).status).toBe(500);

    const added = await call('POST', '/cart?item=apple', { jar });
    expect(json(added)).toEqual({ cart: ['apple'] });
    expect(added.setCookie).toHaveLength(1);
    expect(json(await call('POST', '/cart?item=pear', { jar }))).toEqual({ cart: ['apple', 'pear'] });
    const anonymous = jar.clone();
    const before = json(await call('GET', '/whoami', { jar }));
    expect(before.same).toBe(true);
    expect(before.maxAge).toBeNull(); // a browser-session cookie

    const login = await call('POST', '/login?user=alice', { jar });
    expect(login.status).toBe(303);
    expect(login.header('location')).toBe('/');
    expect(login.setCookie).toHaveLength(1);
    const after = json(await call('GET', '/whoami', { jar }));
    expect(after.id).not.toBe(before.id);
    expect(after.same).toBe(true);
    // regenerate gives an empty session: the anonymous cart does not follow the login.
    expect(json(await call('GET', '/', { jar }))).toEqual({
      user: 'alice',
      cart: [],
      flash: ['welcome, alice'],
      views: 0,
    });
    expect(json(await call('GET', '/', { jar })).flash).toEqual([]);
    for (let i = 1; i <= 3; i++) expect(json(await call('POST', '/visit', { jar }))).toEqual({ views: i });
    expect(json(await call('POST', '/reload', { jar }))).toEqual({ views: 3 });
    expect(json(await call('POST', '/touch', { jar }))).toEqual({ touched: true });
    expect(json(await call('GET', '/', { jar }))).toMatchObject({ user: 'alice', views: 3 });
    const loggedIn = jar.clone();

    // The id retired by regenerate is gone with its data.
    expect(json(await call('GET', '/', { jar: anonymous }))).toEqual({
      user: null,
      cart: [],
      flash: [],
      views: 0,
    });

    const logout = await call('POST', '/logout', { jar });
    expect(logout.status).toBe(303);
    expect(json(await call('GET', '/', { jar }))).toMatchObject({ user: null, views: 0 });
    expect(json(await call('GET', '/', { jar: loggedIn }))).toMatchObject({ user: null, views: 0 });
  });

  it('cookie.maxAge set by a handler makes the cookie persistent', async () => {
    const jar = new TinyJar();
    const answer = await client.call('POST', '/remember', { jar });
    const { maxAge, originalMaxAge } = json(answer) as { maxAge: number; originalMaxAge: number };
    expect(maxAge).toBeGreaterThan(HOUR - 5_000);
    expect(maxAge).toBeLessThanOrEqual(HOUR);
    expect(originalMaxAge).toBeGreaterThan(HOUR - 5_000);
    expect(answer.setCookie).toHaveLength(1);
    expect(answer.setCookie[0]).toMatch(/;\s*(Max-Age=\d+|Expires=)/i);
    expect(json(await client.call('GET', '/', { jar })).views).toBe(1);
  });
});

describe.each(libraries)('Passport (passport-local) login, on %s', (_name, session) => {
  let client: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    client = await serve(passportApp(session));
  });
  afterAll(() => client.stop());

  it('logs in (regenerate, save), reads the user, refuses a bad password, logs out', async () => {
    const { call } = client;
    const jar = new TinyJar();
    const bad = await call('POST', '/login?username=alice&password=nope', { jar });
    expect(bad.header('location')).toBe('/?failed=1');
    expect(json(await call('GET', '/', { jar }))).toEqual({ user: null });

    const login = await call('POST', '/login?username=alice&password=wonderland', { jar });
    expect(login.status).toBe(302);
    expect(login.header('location')).toBe('/');
    expect(login.setCookie).toHaveLength(1);
    expect(json(await call('GET', '/', { jar }))).toEqual({ user: 'alice' });
    const loggedIn = jar.clone();

    expect((await call('POST', '/logout', { jar })).status).toBe(303);
    expect(json(await call('GET', '/', { jar }))).toEqual({ user: null });
    expect(json(await call('GET', '/', { jar: loggedIn }))).toEqual({ user: null });
  });
});

describe("express-session's own sessions survive the switch to the drop-in", () => {
  const stores: Array<[string, boolean, () => expressSession.Store]> = [
    ["express-session's MemoryStore", true, () => new expressSession.MemoryStore()],
    ['a store written for express-session, passed through', true, () => mapStore(expressSession)],
    ['connect-redis 9', redis !== undefined, () => new RedisStore({ client: redis!, prefix: redisPrefix })],
  ];
  for (const [name, available, make] of stores) {
    it.skipIf(!available)(
      `${name}: the cookie and the record express-session made are recognized`,
      async () => {
        const store = make();
        const old = await serve(sampleApp(expressSession, { store }));
        const now = await serve(sampleApp(dropIn, { store }));
        try {
          const jar = new TinyJar();
          await old.call('POST', '/cart?item=apple', { jar });
          await old.call('POST', '/login?user=alice', { jar });
          await old.call('POST', '/cart?item=pear', { jar });
          const value = jar.cookies.get('connect.sid')!;
          expect(decodeURIComponent(value)).toMatch(/^s:[A-Za-z0-9_-]{32}\./);
          const { id } = json(await old.call('GET', '/whoami', { jar })) as { id: string };

          // The switch: the same browser, the same store, the drop-in.
          const seen = json(await now.call('GET', '/whoami', { jar }));
          expect(seen).toMatchObject({ id, same: true });
          expect(json(await now.call('GET', '/', { jar }))).toEqual({
            user: 'alice',
            cart: ['pear'],
            flash: ['welcome, alice'],
            views: 0,
          });
          expect(json(await now.call('POST', '/cart?item=plum', { jar })).cart).toEqual(['pear', 'plum']);
          expect(json(await now.call('GET', '/', { jar }))).toMatchObject({ user: 'alice', flash: [] });
          // Moved under the hash of the id: the raw entry is gone.
          const entry = await new Promise((resolve) => store.get(id, (_error, data) => resolve(data)));
          expect(entry ?? null).toBeNull();

          // A tampered signature: a fresh session.
          const raw = decodeURIComponent(value);
          const at = raw.lastIndexOf('.') + 1;
          const tampered = new TinyJar();
          tampered.cookies.set(
            'connect.sid',
            `${raw.slice(0, at)}${raw[at] === 'A' ? 'B' : 'A'}${raw.slice(at + 1)}`,
          );
          expect(json(await now.call('GET', '/', { jar: tampered })).user).toBeNull();

          // A login on the drop-in gives a Teller id; the data goes with the new session.
          const login = await now.call('POST', '/login?user=bob', { jar });
          expect(login.setCookie[0]).toMatch(/^connect\.sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43};/);
          expect(json(await now.call('GET', '/', { jar }))).toMatchObject({
            user: 'bob',
            flash: ['welcome, bob'],
          });
        } finally {
          await Promise.all([old.stop(), now.stop()]);
        }
      },
    );
  }

  it('a store written against the drop-in (class X extends session.Store) works', async () => {
    const store = mapStore(dropIn);
    const app = await serve(sampleApp(dropIn, { store }));
    try {
      const jar = new TinyJar();
      await app.call('POST', '/login?user=carol', { jar });
      expect(json(await app.call('GET', '/', { jar })).user).toBe('carol');
      expect(store.entries.size).toBe(1);
      expect([...store.entries.keys()][0]).toMatch(/^[A-Za-z0-9_-]{43}$/); // the hash of the id, not the id
      const { id } = json(await app.call('GET', '/whoami', { jar })) as { id: string };
      expect(store.entries.has(id)).toBe(false);
    } finally {
      await app.stop();
    }
  });
});

describe('what the drop-in fixes', () => {
  it('concurrent writes of one session are not lost (express-session keeps the last one saved)', async () => {
    // Read-then-write handlers, serialized by the lock (a longer wait than the default 250 ms: the machine is shared).
    const app = await serve(sampleApp(dropIn, { lockTimeout: 2_000 }));
    try {
      const jar = new TinyJar();
      await app.call('POST', '/visit', { jar });
      const carts = await Promise.all(
        Array.from({ length: 20 }, (_, i) => app.call('POST', `/cart?item=i${i}`, { jar: jar.clone() })),
      );
      expect(carts.map((a) => a.status)).toEqual(Array(20).fill(200));
      const visits = await Promise.all(
        Array.from({ length: 20 }, () => app.call('POST', '/visit', { jar: jar.clone() })),
      );
      expect(visits.map((a) => a.status)).toEqual(Array(20).fill(200));
      const after = json(await app.call('GET', '/', { jar })) as { cart: string[]; views: number };
      expect([...after.cart].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `i${i}`).sort());
      expect(after.views).toBe(21);
    } finally {
      await app.stop();
    }
  });

  it('destroy() clears the cookie (express-session leaves it in the browser)', async () => {
    for (const [name, session] of libraries) {
      const app = await serve(sampleApp(session));
      try {
        const jar = new TinyJar();
        await app.call('POST', '/login?user=dana', { jar });
        const logout = await app.call('POST', '/logout', { jar });
        if (session === dropIn) {
          expect(logout.setCookie, name).toHaveLength(1);
          expect(logout.setCookie[0], name).toMatch(/^connect\.sid=; .*Max-Age=0/i);
          expect(jar.cookies.size, name).toBe(0);
        } else {
          expect(logout.setCookie, name).toEqual([]);
          expect(jar.cookies.size, name).toBe(1);
        }
      } finally {
        await app.stop();
      }
    }
  });

  it('the MemoryStore is bounded: when full, a new session is a 503 and nothing is evicted', async () => {
    const store = new dropIn.MemoryStore({ maxEntries: 3, cleanupInterval: 0 });
    const app = await serve(sampleApp(dropIn, { store }));
    try {
      const jars = Array.from({ length: 5 }, () => new TinyJar());
      const answers = [];
      for (const jar of jars) answers.push(await app.call('POST', '/cart?item=x', { jar }));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 503, 503]);
      expect(answers[3]!.body).toBe('Service Unavailable\n');
      expect(answers[3]!.setCookie).toEqual([]);
      expect(await new Promise((resolve) => store.length((_error, n) => resolve(n)))).toBe(3);
      for (const jar of jars.slice(0, 3))
        expect(json(await app.call('GET', '/', { jar })).cart).toEqual(['x']);
    } finally {
      await app.stop();
    }
  });

  it('a stale write after the lock wait is refused (409, nothing written), never saved over a newer one', async () => {
    const app = await serve(sampleApp(dropIn, { lockTimeout: 100 }));
    try {
      const jar = new TinyJar();
      await app.call('POST', '/visit', { jar });
      const slow = app.call('POST', '/slow?ms=600', { jar: jar.clone() });
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(json(await app.call('POST', '/visit', { jar }))).toEqual({ views: 2 });
      const stale = await slow;
      expect(stale.status).toBe(409);
      expect(stale.body).toBe('Conflict\n');
      expect(stale.setCookie).toEqual([]);
      expect(json(await app.call('GET', '/', { jar })).views).toBe(2);
    } finally {
      await app.stop();
    }
  });

  it('a key only assigned (not read) merges with a concurrent write of it: the last one kept, no conflict', async () => {
    const app = await serve(sampleApp(dropIn, { lockTimeout: 100 }));
    try {
      const jar = new TinyJar();
      await app.call('POST', '/visit', { jar });
      const slow = app.call('POST', '/stamp?value=slow&ms=600', { jar: jar.clone() });
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect((await app.call('POST', '/stamp?value=fast', { jar })).status).toBe(200);
      expect((await slow).status).toBe(200);
      expect(json(await app.call('GET', '/stamp', { jar }))).toEqual({ stamp: 'slow' });
      expect(json(await app.call('GET', '/', { jar })).views).toBe(1);
    } finally {
      await app.stop();
    }
  });

  it("unset: 'destroy' ends a session whose req.session was unset; 'keep' drops the request's changes", async () => {
    for (const unset of ['destroy', 'keep'] as const) {
      const store = new dropIn.MemoryStore({ cleanupInterval: 0 });
      const app = await serve(sampleApp(dropIn, { store, unset }));
      try {
        const jar = new TinyJar();
        await app.call('POST', '/visit', { jar });
        const answer = await app.call('POST', '/unset', { jar });
        const count = await new Promise((resolve) => store.length((_error, n) => resolve(n)));
        if (unset === 'destroy') {
          expect(answer.setCookie[0], unset).toMatch(/^connect\.sid=; .*Max-Age=0/i);
          expect(count, unset).toBe(0);
        } else {
          expect(answer.setCookie, unset).toEqual([]);
          expect(json(await app.call('GET', '/', { jar })).views, unset).toBe(1);
        }
      } finally {
        await app.stop();
      }
    }
  });

  it('rolling: every request of a stored session re-sends its persistent cookie', async () => {
    const app = await serve(sampleApp(dropIn, { rolling: true, cookie: { maxAge: HOUR } }));
    try {
      const jar = new TinyJar();
      await app.call('POST', '/visit', { jar });
      for (let i = 0; i < 2; i++) {
        const read = await app.call('GET', '/whoami', { jar });
        expect(read.setCookie).toHaveLength(1);
        expect(read.setCookie[0]).toMatch(/;\s*Max-Age=3600;/i);
      }
    } finally {
      await app.stop();
    }
    const still = await serve(sampleApp(dropIn, { cookie: { maxAge: HOUR } }));
    try {
      const jar = new TinyJar();
      await still.call('POST', '/visit', { jar });
      expect((await still.call('GET', '/whoami', { jar })).setCookie).toEqual([]);
    } finally {
      await still.stop();
    }
  });

  it('proxy: true believes X-Forwarded-Proto, false does not, absent follows Express trust proxy', async () => {
    const secureOf = async (options: Partial<expressSession.SessionOptions>, trust: boolean) => {
      const server = sampleApp(dropIn, options);
      if (trust) (server.listeners('request')[0] as express.Express).set('trust proxy', true);
      const app = await serve(server);
      try {
        const answer = await app.call('POST', '/visit', { headers: { 'x-forwarded-proto': 'https' } });
        return /;\s*Secure/i.test(answer.setCookie[0] ?? '');
      } finally {
        await app.stop();
      }
    };
    expect(await secureOf({ proxy: true }, false)).toBe(true);
    expect(await secureOf({ proxy: false }, true)).toBe(false);
    expect(await secureOf({}, true)).toBe(true);
    expect(await secureOf({}, false)).toBe(false);
  });

  it("the MemoryStore's callback methods take the session id: get, set, destroy, length", async () => {
    const store = new dropIn.MemoryStore();
    const app = await serve(sampleApp(dropIn, { store }));
    const called = (invoke: (callback: (error?: unknown, result?: unknown) => void) => void) =>
      new Promise<{ error: unknown; result: unknown }>((resolve) =>
        invoke((error, result) => resolve({ error, result })),
      );
    try {
      const jar = new TinyJar();
      await app.call('POST', '/cart?item=fig', { jar });
      const stored = json(await app.call('GET', '/stored', { jar }));
      expect(stored).toMatchObject({ cart: ['fig'], cookie: { expires: null, httpOnly: true, path: '/' } });
      const { id } = json(await app.call('GET', '/whoami', { jar })) as { id: string };
      const replaced = await called((cb) => store.set(id, { ...stored, cart: ['date'] } as never, cb));
      expect(replaced.error).toBeFalsy();
      expect(json(await app.call('GET', '/', { jar })).cart).toEqual(['date']);
      const unknown = await called((cb) => store.set('A'.repeat(43), { cart: [] } as never, cb));
      expect(String(unknown.error)).toMatch(/sessions are created by the middleware/);
      expect((await called((cb) => store.length(cb))).result).toBe(1);
      expect(String((await called((cb) => store.all(cb))).error)).toMatch(/all\(\) is not available/);
      expect(String((await called((cb) => store.clear(cb))).error)).toMatch(/clear\(\) is not available/);
      expect(json(await app.call('POST', `/end-by-id?sid=${id}`))).toEqual({ ended: true });
      expect(json(await app.call('GET', '/', { jar })).cart).toEqual([]);
    } finally {
      await app.stop();
    }
  });

  it('cookie.maxAge of the options: a persistent cookie whose Max-Age is that lifetime', async () => {
    const app = await serve(sampleApp(dropIn, { cookie: { maxAge: HOUR } }));
    try {
      const jar = new TinyJar();
      const first = await app.call('POST', '/visit', { jar });
      expect(first.setCookie[0]).toMatch(/;\s*Max-Age=3600;/i);
      const { maxAge } = json(await app.call('GET', '/whoami', { jar })) as { maxAge: number };
      expect(maxAge).toBeGreaterThan(HOUR - 5_000);
      expect(maxAge).toBeLessThanOrEqual(HOUR);
    } finally {
      await app.stop();
    }
  });

  it("Teller's lifetimes: a session idle longer than idleTimeout has ended", async () => {
    const app = await serve(sampleApp(dropIn, { idleTimeout: 300 }));
    try {
      const jar = new TinyJar();
      await app.call('POST', '/visit', { jar });
      expect(json(await app.call('GET', '/', { jar })).views).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect(json(await app.call('GET', '/', { jar })).views).toBe(0);
    } finally {
      await app.stop();
    }
  });

  it("express-session's old option name key names the cookie", async () => {
    const app = await serve(sampleApp(dropIn, { ...({ key: 'legacy.sid' } as object) }));
    try {
      const answer = await app.call('POST', '/visit');
      expect(answer.setCookie[0]).toMatch(/^legacy\.sid=/);
    } finally {
      await app.stop();
    }
  });

  it('refuses what it cannot honour, naming the option', () => {
    expect(() => dropIn({} as expressSession.SessionOptions)).toThrow(/secret option required/);
    expect(() => dropIn({ secret: SECRET, cookie: { httpOnly: false } })).toThrow(/httpOnly/);
    expect(() => dropIn({ secret: SECRET, cookie: { expires: new Date() } })).toThrow(/cookie\.expires/);
    expect(() => dropIn({ secret: SECRET, unset: 'drop' as 'keep' })).toThrow(/unset/);
    expect(() => dropIn({ secret: SECRET, cookie: () => ({}) })).toThrow(/cookie must be an object/);
    expect(() => dropIn({ secret: SECRET, ...({ resaved: true } as object) })).toThrow(
      /unknown option resaved/,
    );
  });
});

describe('the shared adapter scenarios, on the drop-in', () => {
  const inner = createMemoryStore({ cleanupInterval: 0 });
  const store = probeStore(inner);
  const errors: unknown[] = [];
  const app = express();
  app.use(
    dropIn({
      secret: SECRET,
      name: 'sid',
      store,
      resave: false,
      saveUninitialized: false,
      onError: (e) => errors.push(e),
      // /incr is read-then-write (express-session code has no update()): its 20 parallel requests stay serial
      // through the lock. On this shared machine the last may wait past the default 250 ms, and would then
      // (rightly) get a 409; a longer wait keeps the test about lost updates, not about the machine's load.
      lockTimeout: 2_000,
    }),
  );
  const data = (req: express.Request) =>
    Object.fromEntries(Object.entries(req.session).filter(([key]) => key !== 'cookie'));
  app.get('/', (req, res) =>
    res.json({ user: req.session.user ?? null, n: req.session.n ?? 0, data: data(req) }),
  );
  app.post('/login', (req, res, next) =>
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.user = String(req.query.user);
      res.redirect(303, '/');
    }),
  );
  app.post('/add', (req, res) => {
    (req.session as unknown as Record<string, unknown>)[String(req.query.key ?? 'k')] = true;
    res.json({ ok: true });
  });
  app.post('/incr', (req, res) => {
    req.session.n = (req.session.n ?? 0) + 1;
    res.json({ ok: true });
  });
  app.post('/logout', (req, res, next) =>
    req.session.destroy((error) => (error ? next(error) : res.redirect(303, '/'))),
  );
  app.get('/fail-after-write', (req, res) => {
    (req.session as unknown as Record<string, unknown>).lost = 1;
    res.status(500).type('text/plain').send('failed on purpose');
  });
  app.get('/throw', (req) => {
    (req.session as unknown as Record<string, unknown>).lost = 2;
    throw new Error('boom: internal detail that must not reach the client');
  });
  app.use(errorHandler);
  const server = createServer(app);
  let port = 0;
  const call = httpCaller(() => port);
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(() => close(server));

  it('first visit -> login -> read -> concurrent writes -> logout -> replay the old cookie', async () => {
    await loginLogoutScenario({ call, inner, store, errors }, '/', {
      cookie: /^sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}; .*HttpOnly/i,
      userIndex: false,
    });
  });

  it('a 5xx answer, and a handler that throws (Express error path), persist nothing', async () => {
    await expectAnswerPersistingNothing({ call, inner }, '/fail-after-write', 500, 'failed on purpose');
    await expectAnswerPersistingNothing({ call, inner }, '/throw', 500, 'Internal Server Error\n');
  });

  for (const mode of ['throw', 'hang'] as const) {
    it(`a store that is down (${mode}) answers a plain 503 within 2 s (express-session: next(err))`, async () => {
      await storeDownScenario(
        { call, store, errors },
        mode,
        undefined,
        `sid=${sign('A'.repeat(43), SECRET)}`,
      );
      expect(errors.every((e) => e instanceof SessionStoreError)).toBe(true);
      expect((await httpCall(port, 'GET', '/')).status).toBe(200);
    });
  }
});

describe("the drop-in takes Teller's bruteForce and clearSiteData", () => {
  const events: SessionEvent[] = [];
  const app = express();
  app.use(
    dropIn({
      secret: SECRET,
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      bruteForce: { policy: '429', threshold: 3 },
      clearSiteData: { logout: true },
      onEvent: (event) => events.push(event),
      onError: () => {},
    }),
  );
  app.get('/', (req, res) => res.json({ user: req.session.user ?? null }));
  app.post('/login', (req, res) => {
    req.session.user = String(req.query.user);
    res.redirect(303, '/');
  });
  app.post('/logout', (req, res, next) =>
    req.session.destroy((error) => (error ? next(error) : res.redirect(303, '/'))),
  );
  const server = createServer(app);
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(() => close(server));

  it('a burst of unknown ids is answered 429 with Retry-After (Express error page), destroy sends Clear-Site-Data', async () => {
    await bruteForceScenario(
      httpCaller(() => port),
      events,
      (answer) => expect(answer.body).toContain('Too Many Requests'),
    );
  });
});

describe('require() from a CommonJS app (the built dist)', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill();
  });

  it("require('teller/adapters/express-session') is the middleware factory; app.use(session({...})) works", async () => {
    const fixture = path.join(process.cwd(), 'test/fixtures/express-session-app.cjs');
    child = spawn(process.execPath, [fixture], {
      env: { ...process.env, SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    const first = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout?.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolve(out.trim());
      });
      child!.on('exit', (code) => reject(new Error(`the app exited (${code}): ${stderr}`)));
    });
    const loaded = JSON.parse(first) as { port: number; type: string; keys: string[] };
    expect(loaded.type).toBe('function');
    expect(loaded.keys).toEqual(['Cookie', 'MemoryStore', 'Session', 'Store']);
    const jar = new TinyJar();
    for (let i = 1; i <= 2; i++) {
      const answer = await httpCall(loaded.port, 'POST', '/visit', { jar });
      expect(JSON.parse(answer.body)).toEqual({ views: i, memoryStore: true });
    }
  });
});

/** Code written for express-session, with only its import changed to the drop-in (it never imports express-session). */
const TYPED_APP = `
import express from 'express';
import session from 'teller/adapters/express-session';

declare module 'express-session' {
  interface SessionData {
    views: number;
    cart: string[];
  }
}

class MapStore extends session.Store {
  readonly entries = new Map<string, session.SessionData>();
  get(sid: string, callback: (error: unknown, data?: session.SessionData | null) => void): void {
    callback(null, this.entries.get(sid) ?? null);
  }
  set(sid: string, data: session.SessionData, callback?: (error?: unknown) => void): void {
    this.entries.set(sid, data);
    callback?.();
  }
  destroy(sid: string, callback?: (error?: unknown) => void): void {
    this.entries.delete(sid);
    callback?.();
  }
}

function watch(store: session.Store): session.Store {
  store.on('disconnect', () => {});
  return store;
}

const options: session.SessionOptions = {
  secret: ['the new secret', 'the old one'],
  name: 'sid',
  genid: () => 'ignored',
  resave: false,
  saveUninitialized: false,
  rolling: true,
  unset: 'destroy',
  proxy: true,
  cookie: { maxAge: 60_000, sameSite: 'lax', secure: 'auto', path: '/', httpOnly: true },
  store: watch(new MapStore()),
};
const app = express();
app.use(session(options));
app.use(session({ secret: 'another', store: new session.MemoryStore() }));
app.get('/', (req, res, next) => {
  req.session.views = (req.session.views ?? 0) + 1;
  req.session.cart = [...(req.session.cart ?? []), 'pear'];
  // @ts-expect-error: the declared data is typed, as with express-session
  req.session.views = 'many';
  const id: string = req.sessionID;
  const same: boolean = req.session.id === id;
  const left: number | undefined = req.session.cookie.maxAge;
  const original: number | null = req.session.cookie.originalMaxAge;
  req.session.touch().resetMaxAge();
  req.session.regenerate((error) => {
    if (error) return next(error);
    req.session.save((error) => {
      if (error) return next(error);
      req.session.reload(() => req.session.destroy(() => res.json({ same, left, original })));
    });
  });
});
`;

describe('types: the published drop-in, in a program of its own', () => {
  it('code written for express-session type-checks with only its import changed (and a type error is caught)', () => {
    // Inside the package, so that 'teller/...' resolves to this package's built types (dist).
    const dir = mkdtempSync(path.join(process.cwd(), '.types-check-'));
    try {
      writeFileSync(path.join(dir, 'app.ts'), TYPED_APP);
      const compilerOptions = {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
      };
      writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['app.ts'] }));
      const tsc = path.join(process.cwd(), 'node_modules/typescript/bin/tsc');
      const run = (): string => {
        try {
          return execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
        } catch (error) {
          return String((error as { stdout?: string }).stdout ?? error);
        }
      };
      expect(run()).toBe('');
      // The same program with the @ts-expect-error removed fails: the types are express-session's, not any.
      writeFileSync(path.join(dir, 'app.ts'), TYPED_APP.replace(/ *\/\/ @ts-expect-error[^\n]*\n/, ''));
      expect(run()).toMatch(
        /app\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
