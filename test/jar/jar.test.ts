/** The storage model (RFC 6265bis 5.7) and retrieval (5.8.3), rule by rule, with a fake clock. */
import { describe, expect, it } from 'vitest';
import { CookieJar, CookieRejectedError } from '../../src/jar/index.js';
import { asOctets, cookieOfOctets, fromOctets } from '../support/octets.js';
import { growthRatio } from '../support/timing.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const DAY = 86_400_000;

function jarWith(lines: string[], url: string, now = NOW): CookieJar {
  const jar = new CookieJar();
  for (const line of lines) jar.setCookie(line, url, { now });
  return jar;
}

function rejectionStep(jar: CookieJar, line: string, url: string, options: object = {}): string | undefined {
  try {
    jar.setCookie(line, url, { now: NOW, onReject: 'throw', ...options });
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(CookieRejectedError);
    // An RFC 6265bis step, or one of its successor draft (layered cookies) for the __Http- prefixes.
    const { step } = error as CookieRejectedError;
    expect((error as Error).message).toMatch(/^\[teller\] \[jar\] cookie rejected by /);
    expect((error as Error).message).toContain(
      step.startsWith('layered-cookies ') ? `rejected by ${step}: ` : `rejected by RFC 6265bis ${step}: `,
    );
    return (error as CookieRejectedError).step;
  }
}

describe('domains (5.1.2, 5.1.3, 5.7 steps 7-10)', () => {
  it('stores a cookie without Domain as host-only: sent to its host only', () => {
    const jar = jarWith(['a=1'], 'http://www.example.com/');
    expect(jar.getCookieHeader('http://www.example.com/', { now: NOW })).toBe('a=1');
    expect(jar.getCookieHeader('http://sub.www.example.com/', { now: NOW })).toBe('');
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe('');
    expect(jar.getCookies('http://www.example.com/', { now: NOW })[0]).toMatchObject({
      domain: 'www.example.com',
      hostOnly: true,
    });
  });

  it('stores a Domain cookie for the domain and its subdomains, not siblings or parents', () => {
    const jar = jarWith(['a=1; Domain=.Example.COM'], 'http://www.example.com/');
    expect(jar.getCookies('http://example.com/', { now: NOW })[0]).toMatchObject({
      domain: 'example.com',
      hostOnly: false,
    });
    expect(jar.getCookieHeader('http://a.b.example.com/', { now: NOW })).toBe('a=1');
    expect(jar.getCookieHeader('http://notexample.com/', { now: NOW })).toBe('');
    expect(jar.getCookieHeader('http://com/', { now: NOW })).toBe('');
  });

  it('refuses a Domain the request host does not domain-match (step 10)', () => {
    const jar = new CookieJar();
    expect(rejectionStep(jar, 'a=1; Domain=other.com', 'http://example.com/')).toBe('5.7 step 10');
    expect(rejectionStep(jar, 'a=1; Domain=www.example.com', 'http://example.com/')).toBe('5.7 step 10');
    expect(rejectionStep(jar, 'a=1; Domain=ample.com', 'http://example.com/')).toBe('5.7 step 10');
  });

  it('refuses a public suffix Domain (step 9), but a host that is a public suffix gets a host-only cookie', () => {
    const jar = new CookieJar();
    expect(rejectionStep(jar, 'a=1; Domain=co.uk', 'http://example.co.uk/')).toBe('5.7 step 9');
    expect(rejectionStep(jar, 'a=1; Domain=github.io', 'https://alice.github.io/')).toBe('5.7 step 9');
    expect(rejectionStep(jar, 'a=1; Domain=com', 'http://example.com/')).toBe('5.7 step 9');
    const stored = jar.setCookie('a=1; Domain=github.io', 'https://github.io/', { now: NOW });
    expect(stored).toMatchObject({ domain: 'github.io', hostOnly: true });
    expect(jar.getCookieHeader('https://alice.github.io/', { now: NOW })).toBe('');
  });

  it('refuses a non-ASCII Domain attribute (step 8) and canonicalizes IDN hosts to A-labels (5.1.2)', () => {
    const jar = new CookieJar();
    expect(rejectionStep(jar, 'a=1; Domain=bücher.example', 'http://bücher.example/')).toBe('5.7 step 8');
    jar.setCookie('b=2', 'http://BÜCHER.example/', { now: NOW });
    jar.setCookie('c=3; Domain=XN--BCHER-KVA.example', 'http://bücher.example/', { now: NOW });
    expect(jar.getCookies('http://xn--bcher-kva.example/', { now: NOW }).map((c) => c.domain)).toEqual([
      'xn--bcher-kva.example',
      'xn--bcher-kva.example',
    ]);
    expect(jar.getCookieHeader('http://bücher.example/', { now: NOW })).toBe('b=2; c=3');
  });

  it('lets an IP address match only itself', () => {
    const jar = new CookieJar();
    expect(jar.setCookie('a=1; Domain=127.0.0.1', 'http://127.0.0.1/', { now: NOW })).toMatchObject({
      hostOnly: false,
    });
    expect(rejectionStep(jar, 'b=1; Domain=0.0.1', 'http://127.0.0.1/')).toBe('5.7 step 10');
    expect(jar.getCookieHeader('http://127.0.0.1:8080/', { now: NOW })).toBe('a=1');
    expect(jar.getCookieHeader('http://10.127.0.0.1.nip.io/', { now: NOW })).toBe('');
    jar.setCookie('v6=1', 'http://[::1]:3000/', { now: NOW });
    expect(jar.getCookieHeader('http://[0:0::1]/', { now: NOW })).toBe('v6=1');
  });

  it('refuses a host with an empty label, which fails to canonicalize (5.1.2): Domain=com.. from x.com..', () => {
    const jar = new CookieJar();
    expect(rejectionStep(jar, 'a=1; Domain=com..', 'http://x.com../')).toBe('5.7 step 10');
    expect(rejectionStep(jar, 'a=1', 'http://x.com../')).toBe('5.7 step 10');
    expect(rejectionStep(jar, 'a=1; Domain=x.com', 'http://y.x..com/')).toBe('5.7 step 10');
    expect(rejectionStep(jar, 'a=1', 'http://.x.com/')).toBe('5.7 step 10');
    expect(jar.size).toBe(0);
    // Nothing is sent to such a host either (nor can a jar file hold such a domain: persistence tests).
    expect(jar.getCookieHeader('http://y.com../', { now: NOW })).toBe('');
    // One trailing dot is a fully qualified name: a host of its own, whose parent "com." is a public suffix.
    expect(jar.setCookie('b=2', 'http://x.com./', { now: NOW })).toMatchObject({ domain: 'x.com.' });
    expect(rejectionStep(jar, 'a=1; Domain=com.', 'http://x.com./')).toBe('5.7 step 9');
    expect(jar.getCookieHeader('http://x.com./', { now: NOW })).toBe('b=2');
    expect(jar.getCookieHeader('http://x.com/', { now: NOW })).toBe('');
  });

  it('ignores ports and schemes for matching, and refuses URLs without a host', () => {
    const jar = jarWith(['a=1'], 'http://example.com:8080/');
    expect(jar.getCookieHeader('https://example.com/', { now: NOW })).toBe('a=1');
    expect(jar.getCookieHeader('ws://example.com:9/', { now: NOW })).toBe('a=1');
    expect(rejectionStep(jar, 'b=1', 'file:///etc/passwd')).toBe('5.7 step 10');
    expect(rejectionStep(jar, 'b=1', 'not a url')).toBe('5.7 step 10');
    expect(jar.getCookieHeader('data:text/plain,x', { now: NOW })).toBe('');
    expect(jar.getCookieHeader({ href: 'http://example.com/' } as URL, { now: NOW })).toBe('a=1');
    expect(jar.getCookieHeader(42 as unknown as string, { now: NOW })).toBe('');
  });
});

