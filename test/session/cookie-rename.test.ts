/**
 * The session cookie's rename (issue 18): `__Host-sid` became `__Host-Http-sid` and `__Secure-sid` became
 * `__Http-sid`. A request carrying the cookie under the former name only keeps its session, and that
 * response moves the cookie: the new name is set, the former one deleted (see `src/session/legacy.ts`).
 */
import { describe, expect, it } from 'vitest';
import { parseSetCookie } from '../../src/cookie/index.js';
import { createSessionManager, type SessionManagerOptions } from '../../src/index.js';
import { HOUR, MINUTE, T0, TestStore } from './helpers.js';

const SEAL = { secrets: ['s'.repeat(32)] };

/** A session logged in by a manager of an earlier version: its cookie under the former name. */
async function formerCookie(options: SessionManagerOptions, former = '__Host-sid', remember = false) {
  const cookie = { ...options.cookie, name: former, secure: true };
  const earlier = createSessionManager({ ...options, cookie });
  const s = await earlier.load(undefined, { now: T0, secure: true });
  s.login('alice', { remember });
  s.set('cart', ['apple']);
  const { setCookie } = await earlier.commit(s);
  const parsed = parseSetCookie(setCookie[0]!)!;
  expect(parsed.name).toBe(former);
  return parsed.value;
}

function names(lines: string[]) {
  return lines.map((line) => {
    const c = parseSetCookie(line)!;
    return `${c.name}${c.value === '' ? ' (deleted)' : ''}`;
  });
}

