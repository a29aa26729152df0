/**
 * Sealed sessions past 4 KB (issue 19): a seal too large for one cookie is split across `<name>`, `<name>.1`,
 * ... bound together (one AES-GCM seal whose associated data names the part count), within `sealedMaxBytes`
 * of Cookie header; parts a smaller session no longer uses are deleted in the same response.
 */
import { describe, expect, it } from 'vitest';
import { parseCookie, parseSetCookie } from '../../src/cookie/index.js';
import { createSessionManager, type SessionEvent, SessionTooLargeError } from '../../src/index.js';
import { CookieJar } from '../../src/jar/index.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

const S1 = 'first-sealing-secret-of-32-bytes-or-more';

type Data = { blob: string; n: number };

function sealed(extra: Parameters<typeof createSessionManager>[0] = {}) {
  const events: SessionEvent[] = [];
  const manager = createSessionManager<Data>({
    seal: { secrets: [S1] },
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return Object.assign(manager, { events });
}

/** `n` characters that do not compress or repeat (as real data would not). */
function blob(n: number, seed = 1): string {
  let out = '';
  let x = seed;
  while (out.length < n) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    out += x.toString(36);
  }
  return out.slice(0, n);
}

/** The bytes the browser's session cookies (`sid`, `sid.1`, ...) take in its Cookie header. */
function sessionHeaderBytes(browser: Browser, name = 'sid'): number {
  const pairs = [...browser.cookies].filter(([n]) => n === name || n.startsWith(`${name}.`));
  return pairs.map(([n, v]) => `${n}=${v}`).join('; ').length;
}

/** The names a response sets and deletes. */
function namesOf(lines: readonly string[], now = T0) {
  const parsed = lines.map((line) => parseSetCookie(line, { now })!);
  return {
    set: parsed.filter((c) => c.expiresAt === undefined || c.expiresAt > now).map((c) => c.name),
    deleted: parsed.filter((c) => c.expiresAt !== undefined && c.expiresAt <= now).map((c) => c.name),
  };
}

describe('sealed sessions past 4 KB', () => {
  it('grows from 3 KB to two parts (7 KB) and back to 2 KB, the unused part deleted in the same response', async () => {
    const manager = sealed();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('blob', blob(2000)));
    expect([...browser.cookies.keys()]).toEqual(['sid']);
    expect(sessionHeaderBytes(browser)).toBeGreaterThan(2500);
    expect(sessionHeaderBytes(browser)).toBeLessThan(3500);

    const grown = await visit(manager, browser, (s) => s.set('blob', blob(5000, 2)));
    expect(namesOf(grown.setCookie)).toEqual({ set: ['sid', 'sid.1'], deleted: [] });
    expect([...browser.cookies.keys()].sort()).toEqual(['sid', 'sid.1']);
    const bytes = sessionHeaderBytes(browser);
    expect(bytes).toBeGreaterThan(6500);
    expect(bytes).toBeLessThan(7500);
    // Each part within the browser's 4096 octets of name and value; the first names the count.
    for (const [name, value] of browser.cookies) expect(name.length + value.length).toBeLessThanOrEqual(4096);
    expect(browser.value('sid')!.startsWith('2.')).toBe(true);
    expect((await visit(manager, browser, (s) => s.get('blob'))).result).toBe(blob(5000, 2));

    const shrunk = await visit(manager, browser, (s) => s.set('blob', blob(1300, 3)));
    expect(namesOf(shrunk.setCookie)).toEqual({ set: ['sid'], deleted: ['sid.1'] });
    expect([...browser.cookies.keys()]).toEqual(['sid']);
    expect(sessionHeaderBytes(browser)).toBeLessThan(2200);
    expect((await visit(manager, browser, (s) => s.get('blob'))).result).toBe(blob(1300, 3));
    expect(manager.events.filter((e) => e.type === 'rejected')).toEqual([]);
  });

  it('a shrink from three parts to two deletes the third only; logout deletes every part', async () => {
    const manager = sealed({ sealedMaxBytes: 12_000 });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('blob', blob(7000)));
    expect([...browser.cookies.keys()].sort()).toEqual(['sid', 'sid.1', 'sid.2']);
    expect(browser.value('sid')!.startsWith('3.')).toBe(true);
    const shrunk = await visit(manager, browser, (s) => s.set('blob', blob(4000)));
    expect(namesOf(shrunk.setCookie)).toEqual({ set: ['sid', 'sid.1'], deleted: ['sid.2'] });
    expect((await visit(manager, browser, (s) => s.get('blob'))).result).toBe(blob(4000));
    const out = await visit(manager, browser, (s) => s.logout());
    expect(namesOf(out.setCookie)).toEqual({ set: [], deleted: ['sid', 'sid.1'] });
    expect(browser.cookies.size).toBe(0);
  });

  it('an unmodified request of a split session sets no cookie', async () => {
    const manager = sealed();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('blob', blob(5000)));
    const { setCookie, result } = await visit(manager, browser, (s) => s.get('blob'));
    expect(result).toBe(blob(5000));
    expect(setCookie).toEqual([]);
  });

  it('past sealedMaxBytes of Cookie header, SessionTooLargeError (as a cookie past 4096 bytes was before)', async () => {
    const manager = sealed();
    const session = await manager.load(undefined, { now: T0 });
    session.set('blob', blob(6500));
    const error = await manager.commit(session).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect((error as Error).message).toMatch(
      /the sealed session cookies would be \d+ bytes of Cookie header, more than 8192 \(sealedMaxBytes\); keep less/,
    );
    // The limit is the option's: 12,000 bytes take the same session in three parts.
    const larger = sealed({ sealedMaxBytes: 12_000 });
    const browser = new Browser();
    await visit(larger, browser, (s) => s.set('blob', blob(6500)));
    expect(browser.cookies.size).toBe(3);
    expect(sessionHeaderBytes(browser)).toBeLessThanOrEqual(12_000);
    expect((await visit(larger, browser, (s) => s.get('blob'))).result).toBe(blob(6500));
    // And a limit under one full cookie refuses a session that one cookie would have carried.
    const small = sealed({ sealedMaxBytes: 2000 });
    const one = await small.load(undefined, { now: T0 });
    one.set('blob', blob(1600));
    await expect(small.commit(one)).rejects.toThrow(/more than 2000 \(sealedMaxBytes\)/);
  });

  describe('parts bound together: any tampering gives a fresh session', () => {
    /** A browser holding a split session of `blob(size, seed)`, and its cookies. */
    async function split(manager: ReturnType<typeof sealed>, size: number, seed: number) {
      const browser = new Browser();
      await visit(manager, browser, (s) => {
        s.set('blob', blob(size, seed));
        s.set('n', seed);
      });
      return { browser, cookies: new Map(browser.cookies) };
    }

    async function read(manager: ReturnType<typeof sealed>, header: string) {
      const session = await manager.load(header, { now: T0 });
      return { n: session.get('n'), isNew: session.isNew };
    }

    const header = (pairs: [string, string][]) => pairs.map(([n, v]) => `${n}=${v}`).join('; ');

    it('the untampered parts open (the control)', async () => {
      const manager = sealed({ sealedMaxBytes: 12_000 });
      const { cookies } = await split(manager, 7000, 7);
      expect(await read(manager, header([...cookies]))).toEqual({ n: 7, isNew: false });
      // In any order in the header: parts are found by name.
      expect(await read(manager, header([...cookies].reverse()))).toEqual({ n: 7, isNew: false });
    });

    it('a part altered', async () => {
      const manager = sealed();
      const { cookies } = await split(manager, 5000, 1);
      const part = cookies.get('sid.1')!;
      const flipped = (part[100] === 'A' ? 'B' : 'A') + part.slice(101);
      expect(
        await read(
          manager,
          header([
            ['sid', cookies.get('sid')!],
            ['sid.1', part.slice(0, 100) + flipped],
          ]),
        ),
      ).toEqual({
        n: undefined,
        isNew: true,
      });
      // The first part's count altered (3 parts claimed, a part added to make them up): the count is sealed.
      const first = cookies.get('sid')!;
      const half = Math.floor(part.length / 2);
      expect(
        await read(
          manager,
          header([
            ['sid', `3.${first.slice(2)}`],
            ['sid.1', part.slice(0, half)],
            ['sid.2', part.slice(half)],
          ]),
        ),
      ).toEqual({ n: undefined, isNew: true });
      expect(manager.events.filter((e) => e.type === 'rejected')).toHaveLength(2);
    });

    it('a part missing (the first, or a later one)', async () => {
      const manager = sealed({ sealedMaxBytes: 12_000 });
      const { cookies } = await split(manager, 7000, 2);
      const without = (name: string) => header([...cookies].filter(([n]) => n !== name));
      expect(await read(manager, without('sid.1'))).toEqual({ n: undefined, isNew: true });
      expect(await read(manager, without('sid.2'))).toEqual({ n: undefined, isNew: true });
      expect(await read(manager, without('sid'))).toEqual({ n: undefined, isNew: true });
      // An empty part is a missing one.
      expect(await read(manager, header([...cookies].map(([n, v]) => [n, n === 'sid.2' ? '' : v])))).toEqual({
        n: undefined,
        isNew: true,
      });
    });

    it('parts reordered (swapped values)', async () => {
      const manager = sealed({ sealedMaxBytes: 12_000 });
      const { cookies } = await split(manager, 7000, 3);
      const swapped = header([
        ['sid', cookies.get('sid')!],
        ['sid.1', cookies.get('sid.2')!],
        ['sid.2', cookies.get('sid.1')!],
      ]);
      expect(await read(manager, swapped)).toEqual({ n: undefined, isNew: true });
    });

    it("a stale part of an earlier seal among the current ones (the same session's, or another's)", async () => {
      const manager = sealed();
      const browser = new Browser();
      await visit(manager, browser, (s) => {
        s.set('blob', blob(5000, 4));
        s.set('n', 1);
      });
      const earlier = new Map(browser.cookies);
      await visit(manager, browser, (s) => s.set('n', 2));
      const current = new Map(browser.cookies);
      expect(current.get('sid.1')).not.toBe(earlier.get('sid.1'));
      expect(await read(manager, header([...current]))).toEqual({ n: 2, isNew: false });
      expect(await read(manager, header([...earlier]))).toEqual({ n: 1, isNew: false });
      expect(
        await read(
          manager,
          header([
            ['sid', current.get('sid')!],
            ['sid.1', earlier.get('sid.1')!],
          ]),
        ),
      ).toEqual({
        n: undefined,
        isNew: true,
      });
      expect(
        await read(
          manager,
          header([
            ['sid', earlier.get('sid')!],
            ['sid.1', current.get('sid.1')!],
          ]),
        ),
      ).toEqual({
        n: undefined,
        isNew: true,
      });
      const other = await split(manager, 5000, 9);
      expect(
        await read(
          manager,
          header([
            ['sid', current.get('sid')!],
            ['sid.1', other.cookies.get('sid.1')!],
          ]),
        ),
      ).toEqual({ n: undefined, isNew: true });
    });

    it('the joined seal as one cookie, or one part alone, does not open (the count is sealed)', async () => {
      const manager = sealed({ sealedMaxBytes: 20_000 });
      const { cookies } = await split(manager, 5000, 5);
      const joined = cookies.get('sid')!.slice(2) + cookies.get('sid.1')!;
      expect(await read(manager, `sid=${joined}`)).toEqual({ n: undefined, isNew: true });
      expect(await read(manager, `sid=${cookies.get('sid.1')!}`)).toEqual({ n: undefined, isNew: true });
      // Malformed counts are refused before any part is looked up.
      for (const bad of ['1.', '0.', '05.', '100.', '9x']) {
        expect(
          await read(manager, `sid=${bad}${cookies.get('sid')!.slice(2)}; sid.1=${cookies.get('sid.1')!}`),
        ).toEqual({ n: undefined, isNew: true });
      }
    });

    it('an extra part beyond the count is never read (no mix) and the next write deletes it', async () => {
      const manager = sealed({ sealedMaxBytes: 12_000 });
      const three = await split(manager, 7000, 6);
      const browser = new Browser();
      await visit(manager, browser, (s) => {
        s.set('blob', blob(5000, 8));
        s.set('n', 8);
      });
      // A leftover third part (another response's, say) beside a two-part session: the session is read as it
      // was sealed, the extra part left out.
      browser.cookies.set('sid.2', three.cookies.get('sid.2')!);
      const read1 = await visit(manager, browser, (s) => [s.get('n'), s.get('blob')]);
      expect(read1.result).toEqual([8, blob(5000, 8)]);
      expect(browser.cookies.has('sid.2')).toBe(true);
      const write = await visit(manager, browser, (s) => s.set('n', 9));
      expect(namesOf(write.setCookie)).toEqual({ set: ['sid', 'sid.1'], deleted: ['sid.2'] });
      expect(browser.cookies.has('sid.2')).toBe(false);
      // Beside a one-cookie session too.
      await visit(manager, browser, (s) => s.set('blob', 'small'));
      browser.cookies.set('sid.1', three.cookies.get('sid.1')!);
      expect((await visit(manager, browser, (s) => s.get('n'))).result).toBe(9);
      const again = await visit(manager, browser, (s) => s.set('n', 10));
      expect(namesOf(again.setCookie)).toEqual({ set: ['sid'], deleted: ['sid.1'] });
      expect(manager.events.filter((e) => e.type === 'rejected')).toEqual([]);
    });
  });

  it('a __Host-Http- session: every part carries the prefix and its rules, and a jar keeps and sends every part', async () => {
    const manager = sealed({ cookie: { secure: true } });
    const jar = new CookieJar();
    const url = 'https://app.example/account';
    const request = async (handler: (s: Awaited<ReturnType<typeof manager.load>>) => unknown) => {
      const session = await manager.load(jar.getCookieHeader(url) || undefined, { now: T0, secure: true });
      const result = handler(session);
      const { setCookie } = await manager.commit(session);
      for (const line of setCookie) jar.setCookie(line, url, { onReject: 'throw' });
      return { setCookie, result };
    };
    await request((s) => s.set('blob', blob(2000)));
    const grown = await request((s) => s.set('blob', blob(5000)));
    expect(namesOf(grown.setCookie).set).toEqual(['__Host-Http-sid', '__Host-Http-sid.1']);
    for (const line of grown.setCookie) expect(line).toMatch(/; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(
      jar
        .getAllCookies()
        .map((c) => c.name)
        .sort(),
    ).toEqual(['__Host-Http-sid', '__Host-Http-sid.1']);
    const sent = parseCookie(jar.getCookieHeader(url));
    expect(Object.keys(sent).sort()).toEqual(['__Host-Http-sid', '__Host-Http-sid.1']);
    expect((await request((s) => s.get('blob'))).result).toBe(blob(5000));
    const shrunk = await request((s) => s.set('blob', blob(1300)));
    expect(namesOf(shrunk.setCookie).deleted).toEqual(['__Host-Http-sid.1']);
    expect(jar.getAllCookies().map((c) => c.name)).toEqual(['__Host-Http-sid']);
    expect((await request((s) => s.get('blob'))).result).toBe(blob(1300));
  });

  it('with a store beside the seal (revocation), a split session is refused once logged out', async () => {
    const manager = sealed({ store: new TestStore() });
    const browser = new Browser();
    await visit(manager, browser, (s) => {
      s.login('alice');
      s.set('blob', blob(5000));
    });
    expect(browser.cookies.size).toBe(2);
    const stolen = browser.header()!;
    await visit(manager, browser, (s) => s.logout());
    expect(browser.cookies.size).toBe(0);
    expect((await manager.load(stolen, { now: T0 })).userId).toBeUndefined();
  });

  it('sealedMaxBytes is checked: sealed sessions only, a whole number, at least 1024', () => {
    const store = new TestStore();
    expect(() => createSessionManager({ store, sealedMaxBytes: 8192 })).toThrow(
      /sealedMaxBytes applies to sealed/,
    );
    for (const bad of [0, -1, 1.5, '8192', 1023]) {
      expect(() => createSessionManager({ seal: { secrets: [S1] }, sealedMaxBytes: bad as number })).toThrow(
        /sealedMaxBytes must be/,
      );
    }
    expect(createSessionManager({ seal: { secrets: [S1] } }).sealedMaxBytes).toBe(8192);
    expect(createSessionManager({ seal: { secrets: [S1] }, sealedMaxBytes: 12_000 }).sealedMaxBytes).toBe(
      12_000,
    );
    expect(createSessionManager({ store }).sealedMaxBytes).toBeUndefined();
  });
});
