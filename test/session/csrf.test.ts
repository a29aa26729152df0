/**
 * CSRF tokens (issue 15): an anonymous session gets a signed double-submit token whose nonce lives in a
 * cookie of its own (nothing stored); a session with a user keeps its per-session secret. Tampering is
 * deterministic: a bit of a decoded byte is flipped, never characters replaced.
 */
import { describe, expect, it } from 'vitest';
import { parseSetCookie } from '../../src/cookie/index.js';
import { createSessionManager, type Session, type SessionStore } from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

const SECRET = 'a-signing-secret-of-32-bytes-or-more!';
const SEAL = 'a-sealing-secret-of-32-bytes-or-more!!';

/** `text` (base64url) with bit 0 of its decoded byte `index` flipped (from the end when negative). */
function flipBit(text: string, index: number): string {
  const bytes = Buffer.from(text, 'base64url');
  bytes[index < 0 ? bytes.length + index : index]! ^= 1;
  return bytes.toString('base64url');
}

/** The CSRF cookie among Set-Cookie lines (undefined when none). */
function csrfLine(lines: readonly string[]): string | undefined {
  return lines.find((line) => /^(__Host-)?csrf=/.test(line));
}

function setup(options: { secret?: string } = {}) {
  const store = new TestStore();
  const manager = createSessionManager<{ n: number }>({ store, ...options });
  return { store, manager };
}

describe('anonymous CSRF tokens: a double-submit cookie, nothing stored', () => {
  it('with a secret, rendering a token costs no store call, stores nothing and sets only the CSRF cookie', async () => {
    const { store, manager } = setup({ secret: SECRET });
    const browser = new Browser();
    const { result: token, setCookie } = await visit(manager, browser, (s) => s.csrfToken);
    expect(store.log).toEqual([]);
    expect(store.records.size).toBe(0);
    expect(setCookie).toHaveLength(1);
    expect(csrfLine(setCookie)).toBeDefined();
    expect([...browser.cookies.keys()]).toEqual(['csrf']);
    // Posting it back: verified against the cookie, still without a store call.
    const { result, setCookie: again } = await visit(manager, browser, (s) => s.verifyCsrfToken(token));
    expect(result).toBe(true);
    expect(again).toEqual([]);
    expect(store.log).toEqual([]);
  });

  it('verifies with the cookie it came with only: not another browser’s, not tampered, not without one', async () => {
    const { manager } = setup({ secret: SECRET });
    const a = new Browser();
    const b = new Browser();
    const { result: [t1, t2] = [] } = await visit(manager, a, (s) => [s.csrfToken, s.csrfToken]);
    const { result: tb } = await visit(manager, b, (s) => s.csrfToken);
    expect(t1).not.toBe(t2); // masked afresh on every read (BREACH)
    const check = async (browser: Browser, token: unknown) =>
      (await visit(manager, browser, (s) => s.verifyCsrfToken(token))).result;
    expect(await check(a, t1)).toBe(true);
    expect(await check(a, t2)).toBe(true);
    expect(await check(b, tb)).toBe(true);
    expect(await check(b, t1)).toBe(false);
    expect(await check(a, tb)).toBe(false);
    expect(await check(new Browser(), t1)).toBe(false);
    // A bit flipped in the mask, in the masked nonce, in the version byte.
    for (const index of [1, 40, -1, 0]) expect(await check(a, flipBit(t1!, index))).toBe(false);
    for (const bad of ['', undefined, null, 42, `${t1}A`, t1!.slice(0, -1), `${t1!.slice(0, -1)}*`])
      expect(await check(a, bad)).toBe(false);
    // A tampered cookie (one bit of its nonce, or of its HMAC) fails with its own token.
    for (const index of [5, -1]) {
      const tampered = new Browser();
      tampered.cookies.set('csrf', flipBit(a.cookies.get('csrf')!, index));
      expect(await check(tampered, t1)).toBe(false);
    }
  });

  it('the request that sends the cookie cannot verify its token; the next one does', async () => {
    const { manager } = setup({ secret: SECRET });
    const browser = new Browser();
    const { result } = await visit(manager, browser, (s) => s.verifyCsrfToken(s.csrfToken));
    expect(result).toBe(false);
  });

  it('a valid cookie is kept (no new Set-Cookie); a forged or foreign one is replaced', async () => {
    const { manager } = setup({ secret: SECRET });
    const browser = new Browser();
    const { result: first } = await visit(manager, browser, (s) => s.csrfToken);
    const cookie = browser.cookies.get('csrf');
    const { result: second, setCookie } = await visit(manager, browser, (s) => s.csrfToken);
    expect(setCookie).toEqual([]);
    expect(browser.cookies.get('csrf')).toBe(cookie);
    const { result } = await visit(manager, browser, (s) => [first, second].map((t) => s.verifyCsrfToken(t)));
    expect(result).toEqual([true, true]);

    const other = createSessionManager({ store: new TestStore(), secret: `${SECRET}-other` });
    const forged = new Browser();
    forged.cookies.set('csrf', cookie!); // signed with another key
    const { setCookie: replaced } = await visit(other, forged, (s) => s.csrfToken);
    expect(csrfLine(replaced)).toBeDefined();
    expect(forged.cookies.get('csrf')).not.toBe(cookie);
  });

  it('a 5xx answer sends no CSRF cookie', async () => {
    const { manager } = setup({ secret: SECRET });
    const { setCookie } = await visit(
      manager,
      new Browser(),
      (s) => s.csrfToken,
      { now: T0 },
      { status: 500 },
    );
    expect(setCookie).toEqual([]);
  });

  it('secret rotation: a cookie signed with the previous secret still verifies', async () => {
    const before = createSessionManager({ store: new TestStore(), secret: SECRET });
    const after = createSessionManager({ store: new TestStore(), secret: [`${SECRET}-new`, SECRET] });
    const browser = new Browser();
    const { result: token } = await visit(before, browser, (s) => s.csrfToken);
    const { result, setCookie } = await visit(after, browser, (s) => [s.verifyCsrfToken(token), s.csrfToken]);
    expect(result[0]).toBe(true);
    expect(setCookie).toEqual([]);
  });

  it('sealed sessions key it from the seal secrets: no sealed cookie, no store', async () => {
    const manager = createSessionManager({ seal: { secrets: [SEAL] } });
    const browser = new Browser();
    const { result: token, setCookie } = await visit(manager, browser, (s) => s.csrfToken);
    expect(setCookie).toHaveLength(1);
    expect([...browser.cookies.keys()]).toEqual(['csrf']);
    expect((await visit(manager, browser, (s) => s.verifyCsrfToken(token))).result).toBe(true);
    const other = createSessionManager({ seal: { secrets: [`${SEAL}-other`] } });
    expect((await visit(other, browser, (s) => s.verifyCsrfToken(token))).result).toBe(false);
  });

  it('an anonymous session that stores data still gets the cookie token, not a stored secret', async () => {
    const { store, manager } = setup({ secret: SECRET });
    const browser = new Browser();
    const { result: token } = await visit(manager, browser, (s) => {
      s.set('n', 1);
      return s.csrfToken;
    });
    expect(store.sessions()[0]![1].data).toBe('{"n":1}');
    expect((await visit(manager, browser, (s) => s.verifyCsrfToken(token))).result).toBe(true);
  });
});

