/**
 * `legacyCookies: 'express-session'`: express-session's signed cookie accepted (and nothing else), its session
 * object converted into a Teller record, and the manager over a store that migrates (`fromExpressStore(store,
 * { legacyKeys: true })` on express-session's own MemoryStore, in process; the real connect-redis and
 * connect-pg-simple apps are in test/stores/express.test.ts). Express-session's MemoryStore drops sessions by
 * the real clock, so these tests run at real time (`Date.now()`), moving the manager's `now` where they judge
 * expiry.
 */
import { inspect } from 'node:util';
import { sign } from 'cookie-signature';
import session from 'express-session';
import { describe, expect, it } from 'vitest';
import {
  createSessionManager,
  type SessionEvent,
  type SessionStore,
  SessionStoreError,
  SessionStoreTimeoutError,
} from '../../src/index.js';
import { storeKeyOf } from '../../src/session/ids.js';
import { adoptExpressSession, decodeLegacyCookie, encodeLegacyCookie } from '../../src/session/legacy.js';
import { resolveOptions, type SessionManagerOptions } from '../../src/session/options.js';
import { type ExpressStoreLike, fromExpressStore } from '../../src/stores/express.js';
import { flipBit } from '../support/tamper.js';
import { HOUR, MINUTE, TestStore } from './helpers.js';

const SECRET = 'the secret express-session signed with, 32 bytes or more';
const OLD_SECRET = 'the secret express-session signed with before, 32+ bytes';
const DAY = 24 * HOUR;
/** An id as express-session's default genid makes it (uid-safe, 24 bytes: 32 base64url characters). */
const newId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64url');
/** The Cookie header a browser sends back after express-session's Set-Cookie (percent-encoded, as it is set). */
const header = (id: string, secret = SECRET) => `connect.sid=${encodeURIComponent(`s:${sign(id, secret)}`)}`;

/** `value` with one bit of its signature (base64) flipped. */
function flipSignature(value: string): string {
  const mac = Buffer.from(value.slice(-43), 'base64');
  mac[0] = mac[0]! ^ 1;
  return `${value.slice(0, -43)}${mac.toString('base64').replace(/=+$/, '')}`;
}

/** A session object as express-session stores it: the cookie (persistent when `expires` is given), the data. */
function expressSession(data: Record<string, unknown>, expires: number | null = null) {
  return {
    cookie: {
      originalMaxAge: expires === null ? null : HOUR,
      expires: expires === null ? null : new Date(expires).toISOString(),
      httpOnly: true,
      path: '/',
    },
    ...data,
  };
}

function put(store: session.Store, id: string, value: object): Promise<void> {
  return new Promise((resolve, reject) =>
    store.set(id, value as session.SessionData, (error) => (error ? reject(error) : resolve())),
  );
}

function has(store: session.Store, id: string): Promise<boolean> {
  return new Promise((resolve, reject) =>
    store.get(id, (error, value) => (error ? reject(error) : resolve(value != null))),
  );
}

/** The same express store, every sid read or written through it recorded. */
function recording(store: ExpressStoreLike, calls: string[]): ExpressStoreLike {
  return {
    get(sid, cb) {
      calls.push(`get ${sid}`);
      return store.get(sid, cb);
    },
    set(sid, value, cb) {
      calls.push(`set ${sid}`);
      return store.set(sid, value, cb);
    },
    destroy(sid, cb) {
      calls.push(`destroy ${sid}`);
      return store.destroy(sid, cb);
    },
  };
}

/** A manager taking express-session's cookies over `express` (through the bridge, migrating unless told). */
function managerOn(
  express: ExpressStoreLike,
  options: Partial<SessionManagerOptions> = {},
  legacyKeys = true,
) {
  return createSessionManager<{ cart: string[]; views: number }>({
    store: fromExpressStore(express, { legacyKeys }),
    secret: SECRET,
    legacyCookies: 'express-session',
    cookie: { name: 'connect.sid' },
    ...options,
  });
}

