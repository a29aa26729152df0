/**
 * Regression tests for the classes of published advisories in this ecosystem (SECURITY.md, "Advisories"),
 * those that no test elsewhere already reproduces: each one replays the attack of its advisory against
 * Teller. A comment above each test says what it would see if Teller had the vulnerable behaviour, so
 * every test here can fail. The classes proven elsewhere are named in SECURITY.md with their tests.
 */
import { describe, expect, it, vi } from 'vitest';
import { sign, unsign } from '../../src/cookie/index.js';
import { createSessionManager } from '../../src/index.js';
import { CookieJar } from '../../src/jar/index.js';
import { generateId } from '../../src/session/ids.js';
import { deriveSealKeys, seal } from '../../src/session/seal.js';
import { RECORD_FORMAT } from '../../src/session/store.js';
import { Browser, copyOf, HOUR, MINUTE, T0, TestStore, visit } from '../session/helpers.js';

// Every call of crypto.timingSafeEqual, counted (the real function still answers).
const compared = vi.hoisted(() => ({ calls: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.calls++;
      return crypto.timingSafeEqual(a, b);
    },
  };
});

const DAY = 24 * HOUR;
const SECRET = 'a-32-byte-or-longer-signing-secret!!';
const OLD_SECRET = 'an-older-32-byte-signing-secret-still-valid';