describe('paths (5.1.4, 5.7 step 11)', () => {
  it('uses the default-path when Path is absent, empty or relative', () => {
    const jar = new CookieJar();
    const url = 'http://example.com/docs/guide/page.html?q=1';
    expect(jar.setCookie('a=1', url, { now: NOW })?.path).toBe('/docs/guide');
    expect(jar.setCookie('b=1; Path=', url, { now: NOW })?.path).toBe('/docs/guide');
    expect(jar.setCookie('c=1; Path=relative', url, { now: NOW })?.path).toBe('/docs/guide');
    expect(jar.setCookie('d=1', 'http://example.com/page', { now: NOW })?.path).toBe('/');
    expect(jar.setCookie('e=1', 'http://example.com', { now: NOW })?.path).toBe('/');
  });

  it('path-matches on segment boundaries only', () => {
    const jar = jarWith(['a=1; Path=/docs', 'b=2; Path=/docs/'], 'http://example.com/');
    const header = (p: string) => jar.getCookieHeader(`http://example.com${p}`, { now: NOW });
    expect(header('/docs')).toBe('a=1');
    expect(header('/docs/')).toBe('b=2; a=1');
    expect(header('/docs/x')).toBe('b=2; a=1');
    expect(header('/docsx')).toBe('');
    expect(header('/')).toBe('');
  });

  it('orders by longer path first, then earlier creation (5.8.3 step 4)', () => {
    const jar = new CookieJar();
    jar.setCookie('late=1; Path=/', 'http://example.com/', { now: NOW + 2 });
    jar.setCookie('early=1; Path=/', 'http://example.com/', { now: NOW + 1 });
    jar.setCookie('deep=1; Path=/a/b', 'http://example.com/', { now: NOW + 3 });
    jar.setCookie('mid=1; Path=/a', 'http://example.com/', { now: NOW + 4 });
    jar.setCookie('same=1; Path=/', 'http://example.com/', { now: NOW + 1 });
    expect(jar.getCookieHeader('http://example.com/a/b/c', { now: NOW + 5 })).toBe(
      'deep=1; mid=1; early=1; same=1; late=1',
    );
  });
});

