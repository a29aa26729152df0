/**
 * The express-session store bridge (`fromExpressStore`): the shared contract suite against express-session's own
 * MemoryStore, the real connect-redis 9 (node-redis 5 client, a random prefix of its own, its keys deleted at
 * the end) and the real connect-pg-simple 10 (a table of its own, created here and dropped at the end), then its
 * own behaviour and the manager over it. Redis or PostgreSQL unreachable: those parts are skipped with a line
 * saying so, except in CI (CI set), where that fails.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import PgSession from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeSessions } from '../../src/adapters/node.js';
import { createSessionManager } from '../../src/index.js';
import {
  SessionLockTimeoutError,
  SessionStoreError,
  SessionStoreTimeoutError,
} from '../../src/session/errors.js';
import { type ExpressStoreLike, fromExpressStore } from '../../src/stores/express.js';
import type { LegacyEntries } from '../../src/testing/index.js';
import {
  type AdapterCall,
  close,
  type LegacySubject,
  legacySessionScenario,
  listen,
} from '../adapters/helpers.js';
import { Browser, cartThroughLogin, freshnessScenario, passiveScenario, visit } from '../session/helpers.js';
import { reachable } from '../support/net.js';
import { fullRecord, minimalRecord, runStoreContract } from './contract.js';

/**
 * What every express store lacks behind the bridge: atomic compare-and-set, the user index, purge, count. The
 * contract runs with `legacyKeys: true`, so the migration of express-session's own sessions is in it.
 */
const abilities = {
  userIndex: false,
  retireByUser: false,
  purgeExpired: false,
  count: false,
  clock: 'real',
  atomicCompareAndSet: false,
  migrateLegacy: true,
} as const;

/** An express store's callback method as a promise (a store may also return one: the callback counts). */
function callback<T>(invoke: (cb: (error?: unknown, result?: T) => void) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    invoke((error, result) => (error ? reject(error) : resolve(result as T)));
  });
}

/** The raw entries of an express store, as express-session writes them (`store.set(sid, session)`). */
function legacyEntries(store: ExpressStoreLike): LegacyEntries {
  return {
    write: (rawId, value) => callback<void>((cb) => store.set(rawId, value as never, cb)),
    has: async (rawId) => (await callback<unknown>((cb) => store.get(rawId, cb))) != null,
  };
}

const run = randomBytes(4).toString('hex');

// --- Redis -------------------------------------------------------------------------------------------------

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

const redisUp = await reachable(redisUrl.hostname, Number(redisUrl.port || 6379));
if (!redisUp) {
  if (process.env.CI)
    throw new Error(`Redis is unreachable at ${redisUrl.href}: the connect-redis suite must run in CI`);
  console.warn(
    `[express-store] Redis is unreachable at ${redisUrl.href}: the connect-redis tests are skipped`,
  );
}
/** Every key of this file starts with it (connect-redis's prefix); deleted by SCAN at the end, never FLUSH. */
const redisPrefix = `teller-test-express:${run}:`;
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

// --- PostgreSQL --------------------------------------------------------------------------------------------

const pgUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const table = `teller_test_express_${run}`;
/** The table of the migration scenario (express-session's sessions taken over), apart from the contract's. */
const legacyTable = `${table}_legacy`;
const pool = new pg.Pool({
  connectionString: pgUrl,
  application_name: table,
  max: 4,
  connectionTimeoutMillis: 3_000,
});
pool.on('error', () => {});
const pgUp = await pool
  // The table of connect-pg-simple's table.sql, with constraint and index names of its own (its own
  // createTableIfMissing names them session_pkey and IDX_session_expire, shared by every table in the schema).
  .query(
    [table, legacyTable]
      .map(
        (name) =>
          `CREATE TABLE "${name}" ("sid" varchar NOT NULL COLLATE "default" PRIMARY KEY, "sess" json NOT NULL,
             "expire" timestamp(6) NOT NULL);
           CREATE INDEX "${name}_expire" ON "${name}" ("expire");`,
      )
      .join('\n'),
  )
  .then(
    () => true,
    (error: Error) => {
      if (process.env.CI) throw new Error(`PostgreSQL at ${pgUrl} is unreachable in CI`, { cause: error });
      console.warn(
        `[express-store] no PostgreSQL at ${pgUrl} (${error.message}): the connect-pg-simple tests are skipped`,
      );
      return false;
    },
  );
