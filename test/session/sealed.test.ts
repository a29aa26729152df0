import { createDecipheriv, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSessionManager, SessionTooLargeError } from '../../src/index.js';
import { deriveSealKeys, seal, unseal } from '../../src/session/seal.js';
import { Browser, HOUR, MINUTE, T0, TestStore, visit } from './helpers.js';

const S1 = 'first-sealing-secret-of-32-bytes-or-more';
const S2 = 'second-sealing-secret-of-32-bytes-or-more';

function sealed(secrets = [S1], extra: Parameters<typeof createSessionManager>[0] = {}) {
  return createSessionManager<{ cart: string[]; n: number; blob: string }>({ seal: { secrets }, ...extra });
}

/** Opens a sealed value independently: HKDF-SHA256 key, AES-256-GCM, cookie name as AAD. */
function open(value: string, secret: string, name: string): unknown {
  const raw = Buffer.from(value, 'base64url');
  expect(raw[0]).toBe(1);
  const key = Buffer.from(
    hkdfSync(
      'sha256',
      Buffer.from(secret),
      Buffer.from('teller/session/seal'),
      Buffer.from('teller session seal v1 aes-256-gcm'),
      32,
    ),
  );
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(1, 13));
  decipher.setAAD(Buffer.from(name));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  return JSON.parse(
    Buffer.concat([decipher.update(raw.subarray(13, raw.length - 16)), decipher.final()]).toString(),
  );
}