describe('Secure (5.7 steps 12-13 and 16, 5.8.3 step 3)', () => {
  it('refuses Secure from an insecure origin, and sends Secure cookies to secure ones only', () => {
    const jar = new CookieJar();
    expect(rejectionStep(jar, 's=1; Secure', 'http://example.com/')).toBe('5.7 step 13');
    jar.setCookie('s=1; Secure', 'https://example.com/', { now: NOW });
    expect(jar.getCookieHeader('https://example.com/', { now: NOW })).toBe('s=1');
    expect(jar.getCookieHeader('wss://example.com/', { now: NOW })).toBe('s=1');
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe('');
  });

  it('treats localhost, 127.0.0.0/8 and [::1] as secure', () => {
    for (const url of [
      'http://localhost:3000/',
      'http://app.localhost/',
      'http://127.0.0.1/',
      'http://[::1]/',
    ]) {
      const jar = new CookieJar();
      expect(jar.setCookie('s=1; Secure', url, { now: NOW }), url).toBeDefined();
      expect(jar.getCookieHeader(url, { now: NOW }), url).toBe('s=1');
    }
    expect(rejectionStep(new CookieJar(), 's=1; Secure', 'http://localhost.example/')).toBe('5.7 step 13');
  });

  it('leaves secure cookies alone: an insecure origin cannot overlay one (step 16)', () => {
    const jar = new CookieJar();
    jar.setCookie('a=secure; Secure; Path=/login', 'https://example.com/', { now: NOW });
    expect(rejectionStep(jar, 'a=evil; Path=/login', 'http://example.com/')).toBe('5.7 step 16');
    expect(rejectionStep(jar, 'a=evil; Path=/login/en', 'http://example.com/')).toBe('5.7 step 16');
    // Domains are compared both ways and regardless of the host-only-flag.
    expect(rejectionStep(jar, 'a=evil; Path=/login', 'http://www.example.com/')).toBe('5.7 step 16');
    jar.setCookie('w=secure; Secure', 'https://www.example.com/', { now: NOW });
    expect(rejectionStep(jar, 'w=evil; Domain=example.com', 'http://example.com/')).toBe('5.7 step 16');
    expect(rejectionStep(jar, 'w=fine', 'http://other.example.com/')).toBeUndefined();
    // A path the secure cookie's path does not cover is allowed, as the RFC's note says.
    expect(rejectionStep(jar, 'a=ok; Path=/', 'http://example.com/')).toBeUndefined();
    expect(rejectionStep(jar, 'b=ok; Path=/login', 'http://example.com/')).toBeUndefined();
    // From a secure origin the secure cookie may be replaced.
    expect(rejectionStep(jar, 'a=new; Path=/login', 'https://example.com/')).toBeUndefined();
    expect(jar.getCookieHeader('https://example.com/login', { now: NOW })).toBe('a=new; b=ok; a=ok');
  });
});

describe('HttpOnly and non-HTTP APIs (5.7 steps 14-15 and 23.2, 5.8.3 step 3)', () => {
  it('a non-HTTP API can neither set, see nor overwrite an HttpOnly cookie', () => {
    const jar = new CookieJar();
    expect(rejectionStep(jar, 'h=1; HttpOnly', 'http://example.com/', { http: false })).toBe('5.7 step 15');
    jar.setCookie('h=1; HttpOnly; Path=/', 'http://example.com/', { now: NOW });
    jar.setCookie('p=1; Path=/', 'http://example.com/', { now: NOW });
    expect(rejectionStep(jar, 'h=2; Path=/', 'http://example.com/', { http: false })).toBe('5.7 step 23.2');
    expect(jar.getCookieHeader('http://example.com/', { now: NOW, http: false })).toBe('p=1');
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe('h=1; p=1');
    // Deleting it from script is an overwrite too.
    jar.setCookie('h=; Max-Age=0; Path=/', 'http://example.com/', { now: NOW, http: false });
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe('h=1; p=1');
  });
});

describe('cookie prefixes (5.4, 5.7 steps 20-22), case-insensitive', () => {
  it.each([
    ['__Secure-a=1', '5.7 step 20'],
    ['__SECURE-a=1; Domain=example.com', '5.7 step 20'],
    ['__secure-a=1; Secure', undefined],
    ['__Secure-a=1; Secure; Domain=example.com', undefined],
    ['__Host-a=1; Path=/', '5.7 step 21.1'],
    ['__host-a=1; Secure; Path=/; Domain=example.com', '5.7 step 21.2'],
    ['__HOST-a=1; Secure', '5.7 step 21.3'],
    ['__Host-a=1; Secure; Path=/x', '5.7 step 21.3'],
    ['__hOsT-a=1; Secure; Path=/', undefined],
    ['__Host-a', '5.7 step 22'],
    ['=__secure-a=1', '5.7 step 22'],
    ['=__Host-x; Secure; Path=/', '5.7 step 22'],
  ])('%s -> %s', (line, step) => {
    expect(rejectionStep(new CookieJar(), line, 'https://example.com/')).toBe(step);
  });
});