describe('decodeLegacyCookie: express-session signed values only', () => {
  const id = newId();
  const good = `s:${sign(id, SECRET)}`;
  it('reads a value express-session signed (cookie-signature), with any of the secrets', () => {
    expect(decodeLegacyCookie(good, [SECRET])).toBe(id);
    expect(decodeLegacyCookie(`s:${sign(id, OLD_SECRET)}`, [SECRET, OLD_SECRET])).toBe(id);
    expect(encodeLegacyCookie(id, [SECRET, OLD_SECRET])).toBe(good);
  });

  it('reads ids of 22 to 128 base64url characters (uid-safe, a UUID)', () => {
    for (const other of ['a'.repeat(22), 'b'.repeat(128), crypto.randomUUID(), 'A-_z09'.repeat(5)]) {
      expect(decodeLegacyCookie(`s:${sign(other, SECRET)}`, [SECRET])).toBe(other);
    }
  });

  const refused: Array<[string, string]> = [
    ['another secret', `s:${sign(id, OLD_SECRET)}`],
    ['a tampered signature', flipSignature(good)],
    ['a tampered id', `s:${flipBit(id)}${good.slice(2 + id.length)}`],
    ['no signature', `s:${id}`],
    ['the id alone', id],
    ['no s: prefix', sign(id, SECRET)],
    ['S: prefix', `S:${sign(id, SECRET)}`],
    ['trailing bytes', `${good}x`],
    ['an empty value', ''],
    ['an id of 21 characters', `s:${sign('a'.repeat(21), SECRET)}`],
    ['an id of 129 characters', `s:${sign('a'.repeat(129), SECRET)}`],
    ['an id with a dot', `s:${sign(`${id.slice(0, 10)}.${id.slice(11)}`, SECRET)}`],
    ['an id with a space', `s:${sign(`${id.slice(0, 10)} ${id.slice(11)}`, SECRET)}`],
    ['an id with %', `s:${sign(`${id.slice(0, 10)}%41${id.slice(13)}`, SECRET)}`],
    ['junk of the right length', `s:${'!'.repeat(32)}.${'x'.repeat(43)}`],
  ];
  it.each(refused)('refuses %s', (_, value) => {
    expect(decodeLegacyCookie(value, [SECRET])).toBeUndefined();
  });
});

