/**
 * Partitioned cookies (CHIPS): the cases of the CHIPS explainer (github.com/privacycg/CHIPS, and
 * Chrome's developer page on it), the partition key as Chromium derives it, the limits per partition,
 * persistence, and fetchWithJar's redirect chains.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CookieJar,
  type CookieJarJSON,
  type CookieJarOptions,
  CookieRejectedError,
  type FetchLike,
  fetchWithJar,
} from '../../src/jar/index.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const RETAIL = 'https://retail.example/';
const NEWS = 'https://news.example/';
const CHAT = 'https://support.chat.example/widget';
/** What an embedded third party sends: the explainer's recommended shape. */
const WIDGET = '__Host-chat=abc; Secure; Path=/; SameSite=None; Partitioned';

/** An embedded (cross-site) request made from a document of `topLevelSite`. */
const embedded = (topLevelSite: string | URL, now = NOW) =>
  ({ now, topLevelSite, sameSiteContext: 'cross-site' }) as const;

/** Both profiles: CHIPS behaves the same in each (`profile` is the profile helper's option). */
const PROFILES = ['rfc', 'chromium'] as const;
const jarOf = (profile: (typeof PROFILES)[number], options?: CookieJarOptions) =>
  new CookieJar({ ...options, profile } as CookieJarOptions);