describe('the __Http- and __Host-Http- prefixes (layered cookies 4.1.3.3-4, 5.4.3 steps 14-17)', () => {
  const L = 'layered-cookies 5.4.3 step';
  it.each([
    // __Http-: Secure and HttpOnly; Domain and Path are free.
    ['__Http-a=1; Secure; HttpOnly', undefined],
    ['__http-a=1; Secure; HttpOnly; Domain=example.com; Path=/x', undefined],
    ['__Http-a=1; HttpOnly', `${L} 15`],
    ['__HTTP-a=1; Secure', `${L} 15`],
    ['__hTtP-a=1; Secure; Domain=example.com', `${L} 15`],
    // __Host-Http-: what __Host- needs (5.7 step 21, the draft's step 14), then HttpOnly.
    ['__Host-Http-a=1; Secure; HttpOnly; Path=/', undefined],
    ['__HOST-HTTP-a=1; Secure; HttpOnly; Path=/', undefined],
    ['__Host-Http-a=1; Secure; Path=/', `${L} 16`],
    ['__host-http-a=1; Secure; Path=/', `${L} 16`],
    ['__Host-Http-a=1; HttpOnly; Path=/', '5.7 step 21.1'],
    ['__Host-Http-a=1; Secure; HttpOnly; Path=/; Domain=example.com', '5.7 step 21.2'],
    ['__Host-Http-a=1; Secure; HttpOnly', '5.7 step 21.3'],
    ['__Host-Http-a=1; Secure; HttpOnly; Path=/x', '5.7 step 21.3'],
    // Names that only resemble the prefixes.
    ['__Httpa=1', undefined],
    ['_Http-a=1', undefined],
    ['__Host-Httpa=1; Secure; Path=/', undefined],
    // A nameless cookie may not look like one (step 17).
    ['=__Http-a=1; Secure; HttpOnly', `${L} 17`],
    ['__http-a', `${L} 17`],
    ['=__Host-Http-a=1; Secure; HttpOnly; Path=/', '5.7 step 22'],
  ])('%s -> %s', (line, step) => {
    expect(rejectionStep(new CookieJar(), line, 'https://example.com/')).toBe(step);
  });

  it('stores and sends an accepted one like any HttpOnly cookie, never to a script', () => {
    const jar = new CookieJar();
    jar.setCookie('__Host-Http-sid=1; Secure; HttpOnly; Path=/', 'https://example.com/', { now: NOW });
    jar.setCookie('__Http-t=2; Secure; HttpOnly; Domain=example.com', 'https://example.com/', { now: NOW });
    expect(jar.getCookieHeader('https://example.com/a', { now: NOW })).toBe('__Host-Http-sid=1; __Http-t=2');
    expect(jar.getCookieHeader('https://www.example.com/', { now: NOW })).toBe('__Http-t=2');
    expect(jar.getCookieHeader('https://example.com/', { now: NOW, http: false })).toBe('');
    // Secure: never over plain http.
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe('');
  });

  it('refuses every one from a non-HTTP API (http: false), with or without HttpOnly', () => {
    const https = 'https://example.com/';
    const script = { http: false };
    // With HttpOnly, 5.7 step 15 (the draft's step 9) refuses it first; without, the prefix does.
    expect(rejectionStep(new CookieJar(), '__Http-a=1; Secure; HttpOnly', https, script)).toBe('5.7 step 15');
    expect(rejectionStep(new CookieJar(), '__Http-a=1; Secure', https, script)).toBe(`${L} 15`);
    expect(rejectionStep(new CookieJar(), '__Host-Http-a=1; Secure; HttpOnly; Path=/', https, script)).toBe(
      '5.7 step 15',
    );
    expect(rejectionStep(new CookieJar(), '__Host-Http-a=1; Secure; Path=/', https, script)).toBe(`${L} 16`);
    expect(rejectionStep(new CookieJar(), '__host-http-a=1; secure; path=/', https, script)).toBe(`${L} 16`);
    // The same cookies without a prefix, from the same script: kept.
    const jar = new CookieJar();
    expect(jar.setCookie('a=1; Secure; Path=/', https, { now: NOW, ...script })).toBeDefined();
    // A script cannot delete or overwrite an accepted one either (5.7 step 23.2 for the HttpOnly cookie).
    jar.setCookie('__Host-Http-s=1; Secure; HttpOnly; Path=/', https, { now: NOW });
    expect(rejectionStep(jar, '__Host-Http-s=; Secure; Path=/; Max-Age=0', https, script)).toBe(`${L} 16`);
    expect(jar.getCookieHeader(https, { now: NOW })).toBe('a=1; __Host-Http-s=1');
  });

  it('names the draft in the error', () => {
    const jar = new CookieJar();
    expect(() =>
      jar.setCookie('__Http-a=1; Secure', 'https://example.com/', { now: NOW, onReject: 'throw' }),
    ).toThrow(
      '[teller] [jar] cookie rejected by layered-cookies 5.4.3 step 15: a __Http- cookie without HttpOnly',
    );
  });

  it('drops such cookies from a loaded jar that breaks the rules (fromJSON)', () => {
    const base = {
      value: '1',
      domain: 'example.com',
      path: '/',
      expires: null,
      hostOnly: true,
      secure: true,
      sameSite: 'Default' as const,
      partitioned: false,
      creation: NOW,
      lastAccess: NOW,
    };
    const jar = CookieJar.fromJSON(
      {
        version: 1,
        cookies: [
          { ...base, name: '__Host-Http-ok', httpOnly: true },
          { ...base, name: '__Host-Http-bad', httpOnly: false },
          { ...base, name: '__Http-bad', httpOnly: false },
          { ...base, name: '__Http-ok', httpOnly: true },
        ],
      },
      { now: NOW },
    );
    expect(jar.getAllCookies({ now: NOW }).map((c) => c.name)).toEqual(['__Host-Http-ok', '__Http-ok']);
  });
});