describe('sealed sessions (no store)', () => {
  it('keep the data in the cookie, AES-256-GCM with an HKDF-SHA256 key, nothing in clear', async () => {
    const manager = sealed();
    const browser = new Browser();
    await visit(manager, browser, (s) => {
      s.set('cart', ['apple']);
      s.login('alice');
    });
    const value = browser.value()!;
    expect(value).not.toContain('apple');
    expect(Buffer.from(value, 'base64url').toString('latin1')).not.toContain('alice');
    const payload = open(value, S1, 'sid') as Record<string, unknown>;
    // The data with the login's time (step-up freshness) beside the cart.
    expect(payload).toMatchObject({
      f: 1,
      d: `{"cart":["apple"],"teller:auth":${T0}}`,
      u: 'alice',
      c: T0,
      e: T0 + 30 * MINUTE,
    });
    const { result } = await visit(manager, browser, (s) => [s.get('cart'), s.userId]);
    expect(result).toEqual([['apple'], 'alice']);
  });

  it('an unmodified request sets no cookie; a touch re-seals after the interval', async () => {
    const manager = sealed();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1));
    expect((await visit(manager, browser, (s) => s.get('n'), { now: T0 + 1000 })).setCookie).toEqual([]);
    const touched = await visit(manager, browser, (s) => s.get('n'), { now: T0 + 2 * MINUTE });
    expect(touched.setCookie).toHaveLength(1);
    expect((open(browser.value()!, S1, 'sid') as { e: number }).e).toBe(T0 + 32 * MINUTE);
  });

  it('rotates keys: the first secret seals, every secret opens', async () => {
    const browser = new Browser();
    await visit(sealed([S1]), browser, (s) => s.set('n', 1));
    const rotated = sealed([S2, S1]);
    expect((await visit(rotated, browser, (s) => s.get('n'))).result).toBe(1);
    await visit(rotated, browser, (s) => s.set('n', 2));
    expect(open(browser.value()!, S2, 'sid')).toMatchObject({ d: '{"n":2}' });
    expect((await visit(sealed([S2]), browser, (s) => s.get('n'))).result).toBe(2);
    expect((await visit(sealed([S1]), browser, (s) => s.isNew)).result).toBe(true);
  });

  it('expiry lives inside the ciphertext: a kept cookie is refused after it (idle and absolute)', async () => {
    const manager = sealed();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    const kept = browser.header()!;
    const replay = async (now: number) => {
      const s = await manager.load(kept, { now });
      const r = [s.isNew, s.userId];
      await manager.commit(s);
      return r;
    };
    expect(await replay(T0 + 30 * MINUTE - 1)).toEqual([false, 'alice']);
    expect(await replay(T0 + 30 * MINUTE)).toEqual([true, undefined]);
    // Kept active, it still ends at the absolute lifetime.
    for (let t = 20; t < 12 * 60; t += 20)
      await visit(manager, browser, (s) => s.get('n'), { now: T0 + t * MINUTE });
    expect((await visit(manager, browser, (s) => s.userId, { now: T0 + 12 * HOUR - 1 })).result).toBe(
      'alice',
    );
    expect((await visit(manager, browser, (s) => s.userId, { now: T0 + 12 * HOUR })).result).toBeUndefined();
  });

  it('refuses tampered, truncated and moved values (a fresh session, never an error)', async () => {
    const manager = sealed();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    const value = browser.value()!;
    const raw = Buffer.from(value, 'base64url');
    const variants: string[] = [];
    for (const at of [0, 5, 20, raw.length - 1]) {
      const copy = Buffer.from(raw);
      copy[at] = copy[at]! ^ 1;
      variants.push(copy.toString('base64url'));
    }
    variants.push(value.slice(0, -5), value.slice(0, 30), `${value}AA`, 'not-a-sealed-value');
    for (const bad of variants) {
      const s = await manager.load(`sid=${bad}`, { now: T0 });
      expect(s.userId).toBeUndefined();
      await manager.commit(s);
    }
    // The cookie name is authenticated: the same value under another name does not open.
    const other = createSessionManager({ seal: { secrets: [S1] }, cookie: { name: 'other' } });
    expect((await other.load(`other=${value}`, { now: T0 })).userId).toBeUndefined();
  });

  it('refuses cookies over sealedMaxBytes of Cookie header (SessionTooLargeError at commit); splits past 4096 bytes', async () => {
    const manager = sealed();
    const ok = await manager.load(undefined, { now: T0 });
    ok.set('blob', 'x'.repeat(2500));
    const [line] = (await manager.commit(ok)).setCookie;
    expect(line!.split(';')[0]!.length).toBeLessThanOrEqual(4096);
    // Past one cookie: two parts (sealed-split.test.ts).
    const two = await manager.load(undefined, { now: T0 });
    two.set('blob', 'x'.repeat(3200));
    expect((await manager.commit(two)).setCookie.map((l) => l.split('=')[0])).toEqual(['sid', 'sid.1']);
    const big = await manager.load(undefined, { now: T0 });
    big.set('blob', 'x'.repeat(6500));
    const error = await manager.commit(big).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect((error as Error).message).toMatch(/more than 8192/);
  });

  it('logout clears the cookie', async () => {
    const manager = sealed();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    await visit(manager, browser, (s) => s.logout());
    expect(browser.cookies.size).toBe(0);
  });

  it('seal and unseal round-trip every text, the empty one too (39 characters, the shortest value)', () => {
    // Found by test/fuzz: unseal refused values under 40 characters, and seal('') is 39.
    const keys = deriveSealKeys([S1]);
    for (const text of ['', 'x', '{"f":1}']) {
      const value = seal(text, keys, 'sid');
      expect(unseal(value, keys, 'sid')).toBe(text);
      expect(unseal(value.slice(0, -1), keys, 'sid')).toBeUndefined();
    }
    expect(seal('', keys, 'sid')).toHaveLength(39);
  });

  it('refuses short secrets', () => {
    expect(() => sealed(['short'])).toThrow(/at least 32 bytes/);
    expect(() => sealed([])).toThrow(TypeError);
  });

  it('with a store, revokeSessions invalidates the user’s older sealed cookies (a not-before time), except one', async () => {
    const store = new TestStore();
    const manager = sealed([S1], { store });
    const laptop = new Browser();
    const phone = new Browser();
    const current = await visit(manager, laptop, (s) => s.login('alice'));
    await visit(manager, phone, (s) => s.login('alice'));
    const stolen = phone.header()!;
    store.resetCounts();
    // One store read per authenticated sealed request (the not-before check), none for anonymous ones.
    await visit(manager, laptop, (s) => s.userId, { now: T0 + 1000 });
    expect(store.reads).toBe(1);
    await visit(manager, new Browser(), (s) => s.userId, { now: T0 + 1000 });
    expect(store.reads).toBe(1);

    await manager.revokeSessions('alice', { except: current.session, now: T0 + 2000 });
    expect((await visit(manager, phone, (s) => s.userId, { now: T0 + 3000 })).result).toBeUndefined();
    expect((await visit(manager, laptop, (s) => s.userId, { now: T0 + 3000 })).result).toBe('alice');
    const replay = await manager.load(stolen, { now: T0 + 4000 });
    expect(replay.userId).toBeUndefined();
    // Logging in again after the revocation works.
    await visit(manager, phone, (s) => s.login('alice'), { now: T0 + 5000 });
    expect((await visit(manager, phone, (s) => s.userId, { now: T0 + 6000 })).result).toBe('alice');
  });
});