describe.each(PROFILES)('CHIPS, the explainer’s cases (%s profile)', (profile) => {
  it('an embedded third party gets one cookie per top-level site, each sent only under its own', () => {
    const jar = jarOf(profile);
    expect(
      jar.setCookie(
        '__Host-chat=under-retail; Secure; Path=/; SameSite=None; Partitioned',
        CHAT,
        embedded(RETAIL),
      ),
    ).toMatchObject({ partitioned: true, partitionKey: 'https://retail.example' });
    jar.setCookie('__Host-chat=under-news; Secure; Path=/; SameSite=None; Partitioned', CHAT, embedded(NEWS));
    expect(jar.size).toBe(2);
    expect(jar.getAllCookies({ now: NOW }).map((c) => [c.value, c.partitionKey])).toEqual([
      ['under-retail', 'https://retail.example'],
      ['under-news', 'https://news.example'],
    ]);
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL))).toBe('__Host-chat=under-retail');
    expect(jar.getCookieHeader(CHAT, embedded(NEWS))).toBe('__Host-chat=under-news');
    // A third top-level site embedding the widget gets neither.
    expect(jar.getCookieHeader(CHAT, embedded('https://blog.example/post'))).toBe('');
    // Nor does the widget's site visited as the top-level site itself (its own partition).
    expect(jar.getCookieHeader(CHAT, { now: NOW })).toBe('');
    expect(jar.getCookieHeader(CHAT, { now: NOW, topLevelSite: CHAT })).toBe('');
  });

  it('keys by the top-level site: any page of the site, subdomains included, and not the origin or port', () => {
    const jar = jarOf(profile);
    jar.setCookie(WIDGET, CHAT, embedded('https://www.retail.example:8443/cart?x=1'));
    expect(jar.getAllCookies({ now: NOW })[0]!.partitionKey).toBe('https://retail.example');
    for (const top of [
      'https://retail.example',
      'https://shop.retail.example/a/b',
      new URL('https://retail.example:1/'),
    ]) {
      expect(jar.getCookieHeader(CHAT, embedded(top))).toBe('__Host-chat=abc');
    }
    // The partition is the top-level site's, whichever host of the embedded site asks.
    expect(jar.getCookieHeader('https://support.chat.example/other', embedded(RETAIL))).toBe(
      '__Host-chat=abc',
    );
  });

  it('the scheme is part of the key: http://a.example and https://a.example are different partitions', () => {
    const jar = jarOf(profile);
    jar.setCookie('p=plain; Secure; SameSite=None; Partitioned', CHAT, embedded('http://a.example/'));
    jar.setCookie('p=tls; Secure; SameSite=None; Partitioned', CHAT, embedded('https://a.example/'));
    expect(jar.getAllCookies({ now: NOW }).map((c) => c.partitionKey)).toEqual([
      'http://a.example',
      'https://a.example',
    ]);
    expect(jar.getCookieHeader(CHAT, embedded('http://a.example/x'))).toBe('p=plain');
    expect(jar.getCookieHeader(CHAT, embedded('https://a.example/x'))).toBe('p=tls');
    // WebSocket schemes count as their http ones (Chromium's SchemefulSite).
    expect(jar.getCookieHeader(CHAT, embedded('wss://a.example/'))).toBe('p=tls');
    expect(jar.getCookieHeader(CHAT, embedded('ws://a.example/'))).toBe('p=plain');
  });

  it('refuses Partitioned without Secure, naming CHIPS', () => {
    const jar = jarOf(profile);
    expect(jar.setCookie('p=1; SameSite=None; Partitioned', CHAT, embedded(RETAIL))).toBeUndefined();
    expect(jar.setCookie('p=1; Partitioned', 'https://retail.example/', { now: NOW })).toBeUndefined();
    expect(jar.size).toBe(0);
    let error: unknown;
    try {
      jar.setCookie('p=1; Path=/; Partitioned', 'https://retail.example/', { now: NOW, onReject: 'throw' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CookieRejectedError);
    expect((error as CookieRejectedError).step).toBe('CHIPS');
    expect((error as Error).message).toMatch(/cookie rejected by CHIPS: a Partitioned cookie without Secure/);
    expect((error as Error).message).not.toMatch(/RFC 6265bis/);
    // Over http, Secure itself is refused first (5.7 step 13).
    expect(() =>
      jar.setCookie('p=1; Secure; Partitioned', 'http://retail.example/', { now: NOW, onReject: 'throw' }),
    ).toThrow(/RFC 6265bis 5\.7 step 13/);
  });

  it('a partitioned and an unpartitioned cookie of the same name, domain and path coexist', () => {
    const jar = jarOf(profile);
    jar.setCookie('id=first-party; Secure; Path=/; SameSite=None', CHAT, { now: NOW });
    jar.setCookie(
      'id=partitioned; Secure; Path=/; SameSite=None; Partitioned',
      CHAT,
      embedded(RETAIL, NOW + 1),
    );
    jar.setCookie('id=own-partition; Secure; Path=/; Partitioned', CHAT, { now: NOW + 2 });
    expect(jar.size).toBe(3);
    expect(jar.getAllCookies({ now: NOW }).map((c) => [c.value, c.partitioned, c.partitionKey])).toEqual([
      ['first-party', false, undefined],
      ['partitioned', true, 'https://retail.example'],
      ['own-partition', true, 'https://chat.example'],
    ]);
    // The unpartitioned cookie goes everywhere (as a third-party cookie, where the caller allows it).
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL))).toBe('id=first-party; id=partitioned');
    expect(jar.getCookieHeader(CHAT, { now: NOW })).toBe('id=first-party; id=own-partition');
    // Overwriting one leaves the other.
    jar.setCookie('id=first-party-2; Secure; Path=/; SameSite=None', CHAT, embedded(RETAIL, NOW + 3));
    // A new value: the RFC keeps the creation-time (5.7 step 23.3); Chromium gives a new one, so the
    // overwritten cookie now sorts after the partitioned one.
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL))).toBe(
      profile === 'rfc' ? 'id=first-party-2; id=partitioned' : 'id=partitioned; id=first-party-2',
    );
    jar.setCookie(
      'id=partitioned-2; Secure; Path=/; SameSite=None; Partitioned',
      CHAT,
      embedded(RETAIL, NOW + 4),
    );
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL))).toBe('id=first-party-2; id=partitioned-2');
    expect(jar.size).toBe(3);
    // The replacement keeps the creation-time of the cookie it replaces (5.7 step 23.3), in its partition;
    // in the Chromium profile a new value gets a new one.
    expect(jar.getCookies(CHAT, embedded(RETAIL)).map((c) => c.creation.getTime())).toEqual(
      profile === 'rfc' ? [NOW, NOW + 1] : [NOW + 3, NOW + 4],
    );
  });

  it('orders partitioned and unpartitioned cookies together: longer path first, then earlier creation', () => {
    const jar = jarOf(profile);
    const at = (ms: number) => embedded(RETAIL, NOW + ms);
    jar.setCookie('a=1; Secure; Path=/; SameSite=None', `${CHAT}`, at(0));
    jar.setCookie('b=2; Secure; Path=/; SameSite=None; Partitioned', CHAT, at(1));
    jar.setCookie('c=3; Secure; Path=/deep; SameSite=None; Partitioned', CHAT, at(2));
    jar.setCookie('d=4; Secure; Path=/deep; SameSite=None', CHAT, at(3));
    jar.setCookie('e=5; Secure; Path=/; SameSite=None', CHAT, at(4));
    jar.setCookie('f=6; Secure; Path=/; SameSite=None; Partitioned', CHAT, at(5));
    expect(jar.getCookieHeader('https://support.chat.example/deep/x', embedded(RETAIL))).toBe(
      'c=3; d=4; a=1; b=2; e=5; f=6',
    );
    expect(
      jar.getCookies('https://support.chat.example/deep/x', embedded(RETAIL)).map((c) => c.name),
    ).toEqual(['c', 'd', 'a', 'b', 'e', 'f']);
  });

  it('takes the __Host- prefix with Partitioned, and still holds it to its rules', () => {
    const jar = jarOf(profile);
    expect(jar.setCookie(WIDGET, CHAT, embedded(RETAIL))).toMatchObject({
      name: '__Host-chat',
      hostOnly: true,
    });
    expect(() =>
      jar.setCookie('__Host-x=1; Secure; Path=/; Domain=chat.example; SameSite=None; Partitioned', CHAT, {
        ...embedded(RETAIL),
        onReject: 'throw',
      }),
    ).toThrow(/5\.7 step 21\.2/);
    expect(() =>
      jar.setCookie('__Host-x=1; Secure; Path=/a; SameSite=None; Partitioned', CHAT, {
        ...embedded(RETAIL),
        onReject: 'throw',
      }),
    ).toThrow(/5\.7 step 21\.3/);
    // A Domain attribute is allowed without the prefix: the cookie reaches the embedded site's hosts, in its partition.
    jar.setCookie('wide=1; Secure; Domain=chat.example; SameSite=None; Partitioned', CHAT, embedded(RETAIL));
    expect(jar.getCookieHeader('https://cdn.chat.example/', embedded(RETAIL))).toBe('wide=1');
    expect(jar.getCookieHeader('https://cdn.chat.example/', embedded(NEWS))).toBe('');
  });

  it('deletes with Max-Age=0 within its own partition only', () => {
    const jar = jarOf(profile);
    jar.setCookie(WIDGET, CHAT, embedded(RETAIL));
    jar.setCookie(WIDGET, CHAT, embedded(NEWS));
    jar.setCookie('__Host-chat=plain; Secure; Path=/; SameSite=None', CHAT, embedded(NEWS));
    expect(jar.size).toBe(3);
    jar.setCookie(
      '__Host-chat=; Secure; Path=/; SameSite=None; Partitioned; Max-Age=0',
      CHAT,
      embedded(NEWS),
    );
    expect(jar.size).toBe(2);
    expect(jar.getCookieHeader(CHAT, embedded(NEWS))).toBe('__Host-chat=plain');
    // Same path and creation-time: creation order.
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL))).toBe('__Host-chat=abc; __Host-chat=plain');
    // Without Partitioned, the deletion is of the unpartitioned cookie alone.
    jar.setCookie('__Host-chat=; Secure; Path=/; SameSite=None; Max-Age=0', CHAT, embedded(RETAIL));
    expect(jar.getAllCookies({ now: NOW }).map((c) => [c.value, c.partitionKey])).toEqual([
      ['abc', 'https://retail.example'],
    ]);
  });

  it('a top-level request (no topLevelSite) is its own partition, and a non-HTTP API partitions the same way', () => {
    const jar = jarOf(profile);
    jar.setCookie('own=1; Secure; Path=/; Partitioned', 'https://www.retail.example/', { now: NOW });
    expect(jar.getAllCookies({ now: NOW })[0]!.partitionKey).toBe('https://retail.example');
    expect(jar.getCookieHeader('https://www.retail.example/', { now: NOW })).toBe('own=1');
    expect(jar.getCookieHeader('https://www.retail.example/', { now: NOW, topLevelSite: RETAIL })).toBe(
      'own=1',
    );
    expect(jar.getCookieHeader('https://www.retail.example/', { now: NOW, topLevelSite: NEWS })).toBe('');
    jar.setCookie('script=2; Secure; Path=/; SameSite=None; Partitioned', CHAT, {
      ...embedded(NEWS),
      http: false,
    });
    expect(jar.getCookieHeader(CHAT, { ...embedded(NEWS), http: false })).toBe('script=2');
    expect(jar.getCookieHeader(CHAT, { ...embedded(RETAIL), http: false })).toBe('');
  });

  it('derives the key as Chromium’s SchemefulSite: registrable domain, else the host; private suffixes count', () => {
    const jar = jarOf(profile);
    const keyFor = (top: string | URL): string | undefined => {
      const c = jar.setCookie(`k=${String(top)}; Secure; SameSite=None; Partitioned`, CHAT, embedded(top));
      return c?.partitionKey;
    };
    expect(keyFor('https://a.b.example.co.uk/x')).toBe('https://example.co.uk');
    expect(keyFor('https://alice.github.io/')).toBe('https://alice.github.io');
    expect(keyFor('https://github.io/')).toBe('https://github.io');
    expect(keyFor('http://localhost:3000/')).toBe('http://localhost');
    expect(keyFor('http://app.localhost/')).toBe('http://app.localhost');
    expect(keyFor('https://www.web-platform.test/')).toBe('https://web-platform.test');
    expect(keyFor('https://127.0.0.1:8443/')).toBe('https://127.0.0.1');
    expect(keyFor('https://[::1]/')).toBe('https://[::1]');
    expect(keyFor('HTTPS://WWW.Example.COM')).toBe('https://example.com');
    expect(keyFor('https://bücher.example/')).toBe('https://xn--bcher-kva.example');
    expect(keyFor(new URL('https://x.example.org/'))).toBe('https://example.org');
    // The request URL's own key, for a top-level request, the same way.
    expect(
      jar.setCookie('own=1; Secure; Partitioned', 'https://127.0.0.1:9/', { now: NOW })?.partitionKey,
    ).toBe('https://127.0.0.1');
    expect(
      jar.setCookie('own=1; Secure; Partitioned', 'wss://a.b.example.com/', { now: NOW })?.partitionKey,
    ).toBe('https://example.com');
  });

  it('throws a TypeError for a topLevelSite that is not an http(s) URL with a host, partitioned cookie or not', () => {
    const jar = jarOf(profile);
    for (const bad of ['retail.example', 'file:///tmp/x', 'data:text/plain,x', '', 'https://']) {
      expect(() => jar.setCookie('a=1', 'https://x.example/', { now: NOW, topLevelSite: bad })).toThrow(
        TypeError,
      );
      expect(() => jar.getCookieHeader('https://x.example/', { now: NOW, topLevelSite: bad })).toThrow(
        /option topLevelSite/,
      );
    }
    expect(() => jar.getCookies('https://x.example/', { now: NOW, topLevelSite: 42 as never })).toThrow(
      TypeError,
    );
  });

  it('leaves "leave secure cookies alone" (5.7 step 16) to each partition, as Chromium', () => {
    const jar = jarOf(profile);
    jar.setCookie('s=partitioned; Secure; Path=/; Partitioned', 'https://retail.example/', { now: NOW });
    // An unpartitioned non-secure cookie of that name over http is not shadowed by a partitioned one.
    expect(jar.setCookie('s=plain; Path=/', 'http://retail.example/', { now: NOW })).toMatchObject({
      value: 'plain',
    });
    jar.setCookie('t=secure; Secure; Path=/', 'https://retail.example/', { now: NOW });
    expect(jar.setCookie('t=plain; Path=/', 'http://retail.example/', { now: NOW })).toBeUndefined();
  });

  it('endSession() and clear() take partitioned cookies too', () => {
    const jar = jarOf(profile);
    jar.setCookie(WIDGET, CHAT, embedded(RETAIL));
    jar.setCookie(`${WIDGET}; Max-Age=3600`.replace('__Host-chat', '__Host-kept'), CHAT, embedded(RETAIL));
    jar.setCookie('plain=1', 'http://retail.example/', { now: NOW });
    expect(jar.endSession()).toBe(2);
    expect(jar.getAllCookies({ now: NOW }).map((c) => c.name)).toEqual(['__Host-kept']);
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL))).toBe('__Host-kept=abc');
    jar.clear();
    expect(jar.size).toBe(0);
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL))).toBe('');
    expect(jar.setCookie(WIDGET, CHAT, embedded(RETAIL))).toBeDefined();
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL))).toBe('__Host-chat=abc');
  });

  it('evicts expired partitioned cookies as it meets them', () => {
    const jar = jarOf(profile);
    jar.setCookie(`${WIDGET}; Max-Age=10`, CHAT, embedded(RETAIL));
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL, NOW + 9_999))).toBe('__Host-chat=abc');
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL, NOW + 10_000))).toBe('');
    expect(jar.size).toBe(0);
  });
});