describe('sessions with a user keep their per-session token', () => {
  it('works as before: a secret in the session, verified against it, replaced at login', async () => {
    const { store, manager } = setup({ secret: SECRET });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    const { result: token } = await visit(manager, browser, (s) => s.csrfToken);
    // The secret beside the login's time (step-up freshness), nothing else.
    expect(store.sessions()[0]![1].data).toMatch(/^\{"teller:auth":\d+,"teller:csrf":"[A-Za-z0-9_-]{43}"\}$/);
    expect((await visit(manager, browser, (s) => s.verifyCsrfToken(token))).result).toBe(true);
    expect((await visit(manager, browser, (s) => s.verifyCsrfToken(flipBit(token, 33)))).result).toBe(false);
    const { result } = await visit(manager, browser, (s) => {
      s.login('alice');
      return s.verifyCsrfToken(token);
    });
    expect(result).toBe(false);
  });

  it('a login form posted with an anonymous token verifies before login(); that token fails once logged in', async () => {
    const { manager } = setup({ secret: SECRET });
    const browser = new Browser();
    const { result: [form, otherTab] = [] } = await visit(manager, browser, (s) => [
      s.csrfToken,
      s.csrfToken,
    ]);
    const { result: login } = await visit(manager, browser, (s) => {
      const ok = s.verifyCsrfToken(form);
      if (ok) s.login('alice');
      return [ok, s.verifyCsrfToken(form)];
    });
    expect(login).toEqual([true, false]);
    // A page rendered before the login (another tab) must be reloaded: its token is refused now.
    expect((await visit(manager, browser, (s) => s.verifyCsrfToken(otherTab))).result).toBe(false);
    // After logout the session is anonymous again and the CSRF cookie, still there, works again.
    await visit(manager, browser, (s) => s.logout());
    expect((await visit(manager, browser, (s) => s.verifyCsrfToken(otherTab))).result).toBe(true);
  });

  it('neither kind passes for the other', async () => {
    const { manager } = setup({ secret: SECRET });
    const browser = new Browser();
    const { result: anonymous } = await visit(manager, browser, (s) => s.csrfToken);
    await visit(manager, browser, (s) => s.login('alice'));
    const { result: user } = await visit(manager, browser, (s) => s.csrfToken);
    // The anonymous cookie's nonce, masked as a user's token would be: not the session's secret.
    const nonce = Buffer.from(browser.cookies.get('csrf')!, 'base64url').subarray(1, 33);
    const mask = Buffer.alloc(32, 7);
    const fromCookie = Buffer.concat([mask, nonce.map((byte, i) => byte ^ mask[i]!)]).toString('base64url');
    const { result } = await visit(manager, browser, (s) => [
      s.verifyCsrfToken(user),
      s.verifyCsrfToken(anonymous),
      s.verifyCsrfToken(fromCookie),
    ]);
    expect(result).toEqual([true, false, false]);
    // A user's token in an anonymous session carrying a valid CSRF cookie.
    const anon = new Browser();
    anon.cookies.set('csrf', browser.cookies.get('csrf')!);
    expect((await visit(manager, anon, (s) => s.verifyCsrfToken(user))).result).toBe(false);
  });
});

