import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sign } from '../../src/cookie/index.js';
import { createSessionManager } from '../../src/index.js';
import { generateId, isWellFormedId, storeKeyOf } from '../../src/session/ids.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

describe('ids', () => {
  it('are 32 bytes from the CSPRNG in base64url, and unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = generateId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(32);
      seen.add(id);
    }
    expect(seen.size).toBe(1000);
  });

  it('are recognised exactly as 43 characters of the base64url alphabet (property)', () => {
    const pattern = /^[A-Za-z0-9_-]{43}$/;
    const alphabet = 'ABCXYZabcxyz0189-_+/=.~ \u0000\u007f\u0080\u00ff\u0141\u{1f600}';
    const near = fc
      .array(fc.constantFrom(...alphabet), { minLength: 41, maxLength: 45 })
      .map((chars) => chars.join(''));
    const valid = fc
      .array(fc.constantFrom(...'Aa0-_zZ9'), { minLength: 43, maxLength: 43 })
      .map((c) => c.join(''));
    const mutated = fc
      .tuple(valid, fc.nat(42), fc.integer({ min: 0, max: 0x2ff }))
      .map(([id, at, code]) => id.slice(0, at) + String.fromCharCode(code) + id.slice(at + 1));
    fc.assert(
      fc.property(fc.oneof(near, valid, mutated, fc.string({ maxLength: 50 })), (text) => {
        expect(isWellFormedId(text)).toBe(pattern.test(text));
      }),
      { numRuns: 5000 },
    );
    for (let i = 0; i < 200; i++) expect(isWellFormedId(generateId())).toBe(true);
  });

  it('uses the random source given (randomness is a parameter)', () => {
    const id = generateId((n) => Buffer.alloc(n, 7));
    expect(id).toBe(Buffer.alloc(32, 7).toString('base64url'));
  });

  it('keys the store by SHA-256 of the id, never the id', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('a', 1));
    const id = browser.value('sid')!;
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const key = createHash('sha256').update(id).digest('base64url');
    expect(storeKeyOf(id)).toBe(key);
    expect([...store.records.keys()]).toEqual([key]);
    expect(JSON.stringify([...store.records])).not.toContain(id);
  });
});

describe('strict mode', () => {
  it('never adopts an id the store does not know: a fresh id is issued', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const planted = generateId();
    const browser = new Browser();
    browser.cookies.set('sid', planted);
    const { session } = await visit(manager, browser, (s) => s.set('a', 1));
    expect(session.isNew).toBe(true);
    expect(browser.value('sid')).not.toBe(planted);
    expect(store.records.has(storeKeyOf(planted))).toBe(false);
    expect(store.records.has(storeKeyOf(browser.value('sid')!))).toBe(true);
  });

  it('with a secret, refuses forged ids without a store read and accepts signed ones', async () => {
    const store = new TestStore();
    const secret = 'a-32-byte-or-longer-signing-secret!!';
    const manager = createSessionManager({ store, secret });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('a', 1));
    const value = browser.value('sid')!;
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}$/);
    const id = value.slice(0, 43);
    expect(sign(id, secret)).toBe(value);

    store.resetCounts();
    const forged = new Browser();
    forged.cookies.set('sid', `${generateId()}.${'A'.repeat(43)}`);
    const { session } = await visit(manager, forged);
    expect(session.isNew).toBe(true);
    expect(store.reads).toBe(0);

    const unsigned = new Browser();
    unsigned.cookies.set('sid', id);
    expect((await visit(manager, unsigned)).session.isNew).toBe(true);
    expect(store.reads).toBe(0);

    const again = await visit(manager, browser, (s) => s.get('a'));
    expect(again.result).toBe(1);
    expect(store.reads).toBe(1);
  });

  it('verifies ids signed by an older secret (rotation: the first signs, all verify)', async () => {
    const store = new TestStore();
    const old = 'the-old-secret-is-long-enough-to-use!';
    const fresh = 'the-new-secret-is-long-enough-to-use!';
    const browser = new Browser();
    await visit(createSessionManager({ store, secret: old }), browser, (s) => s.set('a', 1));
    const rotated = createSessionManager({ store, secret: [fresh, old] });
    expect((await visit(rotated, browser, (s) => s.get('a'))).result).toBe(1);
  });
});

describe('lazy sessions', () => {
  it('10,000 requests without a cookie leave zero records and set no cookie', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    let cookies = 0;
    for (let i = 0; i < 10_000; i++) {
      const session = await manager.load(undefined, { now: T0 + i });
      session.get('cart');
      void session.userId;
      cookies += (await manager.commit(session)).setCookie.length;
    }
    expect(cookies).toBe(0);
    expect(store.records.size).toBe(0);
    expect(store.writes + store.reads).toBe(0);
  });

  it('exists from the first request and is stored at its first write', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    const first = await visit(manager, browser, (s) => s.get('n'));
    expect(first.session.isNew).toBe(true);
    expect(first.setCookie).toEqual([]);
    const second = await visit(manager, browser, (s) => s.set('n', 1));
    expect(second.setCookie).toHaveLength(1);
    expect(store.records.size).toBe(1);
    const [record] = [...store.records.values()].map((e) => e.record);
    expect(record).toMatchObject({ format: 1, version: 1, data: '{"n":1}', createdAt: T0, lastSeenAt: T0 });
  });
});