describe('SameSite (5.7 steps 17-19, 5.8.3 step 3)', () => {
  it('refuses SameSite=None without Secure (step 19)', () => {
    expect(rejectionStep(new CookieJar(), 'a=1; SameSite=None', 'https://example.com/')).toBe('5.7 step 19');
    expect(
      rejectionStep(new CookieJar(), 'a=1; SameSite=None; Secure', 'https://example.com/'),
    ).toBeUndefined();
  });

  it('records the enforcement mode, "Default" for absent or unknown values (step 17)', () => {
    const jar = jarWith(
      [
        'a=1; SameSite=strict',
        'b=1; SameSite=LAX',
        'c=1; SameSite=bogus',
        'd=1',
        'e=1; SameSite=None; Secure',
      ],
      'https://example.com/',
    );
    expect(jar.getCookies('https://example.com/', { now: NOW }).map((c) => c.sameSite)).toEqual([
      'Strict',
      'Lax',
      'Default',
      'Default',
      'None',
    ]);
  });

  it('stores non-None cookies from cross-site responses only for top-level navigations (step 18)', () => {
    const jar = new CookieJar();
    const crossSite = { sameSiteContext: 'cross-site' as const };
    expect(rejectionStep(jar, 'a=1; SameSite=Lax', 'https://example.com/', crossSite)).toBe('5.7 step 18.4');
    expect(rejectionStep(jar, 'a=1', 'https://example.com/', crossSite)).toBe('5.7 step 18.4');
    expect(
      rejectionStep(jar, 'a=1; SameSite=Strict', 'https://example.com/', {
        ...crossSite,
        topLevelNavigation: true,
      }),
    ).toBeUndefined();
    expect(
      rejectionStep(jar, 'n=1; SameSite=None; Secure', 'https://example.com/', crossSite),
    ).toBeUndefined();
    expect(rejectionStep(jar, 'd=1', 'https://example.com/', { ...crossSite, http: false })).toBe(
      '5.7 step 18.1',
    );
  });

  it('sends only the right cookies with cross-site requests', () => {
    const jar = jarWith(
      ['strict=1; SameSite=Strict', 'lax=1; SameSite=Lax', 'dflt=1', 'none=1; SameSite=None; Secure'],
      'https://example.com/',
    );
    const get = (options: object) =>
      jar.getCookieHeader('https://example.com/', { now: NOW, sameSiteContext: 'cross-site', ...options });
    expect(jar.getCookieHeader('https://example.com/', { now: NOW })).toBe('strict=1; lax=1; dflt=1; none=1');
    expect(get({})).toBe('none=1');
    expect(get({ topLevelNavigation: true })).toBe('lax=1; dflt=1; none=1');
    expect(get({ topLevelNavigation: true, method: 'head' })).toBe('lax=1; dflt=1; none=1');
    expect(get({ topLevelNavigation: true, method: 'POST' })).toBe('none=1');
    expect(get({ topLevelNavigation: true, http: false })).toBe('none=1');
  });
});