afterAll(async () => {
  if (pgUp) await pool.query(`DROP TABLE IF EXISTS "${table}", "${legacyTable}"`);
  await pool.end();
});
const PgStore = PgSession(session);
const pgStore = (tableName = table) => new PgStore({ pool, tableName, pruneSessionInterval: false });

// --- the contract ------------------------------------------------------------------------------------------

runStoreContract(
  'express-session MemoryStore (fromExpressStore)',
  () => {
    const express = new session.MemoryStore();
    return { store: fromExpressStore(express, { legacyKeys: true }), legacy: legacyEntries(express) };
  },
  { abilities },
);

if (redis !== undefined) {
  let n = 0;
  runStoreContract(
    'connect-redis 9 (fromExpressStore)',
    () => {
      const express = new RedisStore({ client: redis, prefix: `${redisPrefix}${++n}:` });
      return {
        store: fromExpressStore(express, { legacyKeys: true }),
        legacy: legacyEntries(express),
        cleanup: () => express.clear(),
      };
    },
    { abilities },
  );
}

if (pgUp) {
  runStoreContract(
    'connect-pg-simple 10 (fromExpressStore)',
    () => {
      const express = pgStore();
      return {
        store: fromExpressStore(express, { legacyKeys: true }),
        legacy: legacyEntries(express),
        cleanup: async () => {
          await pool.query(`TRUNCATE "${table}"`);
        },
      };
    },
    { abilities },
  );
}

// --- its own behaviour -------------------------------------------------------------------------------------

/** A hand-made express store: a Map, with faults on demand. */
class FakeExpressStore implements ExpressStoreLike {
  readonly sessions = new Map<string, unknown>();
  mode: 'ok' | 'error' | 'throw' | 'twice' | 'never' | 'reject' = 'ok';
  #answer(cb: ((error?: unknown, result?: unknown) => void) | undefined, result?: unknown): unknown {
    switch (this.mode) {
      case 'error':
        setImmediate(() => cb?.(new Error('boom')));
        return;
      case 'throw':
        throw new Error('thrown');
      case 'twice':
        setImmediate(() => {
          cb?.(null, result);
          cb?.(new Error('second call'));
          cb?.(null, result);
        });
        return;
      case 'never':
        return;
      case 'reject':
        return Promise.reject(new Error('rejected'));
      default:
        setImmediate(() => cb?.(null, result));
    }
  }
  get(sid: string, cb: (error?: unknown, result?: unknown) => void) {
    return this.#answer(cb, this.sessions.has(sid) ? structuredClone(this.sessions.get(sid)) : null);
  }
  set(sid: string, value: unknown, cb?: (error?: unknown) => void) {
    if (this.mode === 'ok') this.sessions.set(sid, structuredClone(value));
    return this.#answer(cb);
  }
  destroy(sid: string, cb?: (error?: unknown) => void) {
    if (this.mode === 'ok') this.sessions.delete(sid);
    return this.#answer(cb);
  }
}