describe('cookie-signature: signature timing (CVE-2016-1000236) and trailing bytes (1.1.x)', () => {
  // Vulnerable: a `===` (or a loop that returns at the first differing character) compares the signature,
  // so timingSafeEqual is never called, or the secrets after the matching one are skipped (the time then
  // tells which secret matched).
  it('every candidate is compared in constant time, once per secret, wherever it differs and whichever secret matches', () => {
    const secrets = [SECRET, OLD_SECRET];
    const good = sign('value', OLD_SECRET);
    const flip = (s: string, i: number) => `${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    const candidates = {
      'signed by the first secret': sign('value', SECRET),
      'signed by the second secret': good,
      'first signature character changed': flip(good, good.indexOf('.') + 1),
      'last signature character changed': flip(good, good.length - 1),
    };
    for (const [what, candidate] of Object.entries(candidates)) {
      compared.calls = 0;
      unsign(candidate, secrets);
      expect(compared.calls, what).toBe(secrets.length);
    }
  });

  // Vulnerable (cookie-signature 1.1.0): the signature's prefix was checked, so `value.sig` followed by
  // anything verified, and the store was read for an id the server never signed as sent.
  it('unsign refuses bytes after the signature; a signed session id carrying them is refused before any store read', async () => {
    const good = sign('s:value', SECRET);
    expect(unsign(good, [SECRET])).toBe('s:value');
    for (const tail of ['x', '=', '.', ' ', '\0', `.${good.slice(good.lastIndexOf('.') + 1)}`])
      expect(unsign(`${good}${tail}`, [OLD_SECRET, SECRET]), JSON.stringify(tail)).toBe(false);

    const store = new TestStore();
    const manager = createSessionManager({ store, secret: SECRET });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    const cookie = browser.value('sid')!;
    const signature = cookie.slice(cookie.indexOf('.') + 1);
    store.resetCounts();
    for (const tampered of [`${cookie}x`, `${cookie}.${signature}`, `${cookie}=`, `${cookie}%00`]) {
      const session = await manager.load(`sid=${tampered}`, { now: T0 });
      expect([session.isNew, session.userId], tampered).toEqual([true, undefined]);
      await manager.commit(session);
    }
    expect(store.reads).toBe(0);
    // The untouched cookie still works (the refusals above are not a broken manager).
    expect((await visit(manager, browser, (s) => s.userId)).result).toBe('alice');
  });
});

describe('@fastify/session CVE-2024-35220: expired sessions never destroyed', () => {
  // Vulnerable: the expiry was recomputed at each load from the cookie's maxAge (now + maxAge), so a
  // remembered session whose record the store still held never expired: the stolen copy below would
  // still be alice at 30 days, and the active one would outlive the 90-day absolute lifetime.
  it('a remembered session (a persistent cookie with Max-Age) ends at the expiry stored with it, judged by the server', async () => {
    const store = new TestStore(); // it never drops a record by itself: the manager must judge expiry
    const manager = createSessionManager({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice', { remember: true }));
    expect(browser.last[0]?.maxAge).toBe((30 * DAY) / 1000);
    const [entry] = [...store.records.values()];
    expect(entry?.record.expiresAt).toBe(T0 + 30 * DAY);
    // The store is told to drop it then (plus a minute of slack), not later.
    expect(entry?.ttlMs).toBeLessThanOrEqual(30 * DAY + MINUTE);

    const stolen = copyOf(browser);
    const asStolen = async (now: number) =>
      (await visit(manager, copyOf(stolen), (s) => [s.isNew, s.userId], { now })).result;
    expect(await asStolen(T0 + 30 * DAY)).toEqual([true, undefined]);
    // The control, a moment earlier (which extends its idle lifetime: hence after the refusal above).
    expect(await asStolen(T0 + 30 * DAY - 1)).toEqual([false, 'alice']);

    // Kept active every 20 days from then, it still ends at rememberMeAbsolute (90 days from the login).
    for (let day = 50; day < 90; day += 20)
      await visit(manager, browser, (s) => s.get('n'), { now: T0 + day * DAY });
    const at = async (now: number) =>
      (await visit(manager, copyOf(browser), (s) => s.userId, { now })).result;
    expect(await at(T0 + 90 * DAY - 1)).toBe('alice');
    expect(await at(T0 + 90 * DAY)).toBeUndefined();
  });
});

describe('@auth0/nextjs-auth0 CVE-2025-46344: an encrypted cookie without an expiry', () => {
  const SEAL = 'first-sealing-secret-of-32-bytes-or-more';
  const sealedWith = (payload: Record<string, unknown>) =>
    seal(JSON.stringify(payload), deriveSealKeys([SEAL]), 'sid');
  const payload = {
    f: RECORD_FORMAT,
    i: generateId(),
    d: '{}',
    u: 'alice',
    c: T0,
    l: T0,
    e: T0 + 30 * MINUTE,
  };

  // Vulnerable: the expiry is the cookie's Max-Age/Expires only (the browser's business) or optional in the
  // sealed payload; a payload sealed with the right key but without `e` would then be alice for ever.
  it('a payload sealed with the right key is refused when its expiry is missing, not a number, or past', async () => {
    const manager = createSessionManager({ seal: { secrets: [SEAL] } });
    const load = async (value: string, now = T0) => {
      const session = await manager.load(`sid=${value}`, { now });
      await manager.commit(session);
      return [session.isNew, session.userId];
    };
    // The control: the same payload with its expiry opens (the refusals below are for the expiry alone).
    expect(await load(sealedWith(payload))).toEqual([false, 'alice']);
    const { e: _dropped, ...withoutExpiry } = payload;
    expect(await load(sealedWith(withoutExpiry))).toEqual([true, undefined]);
    expect(await load(sealedWith({ ...payload, e: null }))).toEqual([true, undefined]);
    expect(await load(sealedWith({ ...payload, e: String(T0 + HOUR) }))).toEqual([true, undefined]);
    expect(await load(sealedWith(payload), T0 + 30 * MINUTE)).toEqual([true, undefined]);
  });
});

describe('hono CVE-2026-39410: U+00A0 trimmed into a __Host- name', () => {
  // Vulnerable: the Cookie header parser trims with String.prototype.trim(), which strips U+00A0, so the
  // attacker's `\u00a0__Host-sid` (a cookie any subdomain or http page may set) becomes `__Host-sid`, comes
  // first, and the victim's request runs in the attacker's session (mallory below).
  it('a cookie named U+00A0 then __Host-Http-sid (or __Host-sid) never stands in for the session cookie', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const https = { now: T0, secure: true, host: 'bank.example' };
    const login = async (user: string) => {
      const session = await manager.load(undefined, https);
      session.login(user);
      const [line] = (await manager.commit(session)).setCookie;
      return /^__Host-Http-sid=([^;]+)/.exec(line!)![1]!;
    };
    const victim = await login('alice');
    const attacker = await login('mallory');
    const userOf = async (header: string) => {
      const session = await manager.load(header, https);
      await manager.commit(session);
      return session.userId;
    };
    expect(await userOf(`\u00a0__Host-Http-sid=${attacker}; __Host-Http-sid=${victim}`)).toBe('alice');
    expect(await userOf(`\u00a0__Host-Http-sid=${attacker}`)).toBeUndefined();
    expect(await userOf(`\u00a0 __Host-Http-sid=${attacker}`)).toBeUndefined();
    // The former name, still read while the cookie moves (issue 18), the same way.
    expect(await userOf(`\u00a0__Host-sid=${attacker}; __Host-sid=${victim}`)).toBe('alice');
    expect(await userOf(`\u00a0__Host-sid=${attacker}`)).toBeUndefined();
    expect(await userOf(`\u00a0__Host-Http-sid=${attacker}; __Host-sid=${victim}`)).toBe('alice');
  });

  // Vulnerable: a jar that trims U+00A0 from a Set-Cookie name would store `__Host-x` from an insecure
  // origin (or without Path=/), a cookie the prefix rules exist to forbid.
  it('a Set-Cookie named U+00A0 then __Host-x is never stored as __Host-x', () => {
    const jar = new CookieJar();
    for (const line of ['\u00a0__Host-x=evil; Path=/', '\u00a0__Host-x=evil; Path=/; Secure'])
      for (const url of ['http://example.com/', 'https://example.com/a/'])
        jar.setCookie(line, url, { now: T0 });
    const names = jar.getCookies('https://example.com/a/', { now: T0 }).map((c) => c.name);
    expect(names).not.toContain('__Host-x');
  });
});

describe('Django CVE-2015-5963: anonymous requests filling the store', () => {
  // Vulnerable: a session touched by a request (read, logout or flush, a new id, a CSRF token, an unknown or
  // forged id in the cookie) is saved even though nothing was written in it, so each anonymous request
  // adds a record: the store below would hold thousands.
  it('cookieless, unknown-id and forged-id requests that read, log out, destroy, regenerate or render a CSRF token store nothing', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store, secret: SECRET });
    const actions: Array<(s: Awaited<ReturnType<typeof manager.load>>) => unknown> = [
      (s) => s.get('cart'),
      (s) => s.logout(),
      (s) => s.destroy(),
      (s) => s.regenerate(),
      (s) => s.csrfToken,
    ];
    const cookies = [
      () => undefined,
      () => `sid=${sign(generateId(), SECRET)}`, // well signed, unknown to the store
      () => `sid=${generateId()}.${'A'.repeat(43)}`, // forged
    ];
    let sessionCookies = 0;
    for (let i = 0; i < 3_000; i++) {
      const session = await manager.load(cookies[i % cookies.length]!(), { now: T0 + i });
      actions[i % actions.length]!(session);
      const { setCookie } = await manager.commit(session);
      sessionCookies += setCookie.filter((line) => line.startsWith('sid=') && !/Max-Age=0/.test(line)).length;
    }
    expect(store.writes).toBe(0);
    expect(store.records.size).toBe(0);
    expect(sessionCookies).toBe(0);
  });
});

describe('cookie CVE-2024-47764: attribute injection through the session cookie options', () => {
  // Vulnerable: serialize wrote name, path and domain unchecked, so `/; Domain=evil.example` would add a
  // Domain attribute to every session cookie. The codec's own check is in test/cookie/serialize.test.ts;
  // this one covers the session cookie, whose options are checked once, at construction.
  it('a cookie name, path or domain carrying ; = CR LF or spaces is refused at construction', () => {
    const store = new TestStore();
    for (const cookie of [
      { name: 'sid; Domain=evil.example' },
      { name: 'sid\r\nSet-Cookie: x=1' },
      { path: '/; Domain=evil.example' },
      { path: '/\r\nX-Injected: 1' },
      { domain: 'example.com; SameSite=None' },
      { domain: 'example.com\r\nX-Injected: 1' },
    ])
      expect(() => createSessionManager({ store, cookie }), JSON.stringify(cookie)).toThrow(TypeError);
  });
});