describe('expiry (5.5, 5.7 step 6 and eviction of expired cookies)', () => {
  it('caps lifetimes at 400 days', () => {
    const jar = new CookieJar();
    const max = jar.setCookie('a=1; Max-Age=999999999', 'http://example.com/', { now: NOW });
    expect(max?.expires?.getTime()).toBe(NOW + 400 * DAY);
    const exp = jar.setCookie('b=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT', 'http://example.com/', {
      now: NOW,
    });
    expect(exp?.expires?.getTime()).toBe(NOW + 400 * DAY);
  });

  it('drops cookies once expired and deletes on Max-Age=0 or a past Expires', () => {
    const jar = jarWith(['a=1; Max-Age=60', 'b=1; Max-Age=3600', 'c=1', 'd=1'], 'http://example.com/');
    expect(jar.size).toBe(4);
    expect(jar.setCookie('c=x; Max-Age=0', 'http://example.com/', { now: NOW })).toBeUndefined();
    jar.setCookie('d=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'http://example.com/', { now: NOW });
    expect(jar.getCookieHeader('http://example.com/', { now: NOW + 59_000 })).toBe('a=1; b=1');
    expect(jar.getCookieHeader('http://example.com/', { now: NOW + 60_000 })).toBe('b=1');
    expect(jar.size).toBe(1);
    expect(jar.getAllCookies({ now: NOW + 3_600_000 })).toEqual([]);
    expect(jar.size).toBe(0);
  });

  it('does not store an already-expired cookie', () => {
    const jar = new CookieJar();
    expect(
      jar.setCookie('a=1; Max-Age=-1', 'http://example.com/', { now: NOW, onReject: 'throw' }),
    ).toBeUndefined();
    expect(jar.size).toBe(0);
  });

  it('endSession() removes session cookies only', () => {
    const jar = jarWith(['s=1', 'p=1; Max-Age=600', 't=1; Domain=example.com'], 'http://example.com/');
    expect(jar.endSession()).toBe(2);
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe('p=1');
  });
});

describe('replacement (5.7 step 23)', () => {
  it('replaces the cookie with the same name, domain, host-only-flag and path, keeping its creation-time', () => {
    const jar = new CookieJar();
    jar.setCookie('a=1', 'http://example.com/', { now: NOW });
    jar.setCookie('b=1', 'http://example.com/', { now: NOW + 1000 });
    const replaced = jar.setCookie('a=2; Max-Age=60', 'http://example.com/', { now: NOW + 2000 });
    expect(replaced?.creation.getTime()).toBe(NOW);
    expect(replaced?.lastAccess.getTime()).toBe(NOW + 2000);
    expect(jar.getCookieHeader('http://example.com/', { now: NOW + 3000 })).toBe('a=2; b=1');
    // Same name, other host-only-flag or path: a distinct cookie.
    jar.setCookie('a=3; Domain=example.com', 'http://example.com/', { now: NOW + 4000 });
    jar.setCookie('a=4; Path=/x', 'http://example.com/', { now: NOW + 5000 });
    expect(jar.size).toBe(4);
    expect(jar.getCookieHeader('http://example.com/x', { now: NOW + 6000 })).toBe('a=4; a=2; b=1; a=3');
  });
});

describe('expired cookies are gone before the jar gets round to evicting them', () => {
  it('an expired cookie is not replaced (a new creation-time) and does not protect its name', () => {
    const jar = new CookieJar();
    jar.setCookie('a=1; Max-Age=10', 'http://example.com/', { now: NOW });
    const fresh = jar.setCookie('a=2', 'http://example.com/', { now: NOW + 20_000 });
    expect(fresh?.creation.getTime()).toBe(NOW + 20_000);
    expect(jar.size).toBe(1);
    jar.setCookie('h=1; HttpOnly; Max-Age=10', 'http://example.com/', { now: NOW });
    expect(jar.setCookie('h=2', 'http://example.com/', { now: NOW + 20_000, http: false })).toBeDefined();
    jar.setCookie('s=1; Secure; Max-Age=10', 'https://example.com/', { now: NOW });
    expect(rejectionStep(jar, 's=2', 'http://example.com/')).toBe('5.7 step 16');
    expect(jar.setCookie('s=2', 'http://example.com/', { now: NOW + 20_000 })?.secure).toBe(false);
    expect(jar.getCookieHeader('http://example.com/', { now: NOW + 20_000 })).toBe('a=2; h=2; s=2');
  });

  it('a domain whose only cookie expired takes a new one', () => {
    const jar = new CookieJar();
    jar.setCookie('a=1; Max-Age=10', 'http://example.com/', { now: NOW });
    jar.setCookie('b=1', 'http://example.com/', { now: NOW + 20_000 });
    expect(jar.getCookieHeader('http://example.com/', { now: NOW + 20_000 })).toBe('b=1');
    jar.setCookie('b=1; Max-Age=10', 'http://example.com/', { now: NOW + 20_000 });
    jar.setCookie('b=2', 'http://example.com/', { now: NOW + 40_000 });
    expect(jar.getCookieHeader('http://example.com/', { now: NOW + 40_000 })).toBe('b=2');
    expect(jar.size).toBe(1);
  });
});

describe('limits and eviction order (5.7, removing excess cookies)', () => {
  it('evicts a crowded domain’s non-secure cookies first, least recently accessed first', () => {
    const jar = new CookieJar({ maxCookiesPerDomain: 3 });
    jar.setCookie('s=1; Secure', 'https://example.com/', { now: NOW });
    jar.setCookie('a=1', 'https://example.com/', { now: NOW + 1 });
    jar.setCookie('b=1', 'https://example.com/', { now: NOW + 2 });
    jar.getCookies('https://example.com/', { now: NOW + 3 }); // every cookie accessed at +3
    jar.setCookie('b=2', 'https://example.com/', { now: NOW + 4 }); // b accessed again at +4
    jar.setCookie('c=1', 'https://example.com/', { now: NOW + 5 });
    expect(jar.getCookieHeader('https://example.com/', { now: NOW + 6 })).toBe('s=1; b=2; c=1');
    jar.setCookie('other=1', 'https://other.example/', { now: NOW + 7 });
    expect(jar.size).toBe(4);
  });

  it('evicts expired cookies before live ones, and secure ones last', () => {
    const jar = new CookieJar({ maxCookiesPerDomain: 2 });
    jar.setCookie('old=1; Secure; Max-Age=10', 'https://example.com/', { now: NOW });
    jar.setCookie('live=1; Secure', 'https://example.com/', { now: NOW + 1 });
    jar.setCookie('new=1; Secure', 'https://example.com/', { now: NOW + 20_000 });
    expect(jar.getCookieHeader('https://example.com/', { now: NOW + 20_000 })).toBe('live=1; new=1');
    // The only non-secure cookie of a full domain of secure cookies is the first to go: itself.
    expect(rejectionStep(jar, 'plain=1', 'https://example.com/')).toBe('5.7 (removing excess cookies)');
    expect(jar.size).toBe(2);
  });

  it('keeps the total under maxCookies, evicting the least recently accessed cookie', () => {
    const jar = new CookieJar({ maxCookies: 3 });
    for (let i = 0; i < 3; i++) jar.setCookie(`c${i}=1`, `http://d${i}.example/`, { now: NOW + i });
    jar.getCookies('http://d0.example/', { now: NOW + 10 });
    jar.setCookie('c3=1', 'http://d3.example/', { now: NOW + 11 });
    expect(jar.size).toBe(3);
    expect(jar.getAllCookies({ now: NOW + 12 }).map((c) => c.name)).toEqual(['c0', 'c2', 'c3']);
  });

  it('over the total, evicts from crowded domains first (non-secure ones before secure), not the oldest cookie', () => {
    const jar = new CookieJar({ maxCookies: 56 });
    for (let i = 0; i < 3; i++) jar.setCookie(`quiet${i}=1`, 'https://quiet.example/', { now: NOW + i });
    jar.setCookie('s0=1; Secure', 'https://busy.example/', { now: NOW + 10 });
    for (let i = 0; i < 52; i++) jar.setCookie(`c${i}=1`, 'https://busy.example/', { now: NOW + 20 + i });
    expect(jar.size).toBe(56);
    // One more: busy.example has 53 cookies (> 1 + 50), so its least recently used non-secure cookie goes.
    jar.setCookie('quiet3=1', 'https://quiet.example/', { now: NOW + 100 });
    const names = jar.getAllCookies({ now: NOW + 101 }).map((c) => c.name);
    expect(names).toHaveLength(56);
    expect(names).not.toContain('c0');
    expect(names.filter((n) => n.startsWith('quiet'))).toEqual(['quiet0', 'quiet1', 'quiet2', 'quiet3']);
    expect(names).toContain('s0');
  });

  it('validates the limits', () => {
    expect(() => new CookieJar({ maxCookies: 0 })).toThrow(TypeError);
    expect(() => new CookieJar({ maxCookiesPerDomain: 1.5 })).toThrow(/maxCookiesPerDomain/);
  });
});

describe('parsing is the codec’s, values are literal', () => {
  it('names the 5.6 step of a line the codec ignores', () => {
    const jar = new CookieJar();
    expect(rejectionStep(jar, 'a=1\r\nSet-Cookie: b=2', 'http://example.com/')).toBe('5.6 step 1');
    expect(rejectionStep(jar, '=', 'http://example.com/')).toBe('5.7 step 2');
    expect(rejectionStep(jar, `a=${'x'.repeat(4096)}`, 'http://example.com/')).toBe('5.6 step 5');
    expect(jar.setCookie('=', 'http://example.com/')).toBeUndefined();
  });

  it('never decodes a value: %0D%0A stays as written', () => {
    const jar = jarWith(['a=x%0D%0ASet-Cookie:%20evil=1', 'b="quoted value"'], 'http://example.com/');
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe(
      'a=x%0D%0ASet-Cookie:%20evil=1; b="quoted value"',
    );
  });

  it('takes header octets with { octets: true }: 4,096 octets stored, 4,097 not, in either form', () => {
    const url = 'http://example.com/';
    const ok = cookieOfOctets(4096);
    const over = cookieOfOctets(4097);
    for (const octets of [false, true]) {
      const form = (line: string) => (octets ? asOctets(line) : line);
      const jar = new CookieJar();
      // The jar holds the text either way.
      expect(jar.setCookie(form(ok.line), url, { now: NOW, octets })).toMatchObject({
        name: ok.name,
        value: ok.value,
      });
      expect(rejectionStep(jar, form(over.line), url, { octets })).toBe('5.6 step 5');
      expect(jar.getCookieHeader(url, { now: NOW })).toBe(ok.line);
      // And gives the header back in the form asked for: as text, or as octets for fetch to send.
      expect(jar.getCookieHeader(url, { now: NOW, octets: true })).toBe(asOctets(ok.line));
    }
  });

  it('sends text cookies as UTF-8 octets, whatever their characters ({ octets: true })', () => {
    const jar = jarWith(['a=€uro', 'b=ä', 'c=plain', '🍪'], 'http://example.com/');
    const header = jar.getCookieHeader('http://example.com/', { now: NOW, octets: true });
    expect(header).toBe('a=\xe2\x82\xacuro; b=\xc3\xa4; c=plain; \xf0\x9f\x8d\xaa');
    expect(fromOctets(header)).toBe(jar.getCookieHeader('http://example.com/', { now: NOW }));
  });

  it('writes a nameless cookie as its bare value and an empty value as name=', () => {
    const jar = jarWith(['bare', 'empty='], 'http://example.com/');
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe('bare; empty=');
  });
});

describe('hostile hosts', () => {
  it('stores and retrieves in linear time for a host of many labels (the host walk)', () => {
    // One redirect hop to an attacker's host: its own cookie, a cookie for the parent, a retrieval.
    const hop = (host: string) => {
      const jar = new CookieJar();
      const url = `http://${host}/`;
      jar.setCookie('a=1; Domain=example.com', url, { now: NOW });
      jar.setCookie('b=1', url, { now: NOW });
      return jar.getCookieHeader(url, { now: NOW });
    };
    const labels = (n: number) => `${'a.'.repeat(n)}example.com`;
    expect(hop(labels(3))).toBe('a=1; b=1');
    // Linear work grows about 10x for 10x the labels; quadratic work about 100x.
    expect(growthRatio(labels, hop, 400)).toBeLessThan(35);
  });
});

describe('no prototype pollution', () => {
  it('stores cookies named like Object.prototype members, and Domain=__proto__, as plain data', () => {
    const jar = new CookieJar();
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']) {
      jar.setCookie(`${name}=1`, 'http://__proto__.example/', { now: NOW });
      jar.setCookie(`${name}=2; Domain=__proto__.example`, 'http://__proto__.example/', { now: NOW });
    }
    expect(jar.setCookie('x=1; Domain=__proto__', 'http://example.com/', { now: NOW })).toBeUndefined();
    expect(jar.setCookie('x=1; Domain=constructor', 'http://constructor/', { now: NOW })?.domain).toBe(
      'constructor',
    );
    expect(jar.size).toBe(11);
    expect(jar.getCookieHeader('http://__proto__.example/', { now: NOW })).toBe(
      '__proto__=1; __proto__=2; constructor=1; constructor=2; toString=1; toString=2; hasOwnProperty=1; hasOwnProperty=2; prototype=1; prototype=2',
    );
    const copy = CookieJar.fromJSON(JSON.stringify(jar), { now: NOW });
    expect(copy.getCookieHeader('http://constructor/', { now: NOW })).toBe('x=1');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.prototype.toString.call({})).toBe('[object Object]');
  });
});