describe('fromExpressStore: its own behaviour', () => {
  it('saves an express-session session object: cookie.expires = now + ttlMs, the record under teller', async () => {
    const express = new FakeExpressStore();
    const store = fromExpressStore(express, { clock: () => 1_000_000 });
    expect(store.lockOnly).toBe(true);
    await store.set('key', fullRecord(), null, 90_000);
    expect(express.sessions.get('key')).toStrictEqual({
      cookie: { expires: new Date(1_090_000), originalMaxAge: 90_000 },
      teller: fullRecord(),
    });
    // At least 1 s, so connect-redis (seconds, rounded up) never turns a write into a delete.
    await store.set('short', minimalRecord(), null, 0);
    expect((express.sessions.get('short') as { cookie: { expires: Date } }).cookie.expires.getTime()).toBe(
      1_001_000,
    );
  });

  it('legacyKeys: a raw entry whose move fails half-way (the destroy) rejects; the record is under the hash, found next', async () => {
    const express = new FakeExpressStore();
    const store = fromExpressStore(express, { legacyKeys: true });
    express.sessions.set('raw', { cookie: { expires: null }, cart: ['a'] });
    const destroy = express.destroy.bind(express);
    express.destroy = () => {
      throw new Error('connection lost');
    };
    const adopt = () => ({ record: minimalRecord({ data: '{"cart":["a"]}' }), ttlMs: 60_000 });
    await expect(store.migrateLegacy!('raw', 'key', adopt)).rejects.toBeInstanceOf(SessionStoreError);
    express.destroy = destroy;
    expect(await store.get('key')).toStrictEqual(minimalRecord({ data: '{"cart":["a"]}' }));
  });

  it('treats a session object without a Teller record (written by express-session itself) as absent', async () => {
    const express = new FakeExpressStore();
    express.sessions.set('raw', { cookie: { expires: null }, user: 'x' });
    expect(await fromExpressStore(express).get('raw')).toBeNull();
  });

  for (const mode of ['error', 'throw', 'reject'] as const) {
    it(`a store that ${mode === 'error' ? 'calls back with an error' : mode === 'throw' ? 'throws' : 'rejects its promise'} rejects with SessionStoreError, its error as cause`, async () => {
      const express = new FakeExpressStore();
      const store = fromExpressStore(express, { legacyKeys: true });
      express.mode = mode;
      for (const op of [
        () => store.get('k'),
        () => store.set('k', minimalRecord(), null, 1_000),
        () => store.delete('k'),
        () => store.migrateLegacy!('raw', 'k', () => ({ record: minimalRecord(), ttlMs: 1_000 })),
      ]) {
        const error = await op().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SessionStoreError);
        expect((error as SessionStoreError).status).toBe(503);
        expect((error as Error).message).toMatch(/^\[teller\] \[express-store\] (get|delete) failed$/);
        expect((error as Error).cause).toBeInstanceOf(Error);
      }
    });
  }

  it('a corrupt stored value rejects with SessionStoreError', async () => {
    const express = new FakeExpressStore();
    express.sessions.set('k', 'not an object');
    await expect(fromExpressStore(express).get('k')).rejects.toBeInstanceOf(SessionStoreError);
  });

  it('a store that calls back twice settles once, with the first answer', async () => {
    const express = new FakeExpressStore();
    const store = fromExpressStore(express);
    await store.set('k', minimalRecord(), null, 60_000);
    express.mode = 'twice';
    expect(await store.get('k')).toStrictEqual(minimalRecord());
    await expect(store.delete('k')).resolves.toBeUndefined();
  });

  it('a store that never calls back cannot hang the manager: storeTimeout answers', async () => {
    const express = new FakeExpressStore();
    const manager = createSessionManager<{ n: number }>({
      store: fromExpressStore(express),
      storeTimeout: 100,
    });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1), { now: Date.now() });
    express.mode = 'never';
    const started = performance.now();
    const error = await manager.load(browser.header(), { now: Date.now() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreTimeoutError);
    expect(performance.now() - started).toBeLessThan(1_000);
    await manager.close();
  });

  it('has no user index: listSessions and revokeSessions throw a TypeError', async () => {
    const manager = createSessionManager({ store: fromExpressStore(new session.MemoryStore()) });
    await expect(manager.listSessions('alice')).rejects.toThrow(TypeError);
    await expect(manager.revokeSessions('alice')).rejects.toThrow(TypeError);
    await manager.close();
  });

  it('refuses what is not an express-session store, with a TypeError', () => {
    expect(() => fromExpressStore(null as never)).toThrow(TypeError);
    expect(() => fromExpressStore({ get() {}, set() {} } as never)).toThrow(/no destroy\(\) method/);
  });
});

// --- the manager over the bridge ---------------------------------------------------------------------------

const backends: Array<[string, boolean, () => ExpressStoreLike]> = [
  ['MemoryStore', true, () => new session.MemoryStore()],
  [
    'connect-redis',
    redis !== undefined,
    () => new RedisStore({ client: redis!, prefix: `${redisPrefix}m:` }),
  ],
  ['connect-pg-simple', pgUp, () => pgStore()],
];