/** A store that counts calls on the CSRF key record. */
function counting(store: SessionStore) {
  const calls: string[] = [];
  const wrapped: SessionStore = {
    get: (key) => {
      if (key.startsWith('ck.')) calls.push('get');
      return store.get(key);
    },
    set: (key, record, expected, ttlMs) => {
      if (key.startsWith('ck.')) calls.push('set');
      return store.set(key, record, expected, ttlMs);
    },
    delete: (key) => store.delete(key),
  };
  return { wrapped, calls };
}

describe('without a secret: one key record in the store, shared by every process', () => {
  it('is created once by compare-and-set, read once per manager, and both managers accept each other’s cookies', async () => {
    const shared = createMemoryStore({ cleanupInterval: 0 });
    const a = counting(shared);
    const b = counting(shared);
    const managerA = createSessionManager({ store: a.wrapped });
    const managerB = createSessionManager({ store: b.wrapped });
    // Both processes render a first token at once: one creates the key, the other reads it.
    const [one, two] = [new Browser(), new Browser()];
    const [t1, t2] = await Promise.all([
      visit(managerA, one, (s) => s.csrfToken),
      visit(managerB, two, (s) => s.csrfToken),
    ]);
    expect(await shared.count()).toBe(1);
    expect((await shared.get('ck.csrf'))?.data).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect([...a.calls, ...b.calls].filter((c) => c === 'set').length).toBeGreaterThanOrEqual(1);
    for (const [manager, browser, token] of [
      [managerB, one, t1.result],
      [managerA, two, t2.result],
      [managerA, one, t1.result],
    ] as const) {
      expect((await visit(manager, browser, (s) => s.verifyCsrfToken(token))).result).toBe(true);
    }
    const before = [a.calls.length, b.calls.length];
    for (let i = 0; i < 20; i++) {
      await visit(managerA, new Browser(), (s) => s.csrfToken);
      await visit(managerB, one, (s) => [s.csrfToken, s.verifyCsrfToken(t1.result)]);
    }
    expect([a.calls.length, b.calls.length]).toEqual(before);
    expect(await shared.count()).toBe(1);
  });

  it('a new process reads the key at the first request carrying a CSRF cookie, and only then', async () => {
    const shared = createMemoryStore({ cleanupInterval: 0 });
    const first = createSessionManager({ store: shared });
    const browser = new Browser();
    const { result: token } = await visit(first, browser, (s) => s.csrfToken);
    const { wrapped, calls } = counting(shared);
    const restarted = createSessionManager({ store: wrapped });
    await visit(restarted, new Browser(), (s) => s.get('n'));
    expect(calls).toEqual([]);
    expect((await visit(restarted, browser, (s) => s.verifyCsrfToken(token))).result).toBe(true);
    expect((await visit(restarted, browser, (s) => s.verifyCsrfToken(token))).result).toBe(true);
    expect(calls).toEqual(['get']);
  });

  it('a secret shorter than 32 bytes keys nothing: the store’s key is used', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store, secret: 'x'.repeat(31) });
    await visit(manager, new Browser(), (s) => s.csrfToken);
    expect([...store.records.keys()]).toEqual(['ck.csrf']);
  });

  it('an unreadable key record is a SessionStoreError naming it, never a token keyed by it', async () => {
    const store = createMemoryStore({ cleanupInterval: 0 });
    await store.set(
      'ck.csrf',
      { format: 1, data: 'short', version: 1, createdAt: 0, lastSeenAt: 0, expiresAt: T0 * 2 },
      null,
      1e9,
    );
    const manager = createSessionManager({ store });
    const error = await visit(manager, new Browser(), (s) => s.csrfToken).catch((e: unknown) => e);
    expect(String(error)).toMatch(/\[teller\] \[session\] the CSRF key record in the store is unreadable/);
    expect(String(error)).not.toMatch(/short/);
  });
});