describe('adoptExpressSession: the conversion', () => {
  const now = Date.UTC(2026, 5, 1);
  const options = (more: Partial<SessionManagerOptions> = {}) =>
    resolveOptions({ store: new TestStore(), secret: SECRET, legacyCookies: 'express-session', ...more });

  it('the data without cookie; with cookie.expires: persistent, expiring then, created now', () => {
    const adopted = adoptExpressSession(
      options(),
      now,
      { ip: '10.0.0.1' },
      expressSession({ cart: ['apple'], views: 3, nested: { a: [1, null] } }, now + HOUR),
    );
    expect(adopted).toStrictEqual({
      record: {
        format: 1,
        data: '{"cart":["apple"],"views":3,"nested":{"a":[1,null]}}',
        version: 1,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + HOUR,
        persistent: true,
        meta: { ip: '10.0.0.1' },
      },
      ttlMs: HOUR + 60_000,
    });
  });

  it('a cookie.expires as a Date (an in-process store) counts as the string does', () => {
    const value = { cookie: { expires: new Date(now + HOUR), originalMaxAge: HOUR }, cart: [] };
    expect(adoptExpressSession(options(), now, undefined, value)).toMatchObject({
      record: { expiresAt: now + HOUR, persistent: true },
    });
  });

  it('a far cookie.expires is bounded by the lifetimes of a remembered session (rememberMe)', () => {
    const adopted = adoptExpressSession(options(), now, undefined, expressSession({}, now + 3650 * DAY));
    expect(adopted).toMatchObject({ record: { expiresAt: now + 30 * DAY, persistent: true } });
  });

  it('without cookie.expires (a browser-session cookie): not persistent, the idle lifetime from now', () => {
    for (const value of [expressSession({ cart: ['x'] }), { cart: ['x'] }, { cookie: {}, cart: ['x'] }]) {
      const adopted = adoptExpressSession(options({ idleTimeout: 20 * MINUTE }), now, undefined, value);
      expect(adopted).toStrictEqual({
        record: {
          format: 1,
          data: '{"cart":["x"]}',
          version: 1,
          createdAt: now,
          lastSeenAt: now,
          expiresAt: now + 20 * MINUTE,
        },
        ttlMs: 20 * MINUTE + 60_000,
      });
    }
  });

  it('with anonymousLifetime: persistent, within it (as any anonymous session of that manager)', () => {
    const adopted = adoptExpressSession(options({ anonymousLifetime: 7 * DAY }), now, undefined, {
      cart: [],
    });
    expect(adopted).toMatchObject({ record: { expiresAt: now + 7 * DAY, persistent: true } });
  });

  it('a cookie.expires at or before now: the store still holds it, so it is taken over, persistent, for the idle lifetime from now', () => {
    for (const expires of [now, now - 1, now - DAY]) {
      const adopted = adoptExpressSession(options(), now, undefined, expressSession({ cart: [] }, expires));
      expect(adopted).toMatchObject({ record: { persistent: true, createdAt: now } });
      expect('record' in adopted && adopted.record.expiresAt > now).toBe(true);
    }
  });

  it('drops keys Teller reserves (teller:...) and __proto__, keeps other own keys', () => {
    const value = JSON.parse('{"cookie":{},"__proto__":{"polluted":true},"teller:csrf":"x","ok":1}');
    const adopted = adoptExpressSession(options(), now, undefined, value);
    expect(adopted).toMatchObject({ record: { data: '{"ok":1}' } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('uses the manager serializer and its maxDataBytes', () => {
    const serializer = { stringify: (d: object) => `custom:${JSON.stringify(d)}`, parse: () => ({}) };
    expect(adoptExpressSession(options({ serializer }), now, undefined, { a: 1 })).toMatchObject({
      record: { data: 'custom:{"a":1}' },
    });
    const big = adoptExpressSession(options({ maxDataBytes: 100 }), now, undefined, {
      blob: 'x'.repeat(200),
    });
    expect(big).toEqual({ refused: expect.stringMatching(/more than maxDataBytes \(100\)/) });
  });

  const unreadable: Array<[string, unknown, RegExp]> = [
    ['null', null, /not an object/],
    ['a string', 'sess', /not an object/],
    ['an array', [1], /not an object/],
    ['a cookie that is not an object', { cookie: 'c' }, /cookie is not an object/],
    ['a cookie.expires that is no date', { cookie: { expires: 'soon' } }, /cookie\.expires is not a date/],
    ['a cookie.expires of another type', { cookie: { expires: true } }, /cookie\.expires is not a date/],
  ];
  it.each(unreadable)('refuses %s, saying why', (_, value, reason) => {
    expect(adoptExpressSession(options(), now, undefined, value)).toEqual({
      refused: expect.stringMatching(reason),
    });
  });
});

describe('the legacyCookies option', () => {
  const store = () => new TestStore();
  it("needs secret, a store without seal, and the value 'express-session'", () => {
    expect(() => createSessionManager({ store: store(), legacyCookies: 'express-session' })).toThrow(
      /^\[teller\] \[session\] legacyCookies: 'express-session' needs secret/,
    );
    expect(() =>
      createSessionManager({
        store: store(),
        seal: { secrets: ['s'.repeat(32)] },
        secret: SECRET,
        legacyCookies: 'express-session',
      }),
    ).toThrow(/^\[teller\] \[session\] legacyCookies needs stored sessions \(a store\), not seal$/);
    for (const value of ['connect', true, 1]) {
      expect(() =>
        createSessionManager({ store: store(), secret: SECRET, legacyCookies: value as 'express-session' }),
      ).toThrow(/^\[teller\] \[session\] legacyCookies must be 'express-session'$/);
    }
    expect(() =>
      createSessionManager({ store: store(), secret: SECRET, legacyCookies: 'express-session' }),
    ).not.toThrow();
  });

  it('warns at creation when the store cannot migrate (sessions are then found only under their hash)', () => {
    const warnings: string[] = [];
    const logger = { warn: (message: string) => warnings.push(message) };
    createSessionManager({ store: store(), secret: SECRET, legacyCookies: 'express-session', logger });
    expect(warnings).toEqual([expect.stringMatching(/legacyCookies: the store has no migrateLegacy/)]);
    warnings.length = 0;
    managerOn(new session.MemoryStore(), { logger });
    expect(warnings).toEqual([]);
  });

  it('the bridge refuses a legacyKeys that is not a boolean', () => {
    expect(() => fromExpressStore(new session.MemoryStore(), { legacyKeys: 'yes' as never })).toThrow(
      /^\[teller\] \[express-store\] legacyKeys must be true or false$/,
    );
    expect(fromExpressStore(new session.MemoryStore()).migrateLegacy).toBeUndefined();
  });
});

describe('the manager over a migrating store', () => {
  it('takes a live session over once: the data, under the hash, the raw entry gone; a migrated event', async () => {
    const memory = new session.MemoryStore();
    const id = newId();
    const now = Date.now();
    await put(memory, id, expressSession({ cart: ['apple'], views: 2 }, now + HOUR));
    const events: SessionEvent[] = [];
    const manager = managerOn(memory, { onEvent: (event) => events.push(event) });
    const loaded = await manager.load(header(id), { now });
    expect([loaded.isNew, loaded.get('cart'), loaded.get('views')]).toEqual([false, ['apple'], 2]);
    expect(await manager.commit(loaded)).toEqual({ setCookie: [] });
    expect(await has(memory, id)).toBe(false);
    const record = await fromExpressStore(memory).get(storeKeyOf(id));
    expect(record).toMatchObject({ version: 1, persistent: true, expiresAt: now + HOUR, createdAt: now });
    expect(events).toEqual([{ type: 'migrated', at: now, ref: storeKeyOf(id).slice(0, 12) }]);
  });

  it('a stored cookie.expires already past (a rolling session the store touched) is taken over: the store judged it live', async () => {
    const memory = new session.MemoryStore();
    const id = newId();
    await put(memory, id, expressSession({ cart: ['old'] }, Date.now() + HOUR));
    const manager = managerOn(memory);
    const now = Date.now() + 2 * HOUR;
    const later = await manager.load(header(id), { now });
    expect([later.isNew, later.get('cart')]).toEqual([false, ['old']]);
    await manager.commit(later);
    expect(await has(memory, id)).toBe(false);
    const record = await fromExpressStore(memory).get(storeKeyOf(id));
    expect(record).toMatchObject({ persistent: true, createdAt: now });
    expect(record?.expiresAt).toBeGreaterThan(now);
  });

  it('unreadable legacy data: a warning with the reason and a ref (never the id), a fresh session, the raw entry left', async () => {
    const memory = new session.MemoryStore();
    const id = newId();
    await put(memory, id, { cookie: { expires: 'never' }, cart: ['x'] });
    const logs: string[] = [];
    const manager = managerOn(memory, {
      logger: { warn: (message, fields) => logs.push(`${message} ${inspect(fields)}`) },
    });
    const fresh = await manager.load(header(id), { now: Date.now() });
    expect(fresh.isNew).toBe(true);
    await manager.commit(fresh);
    expect(await has(memory, id)).toBe(true);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/cookie\.expires is not a date/);
    expect(logs[0]).toContain(storeKeyOf(id).slice(0, 12));
    expect(logs[0]).not.toContain(id);
  });

  it('without legacyCookies, or with a forged cookie, there is no store call at all', async () => {
    const memory = new session.MemoryStore();
    const id = newId();
    await put(memory, id, expressSession({ cart: ['apple'] }));
    const calls: string[] = [];
    const plain = managerOn(recording(memory, calls), { legacyCookies: undefined });
    const taking = managerOn(recording(memory, calls));
    const forged = [
      header(id, OLD_SECRET),
      `connect.sid=${encodeURIComponent(`s:${id}`)}`,
      `connect.sid=${id}`,
      `connect.sid=${encodeURIComponent(`s:${sign(id, SECRET)}`).slice(0, -3)}`,
    ];
    for (const [manager, cookies] of [
      [plain, [header(id)]],
      [taking, forged],
    ] as const) {
      for (const cookie of cookies) {
        const fresh = await manager.load(cookie, { now: Date.now() });
        expect(fresh.isNew).toBe(true);
        await manager.commit(fresh);
      }
    }
    expect(calls).toEqual([]);
    expect(await has(memory, id)).toBe(true);
  });

  it('an express-session cookie signed with an older secret is taken over; a re-sent cookie is signed with the first', async () => {
    const memory = new session.MemoryStore();
    const id = newId();
    await put(memory, id, expressSession({ cart: ['a'] }, Date.now() + HOUR));
    const manager = managerOn(memory, { secret: [SECRET, OLD_SECRET] });
    const loaded = await manager.load(header(id, OLD_SECRET), { now: Date.now() });
    loaded.update('cart', (cart = []) => [...cart, 'b']);
    const { setCookie } = await manager.commit(loaded);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(new RegExp(`^connect\\.sid=s:${id}\\.[A-Za-z0-9+/]{43}; Max-Age=\\d+; `));
    expect(setCookie[0]!.split(';')[0]).toBe(`connect.sid=${encodeLegacyCookie(id, [SECRET])}`);
  });

  it('a store without migrateLegacy finds the sessions already under the hash of their id, and only those', async () => {
    const memory = new session.MemoryStore();
    const [moved, raw] = [newId(), newId()];
    const now = Date.now();
    // Moved beforehand (a script rewrote the keys), and one left under its raw id.
    const bridge = fromExpressStore(memory);
    const record = adoptExpressSession(
      resolveOptions({ store: bridge, secret: SECRET, legacyCookies: 'express-session' }),
      now,
      undefined,
      expressSession({ cart: ['moved'] }),
    );
    if (!('record' in record)) throw new Error('not adopted');
    await bridge.set(storeKeyOf(moved), record.record, null, record.ttlMs);
    await put(memory, raw, expressSession({ cart: ['raw'] }));
    const manager = managerOn(memory, {}, false);
    expect((await manager.load(header(moved), { now })).get('cart')).toEqual(['moved']);
    const fresh = await manager.load(header(raw), { now });
    expect(fresh.isNew).toBe(true);
    expect(await has(memory, raw)).toBe(true);
  });

  it('regenerate gives a Teller id; renewAfter does too, and the legacy cookie follows its pointer within the grace', async () => {
    for (const how of ['regenerate', 'renewAfter'] as const) {
      const memory = new session.MemoryStore();
      const id = newId();
      const now = Date.now();
      await put(memory, id, expressSession({ cart: ['c'] }));
      const manager = managerOn(memory, how === 'renewAfter' ? { renewAfter: 10 * MINUTE } : {});
      await manager.commit(await manager.load(header(id), { now }));
      const at = now + 11 * MINUTE;
      const next = await manager.load(header(id), { now: how === 'renewAfter' ? at : now });
      if (how === 'regenerate') next.regenerate();
      const { setCookie } = await manager.commit(next);
      expect(setCookie, how).toHaveLength(1);
      const value = setCookie[0]!.slice('connect.sid='.length, setCookie[0]!.indexOf(';'));
      expect(value, how).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}$/);
      const teller = await manager.load(`connect.sid=${value}`, { now: at + 1000 });
      expect(teller.get('cart'), how).toEqual(['c']);
      await manager.commit(teller);
      const old = await manager.load(header(id), { now: at + 1000 });
      // Renewed: the old id works for the grace window; regenerated: it is retired at once.
      expect(old.get('cart'), how).toEqual(how === 'renewAfter' ? ['c'] : undefined);
      await manager.commit(old);
    }
  });

  it('logout with the legacy cookie ends the migrated session and clears the cookie', async () => {
    const memory = new session.MemoryStore();
    const id = newId();
    const now = Date.now();
    await put(memory, id, expressSession({ cart: ['c'] }));
    const manager = managerOn(memory);
    const loaded = await manager.load(header(id), { now });
    loaded.logout();
    const { setCookie } = await manager.commit(loaded);
    expect(setCookie).toEqual([expect.stringMatching(/^connect\.sid=; Max-Age=0; /)]);
    expect((await manager.load(header(id), { now: now + 1 })).isNew).toBe(true);
    expect(await has(memory, id)).toBe(false);
  });

  it('a migration that fails is a SessionStoreError; one that hangs, a SessionStoreTimeoutError within storeTimeout', async () => {
    const id = newId();
    const store = (migrateLegacy: SessionStore['migrateLegacy']): SessionStore => ({
      get: async () => null,
      set: async () => true,
      delete: async () => {},
      migrateLegacy,
    });
    const failing = createSessionManager({
      store: store(() => Promise.reject(new Error('connection reset'))),
      secret: SECRET,
      legacyCookies: 'express-session',
      cookie: { name: 'connect.sid' },
    });
    const error = await failing.load(header(id)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as Error).message).toBe('[teller] [session] store migrateLegacy failed');
    const hanging = createSessionManager({
      store: store(() => new Promise(() => {})),
      secret: SECRET,
      legacyCookies: 'express-session',
      cookie: { name: 'connect.sid' },
      storeTimeout: 100,
    });
    const started = performance.now();
    await expect(hanging.load(header(id))).rejects.toBeInstanceOf(SessionStoreTimeoutError);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('nothing logged, emitted or thrown carries the legacy id or its cookie', async () => {
    const memory = new session.MemoryStore();
    const ids = [newId(), newId(), newId()];
    const now = Date.now();
    await put(memory, ids[0]!, expressSession({ cart: ['a'] }, now + HOUR));
    await put(memory, ids[1]!, { cookie: { expires: 'never' } });
    await put(memory, ids[2]!, expressSession({}, now - 1));
    const captured: string[] = [];
    const capture = (message: string, fields?: Record<string, unknown>) =>
      captured.push(`${message} ${inspect(fields, { depth: 5 })}`);
    const manager = managerOn(memory, {
      logger: { debug: capture, info: capture, warn: capture, error: capture },
      onEvent: (event) => captured.push(JSON.stringify(event)),
    });
    for (const id of ids) {
      const loaded = await manager.load(header(id), { now });
      captured.push(inspect(loaded), JSON.stringify(loaded));
      loaded.update('cart', (cart = []) => [...cart, 'z']);
      await manager.commit(loaded);
    }
    expect(captured.some((line) => line.includes('migrated'))).toBe(true);
    expect(captured.some((line) => line.includes('not a date'))).toBe(true);
    const all = captured.join('\n');
    for (const id of ids) {
      expect(all).not.toContain(id);
      expect(all).not.toContain(sign(id, SECRET).slice(id.length + 1));
    }
  });
});