describe('the session manager over fromExpressStore', () => {
  for (const [name, available, make] of backends) {
    it.skipIf(!available)(`${name}: step-up freshness (authenticatedAt, isFresh)`, async () => {
      await freshnessScenario(fromExpressStore(make()));
    });

    it.skipIf(!available)(
      `${name}: passive requests end at the idle timeout, their writes land`,
      async () => {
        await passiveScenario(fromExpressStore(make()));
      },
    );

    it.skipIf(!available)(`${name}: login, cart, logout`, async () => {
      const manager = createSessionManager<{ cart: string[] }>({ store: fromExpressStore(make()) });
      const now = () => ({ now: Date.now() });
      try {
        const laptop = new Browser();
        expect(await cartThroughLogin(manager, laptop, now)).toEqual(['alice', ['apple', 'pear']]);
        await visit(manager, laptop, (s) => s.logout(), now());
        expect((await visit(manager, laptop, (s) => [s.userId, s.get('cart')], now())).result).toEqual([
          undefined,
          undefined,
        ]);
      } finally {
        await manager.close();
      }
    });
  }

  it('keeps the strict lock: a second request of the session waits, then SessionLockTimeoutError after 5 s', async () => {
    const manager = createSessionManager<{ n: number }>({
      store: fromExpressStore(new session.MemoryStore()),
      lockTimeout: 50,
    });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1), { now: Date.now() });
    const holder = await manager.load(browser.header(), { now: Date.now() });
    const started = performance.now();
    const error = await manager.load(browser.header(), { now: Date.now() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionLockTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(4_900);
    // Released, the next request goes on at once and sees the holder's write.
    holder.set('n', 2);
    await manager.commit(holder);
    const next = await visit(manager, browser, (s) => s.get('n'), { now: Date.now() });
    expect(next.result).toBe(2);
    await manager.close();
  }, 10_000);

  it('a waiter released within 5 s goes on, after the holder, and both writes count', async () => {
    const manager = createSessionManager<{ a?: number; b?: number }>({
      store: fromExpressStore(new session.MemoryStore()),
      lockTimeout: 50,
    });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('a', 0), { now: Date.now() });
    const holder = await manager.load(browser.header(), { now: Date.now() });
    const waiting = manager.load(browser.header(), { now: Date.now() });
    await new Promise((resolve) => setTimeout(resolve, 300));
    holder.set('a', 1);
    await manager.commit(holder);
    const waiter = await waiting;
    waiter.set('b', 2);
    await manager.commit(waiter);
    const seen = await visit(manager, browser, (s) => [s.get('a'), s.get('b')], { now: Date.now() });
    expect(seen.result).toEqual([1, 2]);
    await manager.close();
  });
});

// --- express-session's own sessions, taken over (legacyKeys + legacyCookies) ------------------------------

const SECRET = 'the secret express-session signed with, 32 bytes or more';
const HOUR = 3_600_000;

/** A real express-session app: `GET /seed?cart=[...]` starts a session `{ cart, views: 1 }` (`&persistent=1`: maxAge). */
function expressSessionApp(store: session.Store): Server {
  const app = express();
  app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false }));
  app.get('/seed', (req, res) => {
    const data = req.session as unknown as Record<string, unknown>;
    data.cart = JSON.parse(String(req.query.cart));
    data.views = 1;
    if (req.query.persistent === '1') req.session.cookie.maxAge = HOUR;
    res.json({ id: req.sessionID });
  });
  return createServer(app);
}

/** A Teller app (node adapter) that takes express-session's cookies, on `store` through the bridge. */
function tellerApp(store: ExpressStoreLike, errors: unknown[]) {
  const manager = createSessionManager<{ cart: string[]; views: number }>({
    store: fromExpressStore(store, { legacyKeys: true }),
    secret: SECRET,
    legacyCookies: 'express-session',
    cookie: { name: 'connect.sid' },
  });
  const sessions = createNodeSessions(manager, { onError: (error) => errors.push(error) });
  const server = createServer(
    sessions.wrap((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const s = req.session;
      if (req.method === 'POST' && url.pathname === '/add') {
        s.update('cart', (cart = []) => [...cart, url.searchParams.get('item') ?? '?']);
      }
      if (req.method === 'POST' && url.pathname === '/login')
        s.login(url.searchParams.get('user') ?? 'alice');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          user: s.userId ?? null,
          cart: s.get('cart') ?? null,
          views: s.get('views') ?? null,
        }),
      );
    }),
  );
  return { manager, server };
}