describe('the CSRF cookie', () => {
  const lineFor = async (context: { secure?: boolean; host?: string }, cookie?: object) => {
    const manager = createSessionManager({ store: new TestStore(), secret: SECRET, cookie });
    const { setCookie } = await visit(manager, new Browser(), (s) => s.csrfToken, { now: T0, ...context });
    expect(setCookie).toHaveLength(1);
    return setCookie[0]!;
  };

  it('over http: csrf, HttpOnly, SameSite=Lax, Path=/, host-only, a session cookie', async () => {
    const line = await lineFor({ secure: false, host: 'example.com' });
    expect(line).toMatch(/^csrf=[A-Za-z0-9_-]{87}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(parseSetCookie(line, { now: T0 })).toMatchObject({ name: 'csrf', secure: false, httpOnly: true });
  });

  it('over https: __Host-csrf, Secure; over plain http on a loopback host, by the session cookie’s rule: csrf', async () => {
    const line = await lineFor({ secure: true, host: 'example.com' });
    expect(line).toMatch(/^__Host-csrf=[A-Za-z0-9_-]{87}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(await lineFor({ host: 'localhost:3000' })).toMatch(
      /^csrf=[A-Za-z0-9_-]{87}; Path=\/; HttpOnly; SameSite=Lax$/,
    );
  });

  it('follows cookie.secure, and stays host-only with Path=/ whatever the session cookie’s domain and path', async () => {
    expect(await lineFor({ secure: true }, { secure: false })).toMatch(
      /^csrf=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    expect(await lineFor({ secure: false }, { secure: true, domain: 'example.com', path: '/app' })).toMatch(
      /^__Host-csrf=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
  });

  it('over https the token verifies with the __Host- cookie only', async () => {
    const manager = createSessionManager({ store: new TestStore(), secret: SECRET });
    const https = { now: T0, secure: true, host: 'example.com' };
    const browser = new Browser();
    const { result: token } = await visit(manager, browser, (s) => s.csrfToken, https);
    expect([...browser.cookies.keys()]).toEqual(['__Host-csrf']);
    expect((await visit(manager, browser, (s) => s.verifyCsrfToken(token), https)).result).toBe(true);
    const plain = new Browser();
    plain.cookies.set('csrf', browser.cookies.get('__Host-csrf')!);
    expect((await visit(manager, plain, (s) => s.verifyCsrfToken(token), https)).result).toBe(false);
  });

  it('is not a name the session cookie may take', () => {
    for (const name of ['csrf', '__Host-csrf']) {
      expect(() => createSessionManager({ store: new TestStore(), cookie: { name, secure: true } })).toThrow(
        /CSRF cookie/,
      );
    }
  });
});

describe('cost when the token is not used', () => {
  it('a request carrying a CSRF cookie but not using it: no key read with a secret; the session read only', async () => {
    const { store, manager } = setup({ secret: SECRET });
    const browser = new Browser();
    await visit(manager, browser, (s: Session<{ n: number }>) => {
      s.set('n', 1);
      return s.csrfToken;
    });
    store.resetCounts();
    await visit(manager, browser, (s) => s.get('n'), { now: T0 + 1000 });
    expect(store.log).toEqual(['get']);
  });
});