describe.each(PROFILES)('CHIPS limits (%s profile)', (profile) => {
  const set = (jar: CookieJar, line: string, top: string, url = CHAT, now = NOW) =>
    jar.setCookie(`${line}; Secure; Path=/; SameSite=None; Partitioned`, url, embedded(top, now));

  it('keeps at most 180 cookies of one embedded site per partition, evicting the least recently accessed', () => {
    const jar = jarOf(profile);
    // Spread over two hosts of the embedded site (the per-domain limit of 180 is not what acts).
    for (let i = 0; i < 180; i++) {
      set(jar, `c${i}=1`, RETAIL, i % 2 === 0 ? CHAT : 'https://cdn.chat.example/', NOW + i);
    }
    expect(jar.size).toBe(180);
    // c0 is read, so c1 is now the least recently accessed (two minutes later: the Chromium profile
    // updates a last-access-time at most once a minute).
    const later = NOW + 120_000;
    jar.getCookies(CHAT, embedded(RETAIL, later));
    // Another partition and another embedded site in this partition are unaffected.
    set(jar, 'other=1', NEWS, CHAT, later + 100);
    set(jar, 'map=1', RETAIL, 'https://maps.example/', later + 100);
    expect(jar.size).toBe(182);
    expect(set(jar, 'c180=1', RETAIL, CHAT, later + 200)).toBeDefined();
    expect(jar.size).toBe(182);
    const names = jar.getAllCookies({ now: later + 300 }).map((c) => c.name);
    expect(names).toContain('c0');
    expect(names).not.toContain('c1');
    expect(names).toContain('c180');
    expect(names).toContain('other');
    expect(names).toContain('map');
  });

  it('keeps at most 10 KiB of name and value of one embedded site per partition', () => {
    const jar = jarOf(profile);
    const big = 'x'.repeat(2046);
    for (let i = 0; i < 5; i++) set(jar, `b${i}=${big}`, RETAIL, CHAT, NOW + i);
    // 5 x 2048 = 10240 octets: at the limit, nothing goes.
    expect(jar.size).toBe(5);
    set(jar, 'u=1', RETAIL, CHAT, NOW + 10);
    expect(jar.getAllCookies({ now: NOW + 20 }).map((c) => c.name)).toEqual(['b1', 'b2', 'b3', 'b4', 'u']);
    // Octets of UTF-8, not UTF-16 units: 'é' is 2.
    // 3 x 3401 = 10203 octets (5103 UTF-16 units), then 41 more.
    const jar2 = jarOf(profile);
    for (let i = 0; i < 3; i++) set(jar2, `e${i}=${'é'.repeat(1700)}`, RETAIL, CHAT, NOW + i);
    expect(jar2.size).toBe(3);
    set(jar2, `f=${'é'.repeat(20)}`, RETAIL, CHAT, NOW + 10);
    expect(jar2.getAllCookies({ now: NOW + 20 }).map((c) => c.name)).toEqual(['e1', 'e2', 'f']);
    // Unpartitioned cookies have no such limit.
    const jar3 = jarOf(profile);
    for (let i = 0; i < 6; i++) jar3.setCookie(`b${i}=${big}`, CHAT, { now: NOW });
    expect(jar3.size).toBe(6);
  });

  it('evicts an expired cookie of the site before any live one', () => {
    const jar = jarOf(profile);
    const big = 'x'.repeat(3000);
    set(jar, `old=${big}`, RETAIL, CHAT, NOW);
    set(jar, `short=${big}; Max-Age=1`, RETAIL, CHAT, NOW + 1);
    set(jar, `mid=${big}`, RETAIL, CHAT, NOW + 2);
    set(jar, `new=${big}`, RETAIL, CHAT, NOW + 5000);
    expect(jar.getAllCookies({ now: NOW + 5000 }).map((c) => c.name)).toEqual(['old', 'mid', 'new']);
  });

  // The Chromium profile's maxCookies is CookieMonster's global limit of unpartitioned cookies (profile.ts).
  it.runIf(profile === 'rfc')('counts partitioned cookies in maxCookies', () => {
    const jar = jarOf(profile, { maxCookies: 4 });
    for (let i = 0; i < 3; i++) jar.setCookie(`u${i}=1`, 'https://retail.example/', { now: NOW + i });
    for (let i = 0; i < 3; i++) set(jar, `p${i}=1`, NEWS, CHAT, NOW + 10 + i);
    expect(jar.size).toBe(4);
    expect(jar.getAllCookies({ now: NOW + 20 }).map((c) => c.name)).toEqual(['u2', 'p0', 'p1', 'p2']);
  });
});