/** The same express store, the sids read through it recorded. */
function recording(store: ExpressStoreLike, reads: string[]): ExpressStoreLike {
  return {
    get: (sid, cb) => {
      reads.push(sid);
      return store.get(sid, cb);
    },
    set: (sid, value, cb) => store.set(sid, value, cb),
    destroy: (sid, cb) => store.destroy(sid, cb),
  };
}

/** The scenarios' client over fetch, to the server listening on `port()`. */
const fetchCall =
  (port: () => number): AdapterCall =>
  async (method, path, options = {}) => {
    const started = performance.now();
    const headers: Record<string, string> = { ...options.headers };
    const cookie = options.jar?.header();
    if (cookie !== undefined) headers.cookie = cookie;
    const url = `http://127.0.0.1:${port()}${path}`;
    const res = await fetch(url, { method, headers, redirect: 'manual', signal: options.signal });
    const receivedAt = performance.now();
    const body = await res.text();
    const setCookie = res.headers.getSetCookie();
    options.jar?.apply(setCookie);
    return {
      status: res.status,
      header: (name) => res.headers.get(name) ?? undefined,
      setCookie,
      body,
      receivedAt,
      elapsed: performance.now() - started,
    };
  };

const legacyBackends: Array<[string, boolean, () => session.Store, () => Promise<number>]> = (() => {
  const memory = new session.MemoryStore();
  const legacyPrefix = `${redisPrefix}legacy:`;
  return [
    ['MemoryStore', true, () => memory, () => callback<number>((cb) => memory.length(cb))],
    [
      'connect-redis 9',
      redis !== undefined,
      () => new RedisStore({ client: redis!, prefix: legacyPrefix }),
      async () => {
        let n = 0;
        for await (const keys of redis!.scanIterator({ MATCH: `${legacyPrefix}*`, COUNT: 1000 }))
          n += keys.length;
        return n;
      },
    ],
    [
      'connect-pg-simple 10',
      pgUp,
      () => pgStore(legacyTable),
      async () => Number((await pool.query(`SELECT count(*) AS n FROM "${legacyTable}"`)).rows[0].n),
    ],
  ];
})();

describe("express-session's live sessions survive the switch (legacyKeys, legacyCookies)", () => {
  for (const [name, available, make, entries] of legacyBackends) {
    it.skipIf(!available)(`${name}: a real express-session app's cookie, then Teller's`, async () => {
      const store = make();
      const reads: string[] = [];
      const errors: unknown[] = [];
      const legacyApp = expressSessionApp(store);
      const one = tellerApp(recording(store as ExpressStoreLike, reads), errors);
      const two = tellerApp(recording(store as ExpressStoreLike, reads), errors);
      const ports = { legacy: 0, one: 0, two: 0 };
      try {
        ports.legacy = await listen(legacyApp);
        ports.one = await listen(one.server);
        ports.two = await listen(two.server);
        const subject: LegacySubject = {
          call: fetchCall(() => ports.one),
          other: fetchCall(() => ports.two),
          cookieName: 'connect.sid',
          secret: SECRET,
          async seed(cart, persistent = false) {
            const query = `cart=${encodeURIComponent(JSON.stringify(cart))}${persistent ? '&persistent=1' : ''}`;
            const res = await fetch(`http://127.0.0.1:${ports.legacy}/seed?${query}`);
            const { id } = (await res.json()) as { id: string };
            const line = res.headers.getSetCookie().find((l) => l.startsWith('connect.sid='));
            if (line === undefined) throw new Error('express-session set no cookie');
            return { value: line.slice('connect.sid='.length, line.indexOf(';')), id };
          },
          has: async (sid) => (await callback<unknown>((cb) => store.get(sid, cb))) != null,
          entries,
          reads: () => reads.splice(0),
          errors,
        };
        await legacySessionScenario(subject);
      } finally {
        await Promise.all(
          [legacyApp, one.server, two.server].map((server) => server.listening && close(server)),
        );
        await Promise.all([one.manager.close(), two.manager.close()]);
      }
    });
  }
});