describe('options', () => {
  it('returns snapshots: changing one changes nothing in the jar', () => {
    const jar = jarWith(['a=1'], 'http://example.com/');
    const [cookie] = jar.getCookies('http://example.com/', { now: NOW });
    cookie!.value = 'changed';
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe('a=1');
  });

  it('accepts now as a Date or a number, refuses anything else', () => {
    const jar = new CookieJar();
    jar.setCookie('a=1; Max-Age=10', 'http://example.com/', { now: new Date(NOW) });
    expect(jar.getCookieHeader('http://example.com/', { now: new Date(NOW + 5000) })).toBe('a=1');
    expect(jar.getCookieHeader('http://example.com/', { now: NOW + 10_000 })).toBe('');
    expect(() => jar.getCookieHeader('http://example.com/', { now: Number.NaN })).toThrow(TypeError);
    expect(() => jar.setCookie('a=1', 'http://example.com/', { now: 'soon' as never })).toThrow(/now/);
  });

  it('uses the real clock by default', () => {
    const jar = new CookieJar();
    const before = Date.now();
    const c = jar.setCookie('a=1; Max-Age=100', new URL('http://example.com/'));
    expect(c!.creation.getTime()).toBeGreaterThanOrEqual(before);
    expect(c!.expires!.getTime()).toBeGreaterThanOrEqual(before + 100_000);
    expect(jar.getCookieHeader('http://example.com/')).toBe('a=1');
  });
});