describe('CHIPS persistence', () => {
  function partitionedJar(): CookieJar {
    const jar = new CookieJar();
    jar.setCookie(WIDGET, CHAT, embedded(RETAIL));
    jar.setCookie(`${WIDGET}; Max-Age=60`, CHAT, embedded(NEWS, NOW + 1));
    jar.setCookie('plain=1; Path=/; Secure; SameSite=None', 'https://support.chat.example/', {
      now: NOW + 2,
    });
    return jar;
  }

  it('JSON keeps the partition key', () => {
    const jar = partitionedJar();
    const json = jar.toJSON({ now: NOW + 3 });
    expect(json.cookies.map((c) => c.partitionKey)).toEqual([
      'https://retail.example',
      'https://news.example',
      undefined,
    ]);
    expect('partitionKey' in json.cookies[2]!).toBe(false);
    const copy = CookieJar.fromJSON(JSON.stringify(json), { now: NOW + 3 });
    expect(copy.toJSON({ now: NOW + 3 })).toEqual(json);
    expect(copy.getAllCookies({ now: NOW + 3 })).toEqual(jar.getAllCookies({ now: NOW + 3 }));
    expect(copy.getCookieHeader(CHAT, embedded(RETAIL, NOW + 3))).toBe('__Host-chat=abc; plain=1');
    expect(copy.getCookieHeader(CHAT, embedded(NEWS, NOW + 3))).toBe('__Host-chat=abc; plain=1');
    expect(copy.getCookieHeader(CHAT, embedded('https://blog.example/', NOW + 3))).toBe('plain=1');
  });

  it('fromJSON checks the partition key', () => {
    const good = partitionedJar().toJSON({ now: NOW });
    const withKey = (partitionKey: unknown): CookieJarJSON =>
      ({ version: 1, cookies: [{ ...good.cookies[0], partitionKey }] }) as CookieJarJSON;
    for (const bad of [
      42,
      '',
      'retail.example',
      'https://retail.example/',
      'https://Retail.example',
      'ftp://a.example',
      'https://a.example:443',
      'https://www.retail.example',
    ]) {
      expect(() => CookieJar.fromJSON(withKey(bad)), String(bad)).toThrow(
        /cookies\[0\]\.partitionKey is invalid/,
      );
    }
    for (const ok of [
      'https://retail.example',
      'http://localhost',
      'https://127.0.0.1',
      'https://[::1]',
      'https://alice.github.io',
    ]) {
      expect(
        CookieJar.fromJSON(withKey(ok), { now: NOW }).getAllCookies({ now: NOW })[0]?.partitionKey,
        ok,
      ).toBe(ok);
    }
  });

  it('round-trips the key of any host a request can have (the fuzzer found `https://=`)', () => {
    const jar = new CookieJar();
    for (const url of ['https://a=b.example/', 'https://===/', "https://x!$&'()*+.example/"]) {
      expect(jar.setCookie('p=1; Secure; Partitioned', url, { now: NOW }), url).toBeDefined();
    }
    jar.setCookie('q=1; Secure; SameSite=None; Partitioned', CHAT, embedded('https://a=b.example/'));
    expect(jar.size).toBe(4);
    const copy = CookieJar.fromJSON(JSON.stringify(jar.toJSON({ now: NOW })), { now: NOW });
    expect(copy.getAllCookies({ now: NOW })).toEqual(jar.getAllCookies({ now: NOW }));
    // A top-level site with a host no request can have (an empty label) is refused like a request URL.
    expect(() => jar.getCookieHeader(CHAT, embedded('https://x..example/'))).toThrow(TypeError);
  });

  it('fromJSON drops what CHIPS forbids and puts a partitioned cookie without a key in its own site’s partition', () => {
    const [p, , u] = partitionedJar().toJSON({ now: NOW }).cookies;
    // A file from before partition keys were kept.
    const legacy = { ...p!, domain: 'cdn.chat.example', name: 'legacy', partitionKey: undefined };
    const jar = CookieJar.fromJSON(
      {
        version: 1,
        cookies: [
          { ...u!, name: 'key-without-flag', partitionKey: 'https://news.example' },
          { ...p!, name: 'not-secure', secure: false, sameSite: 'Lax' },
          legacy,
          { ...u!, name: 'kept' },
        ],
      },
      { now: NOW },
    );
    expect(jar.getAllCookies({ now: NOW }).map((c) => [c.name, c.partitionKey])).toEqual([
      ['legacy', 'https://chat.example'],
      ['kept', undefined],
    ]);
  });

  it('fromJSON applies the limits per partition', () => {
    const [p] = partitionedJar().toJSON({ now: NOW }).cookies;
    const cookies = Array.from({ length: 200 }, (_, i) => ({
      ...p!,
      name: `c${i}`,
      creation: NOW + i,
      lastAccess: NOW + i,
    }));
    const jar = CookieJar.fromJSON({ version: 1, cookies }, { now: NOW });
    expect(jar.size).toBe(180);
    expect(jar.getAllCookies({ now: NOW })[0]!.name).toBe('c20');
  });

  it('cookies.txt leaves partitioned cookies out and says how many', () => {
    const jar = partitionedJar();
    const text = jar.toNetscape({ now: NOW + 3 });
    expect(text).toBe(
      [
        '# Netscape HTTP Cookie File',
        '# Written by Teller (teller/jar).',
        '# 2 partitioned cookies left out: cookies.txt has no field for the partition',
        '',
        'support.chat.example\tFALSE\t/\tTRUE\t0\tplain\t1',
        '',
      ].join('\n'),
    );
    expect(jar.toNetscapeDetailed({ now: NOW + 3 })).toEqual({ text, partitionedLeftOut: 2 });
    // The file reads back without them.
    expect(
      CookieJar.fromNetscape(text, { now: NOW })
        .getAllCookies({ now: NOW })
        .map((c) => c.name),
    ).toEqual(['plain']);
    // After the 60 s one expires, one is left out; none at all means no comment line.
    expect(jar.toNetscapeDetailed({ now: NOW + 61_001 }).partitionedLeftOut).toBe(1);
    expect(jar.toNetscape({ now: NOW + 61_001 })).toContain('# 1 partitioned cookie left out:');
    const plain = new CookieJar();
    plain.setCookie('plain=1', 'https://x.example/', { now: NOW });
    expect(plain.toNetscapeDetailed({ now: NOW })).toEqual({
      text: '# Netscape HTTP Cookie File\n# Written by Teller (teller/jar).\n\nx.example\tFALSE\t/\tFALSE\t0\tplain\t1\n',
      partitionedLeftOut: 0,
    });
  });
});