describe('the session cookie moves from its former name', () => {
  for (const [kind, options] of [
    ['stored', { store: new TestStore() }],
    ['sealed', { seal: SEAL }],
  ] as const) {
    it(`${kind}: __Host-sid keeps its session, and its first response moves it to __Host-Http-sid`, async () => {
      const value = await formerCookie(options);
      const manager = createSessionManager(options);
      const s = await manager.load(`theme=dark; __Host-sid=${value}`, { now: T0 + MINUTE, secure: true });
      expect(s.isNew).toBe(false);
      expect(s.userId).toBe('alice');
      expect(s.get('cart')).toEqual(['apple']);
      // Nothing changed, yet the answer carries the new cookie and deletes the former one.
      const { setCookie } = await manager.commit(s);
      expect(names(setCookie)).toEqual(['__Host-Http-sid', '__Host-sid (deleted)']);
      const moved = parseSetCookie(setCookie[0]!)!;
      expect(moved).toMatchObject({ secure: true, httpOnly: true, path: '/', sameSite: 'Lax' });
      expect(moved.domain).toBeUndefined();
      expect(moved.maxAge).toBeUndefined(); // a browser-session cookie stays one
      // The former cookie's deletion satisfies __Host- (Secure, Path=/, no Domain), or a browser ignores it.
      expect(setCookie[1]).toMatch(
        /^__Host-sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 [^;]+; HttpOnly; Secure/,
      );
      if (kind === 'stored') expect(moved.value).toBe(value); // the same id
      // The new cookie names the same session; the next request carries it alone and sets nothing.
      const next = await manager.load(`__Host-Http-sid=${moved.value}`, {
        now: T0 + MINUTE,
        secure: true,
      });
      expect(next.userId).toBe('alice');
      expect((await manager.commit(next)).setCookie).toEqual([]);
    });
  }

  it('keeps a remembered (persistent) cookie persistent, with its remaining lifetime', async () => {
    const store = new TestStore();
    const value = await formerCookie({ store }, '__Host-sid', true);
    const manager = createSessionManager({ store });
    const s = await manager.load(`__Host-sid=${value}`, { now: T0 + HOUR, secure: true });
    expect(s.userId).toBe('alice');
    const { setCookie } = await manager.commit(s);
    expect(names(setCookie)).toEqual(['__Host-Http-sid', '__Host-sid (deleted)']);
    expect(parseSetCookie(setCookie[0]!)!.maxAge).toBeGreaterThan(0);
  });

  it('moves __Secure-sid (a Domain or another Path) to __Http-sid, deleting it with its Domain and Path', async () => {
    const store = new TestStore();
    const cookie = { domain: 'example.com', path: '/app' };
    const value = await formerCookie({ store, cookie }, '__Secure-sid');
    const manager = createSessionManager({ store, cookie: { ...cookie, secure: true } });
    const s = await manager.load(`__Secure-sid=${value}`, { now: T0 + MINUTE, secure: true });
    expect(s.userId).toBe('alice');
    const { setCookie } = await manager.commit(s);
    expect(names(setCookie)).toEqual(['__Http-sid', '__Secure-sid (deleted)']);
    for (const line of setCookie) {
      expect(parseSetCookie(line)).toMatchObject({ domain: 'example.com', path: '/app', secure: true });
    }
  });

  it('a write, a login (new id) or a logout of that request moves or clears it once', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const at = { now: T0 + MINUTE, secure: true };

    const written = await manager.load(`__Host-sid=${await formerCookie({ store })}`, at);
    written.set('cart', ['apple', 'pear']);
    const a = (await manager.commit(written)).setCookie;
    expect(names(a)).toEqual(['__Host-Http-sid', '__Host-sid (deleted)']);

    const relogged = await manager.load(`__Host-sid=${await formerCookie({ store })}`, at);
    relogged.login('bob');
    const b = (await manager.commit(relogged)).setCookie;
    expect(names(b)).toEqual(['__Host-Http-sid', '__Host-sid (deleted)']);
    expect((await manager.load(`__Host-Http-sid=${parseSetCookie(b[0]!)!.value}`, at)).userId).toBe('bob');

    // A logout clears the cookie the request carried: the former one; no new one is set.
    const out = await manager.load(`__Host-sid=${await formerCookie({ store })}`, at);
    out.logout();
    expect(names((await manager.commit(out)).setCookie)).toEqual(['__Host-sid (deleted)']);
  });

  it('reads the new name first when both are sent, and leaves the former one alone then', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const value = await formerCookie({ store });
    const fresh = await manager.load(undefined, { now: T0, secure: true });
    fresh.set('n', 1);
    const current = parseSetCookie((await manager.commit(fresh)).setCookie[0]!)!.value;
    const s = await manager.load(`__Host-sid=${value}; __Host-Http-sid=${current}`, {
      now: T0 + MINUTE,
      secure: true,
    });
    expect(s.get('n')).toBe(1);
    expect(s.userId).toBeUndefined();
    expect((await manager.commit(s)).setCookie).toEqual([]);
  });

  it('a former cookie naming nothing gives a fresh session; the first one stored replaces it', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const unknown = `__Host-sid=${'A'.repeat(43)}`;
    const s = await manager.load(unknown, { now: T0, secure: true });
    expect(s.isNew).toBe(true);
    expect((await manager.commit(s)).setCookie).toEqual([]); // nothing stored: nothing set, nothing deleted
    const t = await manager.load(unknown, { now: T0, secure: true });
    t.set('a', 1);
    expect(names((await manager.commit(t)).setCookie)).toEqual(['__Host-Http-sid', '__Host-sid (deleted)']);
  });

  it('sets no cookie when another request changed the session meanwhile (its compare-and-set lost)', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const value = await formerCookie({ store });
    const at = { now: T0 + MINUTE, secure: true };
    const slow = await manager.load(`__Host-sid=${value}`, at, { lock: false });
    const login = await manager.load(`__Host-sid=${value}`, at, { lock: false });
    login.login('bob'); // retires the id the slow request holds
    const first = (await manager.commit(login)).setCookie;
    expect(names(first)).toEqual(['__Host-Http-sid', '__Host-sid (deleted)']);
    // The slow request must not set the new name to the retired id (that would log bob out).
    expect((await manager.commit(slow)).setCookie).toEqual([]);
  });

  it('never moves a cookie.name of the user, nor plain http', async () => {
    const store = new TestStore();
    const value = await formerCookie({ store });
    const named = createSessionManager({ store, cookie: { name: '__Host-app', secure: true } });
    const s = await named.load(`__Host-sid=${value}`, { now: T0 + MINUTE, secure: true });
    expect(s.isNew).toBe(true);
    expect((await named.commit(s)).setCookie).toEqual([]);
    const plain = createSessionManager({ store });
    const p = await plain.load(`__Host-sid=${value}`, { now: T0 + MINUTE, secure: false });
    expect(p.isNew).toBe(true);
    expect((await plain.commit(p)).setCookie).toEqual([]);
  });

  it('a sealed cookie is bound to its name: a former cookie under the new name is refused', async () => {
    const value = await formerCookie({ seal: SEAL });
    const manager = createSessionManager({ seal: SEAL });
    const s = await manager.load(`__Host-Http-sid=${value}`, { now: T0 + MINUTE, secure: true });
    expect(s.isNew).toBe(true);
  });
});