describe('CHIPS with fetchWithJar', () => {
  it('keys each hop of a redirect chain by that hop’s own URL (each is a top-level request)', async () => {
    const jar = new CookieJar();
    const seen: Array<[string, string]> = [];
    const routes: Record<string, { location?: string; cookies: string[] }> = {
      'https://a.example/start': {
        location: 'https://b.example/hop',
        cookies: ['pa=1; Secure; Path=/; Partitioned'],
      },
      'https://b.example/hop': {
        location: 'https://www.a.example/end',
        cookies: ['pb=2; Secure; Path=/; Partitioned', 'ub=3; Secure; Path=/'],
      },
      'https://www.a.example/end': { cookies: [] },
      'https://b.example/again': { cookies: [] },
    };
    const fake: FetchLike = async (input, init) => {
      const url = String(input);
      seen.push([url, new Headers(init?.headers).get('cookie') ?? '']);
      const route = routes[url]!;
      const headers: Array<[string, string]> = route.cookies.map((c) => ['set-cookie', c]);
      if (route.location !== undefined) headers.push(['location', route.location]);
      return new Response(null, { status: route.location === undefined ? 200 : 302, headers });
    };
    const fetch = fetchWithJar(jar, fake, { now: () => NOW });
    await fetch('https://a.example/start');
    expect(jar.getAllCookies({ now: NOW }).map((c) => [c.name, c.domain, c.partitionKey])).toEqual([
      ['pa', 'a.example', 'https://a.example'],
      ['pb', 'b.example', 'https://b.example'],
      ['ub', 'b.example', undefined],
    ]);
    await fetch('https://b.example/again');
    expect(seen).toEqual([
      ['https://a.example/start', ''],
      ['https://b.example/hop', ''],
      // www.a.example is in a.example's partition, but pa is host-only for a.example.
      ['https://www.a.example/end', ''],
      ['https://b.example/again', 'pb=2; ub=3'],
    ]);
    // Under another top-level site, b's partitioned cookie stays home.
    expect(jar.getCookieHeader('https://b.example/', { now: NOW, topLevelSite: 'https://a.example/' })).toBe(
      'ub=3',
    );
  });
});

describe('CHIPS properties', () => {
  const TOPS = ['https://retail.example/', 'https://news.example/', 'http://retail.example/', undefined];
  const URLS = [
    'https://support.chat.example/',
    'https://chat.example/a',
    'https://retail.example/',
    'http://chat.example/',
  ];
  const step = fc.record({
    name: fc.constantFrom('a', 'b', '__Host-c'),
    attrs: fc.subarray([
      'Secure',
      'Path=/',
      'SameSite=None',
      'Partitioned',
      'Max-Age=0',
      'Domain=chat.example',
    ]),
    url: fc.constantFrom(...URLS),
    top: fc.constantFrom(...TOPS),
  });

  it('a request gets unpartitioned cookies as if there were no partitions, and partitioned ones of its key only', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 30 }),
        fc.constantFrom(...URLS),
        fc.constantFrom(...TOPS),
        (steps, target, top) => {
          const jar = new CookieJar();
          const plain = new CookieJar();
          for (const [i, s] of steps.entries()) {
            const line = [`${s.name}=${i}`, ...s.attrs].join('; ');
            jar.setCookie(line, s.url, { now: NOW, topLevelSite: s.top });
            if (!s.attrs.includes('Partitioned'))
              plain.setCookie(line, s.url, { now: NOW, topLevelSite: s.top });
          }
          const key =
            top === undefined ? new URL(target).origin.replace('support.', '') : new URL(top).origin;
          const sent = jar.getCookies(target, { now: NOW, topLevelSite: top });
          for (const c of sent) expect(c.partitionKey === undefined || c.partitionKey === key).toBe(true);
          expect(sent.filter((c) => c.partitionKey === undefined).map((c) => [c.name, c.value])).toEqual(
            plain.getCookies(target, { now: NOW, topLevelSite: top }).map((c) => [c.name, c.value]),
          );
          for (const c of jar.getAllCookies({ now: NOW }))
            expect(c.partitioned).toBe(c.partitionKey !== undefined);
        },
      ),
      { seed: 6265, numRuns: 300 },
    );
  });
});

describe.each(PROFILES)('CHIPS, a partition emptied by the overwrite itself (%s profile)', (profile) => {
  it('keeps the newcomer when the one cookie it replaces was its partition’s last (expired, or a new value)', () => {
    const jar = jarOf(profile);
    jar.setCookie('id=a; Secure; Path=/; SameSite=None; Max-Age=1; Partitioned', CHAT, embedded(RETAIL, NOW));
    // Expired: removed as the newcomer arrives, which empties (and drops) the partition.
    jar.setCookie('id=b; Secure; Path=/; SameSite=None; Partitioned', CHAT, embedded(RETAIL, NOW + 5000));
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL, NOW + 5001))).toBe('id=b');
    // A new value (the Chromium profile replaces the cookie by a new one).
    jar.setCookie('id=c; Secure; Path=/; SameSite=None; Partitioned', CHAT, embedded(RETAIL, NOW + 6000));
    expect(jar.getCookieHeader(CHAT, embedded(RETAIL, NOW + 6001))).toBe('id=c');
    expect(jar.size).toBe(1);
  });
});
