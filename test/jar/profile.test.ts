/**
 * The jar's profiles: `'rfc'` (RFC 6265bis, the default) and `'chromium'` (Chromium's cookie store
 * where it departs from the RFC). Every difference is asserted in both profiles, so a test fails when
 * either drifts. docs/cookies.md, "Profiles", names Chromium's source for each.
 */
import { describe, expect, it } from 'vitest';
import { CookieJar, CookieRejectedError, type JarProfile, type StoredCookie } from '../../src/jar/index.js';
import { asOctets } from '../support/octets.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const SECOND = 1000;
const DAY = 86_400_000;
const URL_ = 'https://www.example.com/';

const rfc = () => new CookieJar();
const chromium = () => new CookieJar({ profile: 'chromium' });

/** Sets `line` at `url`; the stored cookie, or the step that refused it. */
function set(
  jar: CookieJar,
  line: string,
  url = URL_,
  now = NOW,
  options: object = {},
): StoredCookie | string | undefined {
  try {
    return jar.setCookie(line, url, { now, onReject: 'throw', ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(CookieRejectedError);
    return (error as CookieRejectedError).step;
  }
}

function header(jar: CookieJar, url = URL_, now = NOW, options: object = {}): string {
  return jar.getCookieHeader(url, { now, ...options });
}

describe('the profile option', () => {
  it("defaults to 'rfc', takes 'chromium', and refuses anything else with a TypeError", () => {
    expect(new CookieJar().profile).toBe('rfc');
    expect(new CookieJar({ profile: 'rfc' }).profile).toBe('rfc');
    expect(chromium().profile).toBe('chromium');
    for (const profile of ['Chromium', 'firefox', '', 1, null]) {
      expect(() => new CookieJar({ profile: profile as JarProfile })).toThrow(TypeError);
      expect(() => new CookieJar({ profile: profile as JarProfile })).toThrow(
        /option profile must be 'rfc' or 'chromium'/,
      );
    }
  });

  it('is configuration, not data: toJSON does not record it, fromJSON and fromNetscape take it', () => {
    const jar = chromium();
    set(jar, 'a=1; Max-Age=600');
    expect(JSON.stringify(jar.toJSON({ now: NOW }))).not.toMatch(/profile|chromium/);
    expect(CookieJar.fromJSON(jar.toJSON({ now: NOW }), { now: NOW }).profile).toBe('rfc');
    const loaded = CookieJar.fromJSON(jar.toJSON({ now: NOW }), { now: NOW, profile: 'chromium' });
    expect(loaded.profile).toBe('chromium');
    // The loaded jar follows Chromium's rules: Domain=. is refused.
    expect(set(loaded, 'b=1; Domain=.')).toBe('Chromium');
    expect(
      CookieJar.fromNetscape(jar.toNetscape({ now: NOW }), { now: NOW, profile: 'chromium' }).profile,
    ).toBe('chromium');
    expect(() => CookieJar.fromJSON(jar.toJSON({ now: NOW }), { profile: 'safari' as JarProfile })).toThrow(
      TypeError,
    );
  });
});

describe('parsing differences', () => {
  it('a tab inside the name or value: RFC stores it, Chromium refuses the cookie', () => {
    for (const line of ['a=b\tc', 'a\tb=c', 'a=1; Path=/x\ty', 'a=1; Max\t-Age=5']) {
      const stored = set(rfc(), line);
      expect(typeof stored === 'object' && stored !== null, line).toBe(true);
      expect(set(chromium(), line), line).toBe('Chromium');
    }
    // Leading and trailing tabs are whitespace to both.
    for (const make of [rfc, chromium]) {
      const jar = make();
      expect(set(jar, '\ta=b\t; Path=/\t')).toMatchObject({ name: 'a', value: 'b', path: '/' });
    }
    expect(rfc().setCookie('a=b\tc', URL_, { now: NOW })?.value).toBe('b\tc');
  });

  it('a nameless cookie whose value holds "=": RFC stores it (sent as "a=b"), Chromium refuses it', () => {
    const r = rfc();
    expect(set(r, '=a=b')).toMatchObject({ name: '', value: 'a=b' });
    expect(header(r)).toBe('a=b');
    const c = chromium();
    expect(set(c, '=a=b')).toBe('Chromium');
    expect(header(c)).toBe('');
    // A nameless cookie without "=" is fine in both.
    expect(set(c, '=abc')).toMatchObject({ name: '', value: 'abc' });
    expect(set(rfc(), 'abc')).toMatchObject({ name: '', value: 'abc' });
  });

  it('Max-Age with a leading "+": RFC ignores the attribute, Chromium honours it', () => {
    // Max-Age=+0 deletes in Chromium; RFC 6265bis ignores the attribute: a session cookie.
    for (const [make, kept] of [
      [rfc, true],
      [chromium, false],
    ] as const) {
      const jar = make();
      set(jar, 'a=1');
      const result = set(jar, 'a=2; Max-Age=+0');
      expect(header(jar)).toBe(kept ? 'a=2' : '');
      if (kept) expect(result).toMatchObject({ expires: undefined });
    }
    expect(set(chromium(), 'a=1; Max-Age=+60')).toMatchObject({ expires: new Date(NOW + 60 * SECOND) });
    expect(set(rfc(), 'a=1; Max-Age=+60')).toMatchObject({ expires: undefined });
  });

  it('the last Max-Age wins in Chromium even when it is no number (then Expires decides); RFC takes the last valid one', () => {
    expect(set(rfc(), 'a=1; Max-Age=10; Max-Age=abc')).toMatchObject({
      expires: new Date(NOW + 10 * SECOND),
    });
    expect(set(chromium(), 'a=1; Max-Age=10; Max-Age=abc')).toMatchObject({ expires: undefined });
    const expires = 'Expires=Fri, 01 Jan 2027 00:00:00 GMT';
    expect(set(chromium(), `a=1; Max-Age=10; ${expires}; Max-Age=1x`)).toMatchObject({
      expires: new Date('2027-01-01T00:00:00Z'),
    });
    expect(set(rfc(), `a=1; Max-Age=10; ${expires}; Max-Age=1x`)).toMatchObject({
      expires: new Date(NOW + 10 * SECOND),
    });
    // Digits past int64 saturate: a far future (capped at 400 days), or the distant past.
    expect(set(chromium(), 'a=1; Max-Age=99999999999999999999')).toMatchObject({
      expires: new Date(NOW + 400 * DAY),
    });
    expect(set(chromium(), 'a=1; Max-Age=-99999999999999999999')).toBeUndefined();
  });

  it('the last Expires wins in Chromium even when it does not parse; RFC takes the last valid one', () => {
    const line = 'a=1; Expires=Fri, 01 Jan 2027 00:00:00 GMT; Expires=soon';
    expect(set(rfc(), line)).toMatchObject({ expires: new Date('2027-01-01T00:00:00Z') });
    expect(set(chromium(), line)).toMatchObject({ expires: undefined });
  });

  it('Expires before 1601 or with a one-digit year: RFC ignores the date (session), Chromium reads a past date', () => {
    for (const date of [
      'Sat, 01 Jan 1600 00:00:00 GMT',
      'Wed, 01 Jan 5 00:00:00 GMT',
      'Thu, 01 Jan 0999 12:00:00 GMT',
    ]) {
      const r = rfc();
      expect(set(r, `a=1; Expires=${date}`), date).toMatchObject({ expires: undefined });
      expect(header(r)).toBe('a=1');
      const c = chromium();
      set(c, 'a=0');
      expect(set(c, `a=1; Expires=${date}`), date).toBeUndefined();
      expect(header(c), date).toBe('');
    }
  });

  it('Expires tokens the RFC grammar allows but Chromium does not read (6th, 12abc, 01Z): Chromium ignores the date', () => {
    const cap = new Date(NOW + 400 * DAY);
    for (const date of [
      'Wed, 6th Jan 2027 00:00:00 GMT',
      '12abc Jan 2027 00:00:00',
      'Jan 01Z 2027 00:00:00',
    ]) {
      const expected = rfc().setCookie(`a=1; Expires=${date}`, URL_, { now: NOW })?.expires;
      expect(expected, date).toBeInstanceOf(Date);
      expect((expected as Date).getTime(), date).toBeLessThanOrEqual(cap.getTime());
      expect(set(chromium(), `a=1; Expires=${date}`), date).toMatchObject({ expires: undefined });
    }
    // A suffix after the time: the RFC reads the time, Chromium 156 ignores the date (measured).
    expect(set(rfc(), 'a=1; Expires=Jan 01 2027 00:00:00Z')).toMatchObject({
      expires: new Date('2027-01-01T00:00:00Z'),
    });
    expect(set(chromium(), 'a=1; Expires=Jan 01 2027 00:00:00Z')).toMatchObject({ expires: undefined });
    expect(set(chromium(), 'a=1; Expires=Jan 01 2027 00:00:00 GMT')).toMatchObject({
      expires: new Date('2027-01-01T00:00:00Z'),
    });
    // A five-digit year is a year to Chromium (capped at 400 days), no date to the RFC.
    expect(set(chromium(), 'a=1; Expires=Jan 01 20270 00:00:00')).toMatchObject({ expires: cap });
    expect(set(rfc(), 'a=1; Expires=Jan 01 20270 00:00:00')).toMatchObject({ expires: undefined });
  });

  it('Expires that both read give the same date, and impossible dates are ignored by both', () => {
    for (const date of [
      'Fri, 01 Jan 2027 08:49:37 GMT',
      'Friday, 01-Jan-27 08:49:37 GMT',
      'Jan 1 08:49:37 2027',
    ]) {
      const want = new Date('2027-01-01T08:49:37Z');
      expect(set(rfc(), `a=1; Expires=${date}`), date).toMatchObject({ expires: want });
      expect(set(chromium(), `a=1; Expires=${date}`), date).toMatchObject({ expires: want });
    }
    for (const date of [
      '31 Apr 2026 00:00:00',
      '29 Feb 2027 00:00:00',
      '01 Jan 2027 24:00:00',
      '01 Jan 2027 00:00:60',
    ]) {
      expect(set(rfc(), `a=1; Expires=${date}`), date).toMatchObject({ expires: undefined });
      expect(set(chromium(), `a=1; Expires=${date}`), date).toMatchObject({ expires: undefined });
    }
  });
});

describe('domain differences', () => {
  it('Domain=. : RFC makes the cookie host-only, Chromium refuses it', () => {
    expect(set(rfc(), 'a=1; Domain=.')).toMatchObject({ domain: 'www.example.com', hostOnly: true });
    expect(set(chromium(), 'a=1; Domain=.')).toBe('Chromium');
    // An empty Domain is host-only in both.
    expect(set(chromium(), 'a=1; Domain=')).toMatchObject({ domain: 'www.example.com', hostOnly: true });
  });

  it('a non-ASCII Domain: RFC refuses it (5.7 step 8), Chromium converts it to its A-label', () => {
    const url = 'https://www.bücher.example/';
    expect(set(rfc(), 'a=1; Domain=bücher.example', url)).toBe('5.7 step 8');
    const c = chromium();
    expect(set(c, 'a=1; Domain=Bücher.example', url)).toMatchObject({
      domain: 'xn--bcher-kva.example',
      hostOnly: false,
    });
    expect(header(c, 'https://shop.xn--bcher-kva.example/')).toBe('a=1');
    // The A-label must still domain-match the request host.
    expect(set(chromium(), 'a=1; Domain=bücher.example', URL_)).toBe('5.7 step 10');
  });

  it('Domain= the IP host: RFC stores a second, domain cookie; Chromium a host cookie that overwrites', () => {
    const url = 'http://192.168.0.1/';
    const r = rfc();
    set(r, 'a=1', url);
    expect(set(r, 'a=2; Domain=192.168.0.1', url)).toMatchObject({ hostOnly: false, domain: '192.168.0.1' });
    expect(header(r, url)).toBe('a=1; a=2');
    const c = chromium();
    set(c, 'a=1', url);
    expect(set(c, 'a=2; Domain=.192.168.0.1', url)).toMatchObject({ hostOnly: true, domain: '192.168.0.1' });
    expect(header(c, url)).toBe('a=2');
    expect(c.size).toBe(1);
    for (const v6 of [rfc(), chromium()]) {
      expect(set(v6, 'a=1; Domain=[::1]', 'http://[::1]/')).toMatchObject({
        hostOnly: v6.profile === 'chromium',
      });
    }
  });

  it('rule 16 (leave secure cookies alone) for a host-only newcomer: both profiles refuse it', () => {
    // Chromium's IsEquivalentForSecureCookieMatching is the RFC's rule (name, domain-match either way,
    // path-match); no difference was found in its source (docs/cookies.md, "Profiles").
    for (const make of [rfc, chromium]) {
      const jar = make();
      set(jar, 'a=1; Secure; Domain=example.com', 'https://www.example.com/');
      expect(set(jar, 'a=2', 'http://www.example.com/')).toBe('5.7 step 16');
    }
  });
});

describe('order after an overwrite', () => {
  it('a new value: RFC keeps the creation-time, Chromium gives it a new one (it moves to the end)', () => {
    for (const [make, want] of [
      [rfc, 'a=2; b=1'],
      [chromium, 'b=1; a=2'],
    ] as const) {
      const jar = make();
      set(jar, 'a=1', URL_, NOW);
      set(jar, 'b=1', URL_, NOW + SECOND);
      const a = set(jar, 'a=2', URL_, NOW + 2 * SECOND) as StoredCookie;
      expect(header(jar, URL_, NOW + 3 * SECOND)).toBe(want);
      expect(a.creation.getTime()).toBe(make === rfc ? NOW : NOW + 2 * SECOND);
    }
  });

  it('the same value (other attributes changed): both keep the creation-time', () => {
    for (const make of [rfc, chromium]) {
      const jar = make();
      set(jar, 'a=1', URL_, NOW);
      set(jar, 'b=1', URL_, NOW + SECOND);
      expect(set(jar, 'a=1; HttpOnly; Max-Age=60', URL_, NOW + 2 * SECOND)).toMatchObject({
        creation: new Date(NOW),
        httpOnly: true,
      });
      expect(header(jar, URL_, NOW + 3 * SECOND)).toBe('a=1; b=1');
      expect(jar.size).toBe(2);
    }
  });

  it('an expired newcomer deletes the cookie in both, whatever its value', () => {
    for (const make of [rfc, chromium]) {
      const jar = make();
      set(jar, 'a=1');
      expect(set(jar, 'a=gone; Max-Age=0')).toBeUndefined();
      expect(jar.size).toBe(0);
    }
  });
});

describe('Lax + POST: a cross-site top-level POST navigation', () => {
  const POST = { sameSiteContext: 'cross-site', topLevelNavigation: true, method: 'POST' };
  it('Chromium sends a cookie without SameSite for 2 minutes after its creation; RFC never', () => {
    for (const make of [rfc, chromium]) {
      const jar = make();
      set(jar, 'd=1');
      set(jar, 'lax=1; SameSite=Lax');
      set(jar, 'strict=1; SameSite=Strict');
      set(jar, 'odd=1; SameSite=Odd');
      set(jar, 'none=1; SameSite=None; Secure');
      const young = make === chromium ? 'd=1; odd=1; none=1' : 'none=1';
      expect(header(jar, URL_, NOW, POST)).toBe(young);
      expect(header(jar, URL_, NOW + 120 * SECOND, POST)).toBe(young);
      expect(header(jar, URL_, NOW + 120 * SECOND + 1, POST)).toBe('none=1');
      // A safe method carries every Lax and Default cookie, however old (both profiles, 5.8.3 step 3).
      const get = { ...POST, method: 'GET' };
      expect(header(jar, URL_, NOW + DAY, get)).toBe('d=1; lax=1; odd=1; none=1');
      // Not a top-level navigation (a cross-site subresource POST): nothing but None.
      expect(header(jar, URL_, NOW, { ...POST, topLevelNavigation: false })).toBe('none=1');
    }
  });

  it('Chromium counts from the creation-time an overwrite keeps or renews', () => {
    const jar = chromium();
    set(jar, 'd=1');
    // The same value keeps the creation-time (Chromium inherits it): still old at NOW + 3 min.
    set(jar, 'd=1', URL_, NOW + 150 * SECOND);
    const POST_ = { sameSiteContext: 'cross-site', topLevelNavigation: true, method: 'POST' };
    expect(header(jar, URL_, NOW + 180 * SECOND, POST_)).toBe('');
    // A new value is a new cookie, created now.
    set(jar, 'd=2', URL_, NOW + 180 * SECOND);
    expect(header(jar, URL_, NOW + 200 * SECOND, POST_)).toBe('d=2');
  });
});

describe('document.cookie and invalid UTF-8', () => {
  it("Chromium's non-HTTP read shows nothing when one cookie's octets are not UTF-8; RFC shows U+FFFD", () => {
    for (const make of [rfc, chromium]) {
      const jar = make();
      set(jar, 'a=\xff\xfe', URL_, NOW, { octets: true });
      set(jar, asOctets('b=ü'), URL_, NOW, { octets: true });
      expect(header(jar)).toBe('a=\ufffd\ufffd; b=ü');
      expect(header(jar, URL_, NOW, { http: false })).toBe(make === rfc ? 'a=\ufffd\ufffd; b=ü' : '');
      // A U+FFFD sent as text (or as its valid UTF-8) is a character like any other.
      const other = make();
      set(other, 'c=\ufffd');
      set(other, asOctets('d=\ufffd'), URL_, NOW, { octets: true });
      expect(header(other, URL_, NOW, { http: false })).toBe('c=\ufffd; d=\ufffd');
    }
  });

  it('Chromium sends the octets of a value that is not UTF-8 back unchanged; RFC sends the U+FFFD', () => {
    for (const make of [rfc, chromium]) {
      const jar = make();
      set(jar, 'na me=\xc3', URL_, NOW, { octets: true });
      set(jar, asOctets('b=ü'), URL_, NOW, { octets: true });
      set(jar, '\xff\xfe', URL_, NOW, { octets: true });
      const octets = header(jar, URL_, NOW, { octets: true });
      expect(octets).toBe(
        make === rfc
          ? asOctets('na me=\ufffd; b=ü; \ufffd\ufffd')
          : `na me=\xc3; ${asOctets('b=ü')}; \xff\xfe`,
      );
      // The text forms (header as text, the store, JSON) hold U+FFFD in both profiles.
      expect(header(jar)).toBe('na me=\ufffd; b=ü; \ufffd\ufffd');
      expect(jar.getAllCookies({ now: NOW }).map((c) => c.value)).toEqual(['\ufffd', 'ü', '\ufffd\ufffd']);
      expect(JSON.stringify(jar.toJSON({ now: NOW }))).toContain('"value":"\ufffd"');
    }
  });

  it('Chromium: octets that differ are a new value (a new creation-time), the same octets are not', () => {
    const jar = chromium();
    set(jar, 'a=\xc3', URL_, NOW, { octets: true });
    set(jar, 'b=1', URL_, NOW + SECOND);
    // Another invalid octet decodes to the same U+FFFD, but it is another value: a: new, after b.
    set(jar, 'a=\xc4', URL_, NOW + 2 * SECOND, { octets: true });
    expect(header(jar, URL_, NOW + 3 * SECOND, { octets: true })).toBe('b=1; a=\xc4');
    // The same octets again keep a's creation-time.
    set(jar, 'a=\xc4', URL_, NOW + 4 * SECOND, { octets: true });
    expect(header(jar, URL_, NOW + 5 * SECOND, { octets: true })).toBe('b=1; a=\xc4');
    // A valid value replaces the octets.
    set(jar, 'a=ok', URL_, NOW + 6 * SECOND, { octets: true });
    expect(header(jar, URL_, NOW + 7 * SECOND, { octets: true })).toBe('b=1; a=ok');
    expect(header(jar, URL_, NOW + 7 * SECOND, { http: false })).toBe('b=1; a=ok');
  });
});

describe('last-access-time', () => {
  it('Chromium updates it at most once a minute; RFC at every retrieval', () => {
    for (const make of [rfc, chromium]) {
      const jar = make();
      set(jar, 'a=1');
      header(jar, URL_, NOW + 30 * SECOND);
      expect(jar.getAllCookies({ now: NOW + 31 * SECOND })[0]!.lastAccess.getTime()).toBe(
        make === rfc ? NOW + 30 * SECOND : NOW,
      );
      header(jar, URL_, NOW + 61 * SECOND);
      expect(jar.getAllCookies({ now: NOW + 62 * SECOND })[0]!.lastAccess.getTime()).toBe(NOW + 61 * SECOND);
    }
  });
});

/** Stores `n` cookies named `prefix0..` at `url`, `step` ms (a second) apart from `start`. */
function fill(
  jar: CookieJar,
  n: number,
  prefix: string,
  attrs: string,
  url: string,
  start: number,
  step = SECOND,
): void {
  for (let i = 0; i < n; i++) {
    const stored = jar.setCookie(`${prefix}${i}=v${attrs}`, url, { now: start + i * step });
    expect(stored, `${prefix}${i}`).toBeDefined();
  }
}

function names(jar: CookieJar, now: number): Set<string> {
  return new Set(jar.getAllCookies({ now }).map((c) => c.name));
}

describe('per-domain limit', () => {
  it('Chromium counts per registrable domain and cuts to 150 past 180; RFC counts per domain field', () => {
    for (const make of [rfc, chromium]) {
      const jar = make();
      fill(jar, 100, 'a', '', 'https://a.example.com/', NOW);
      fill(jar, 81, 'b', '', 'https://b.example.com/', NOW + 100 * SECOND);
      expect(jar.size).toBe(make === rfc ? 181 : 150);
      if (make === chromium) {
        // The 31 least recently accessed (a0..a30) went.
        const left = names(jar, NOW + DAY);
        for (let i = 0; i < 31; i++) expect(left.has(`a${i}`)).toBe(false);
        expect(left.has('a31')).toBe(true);
      }
    }
  });

  it('the 181st cookie: Chromium keeps Priority=High before Low, RFC evicts the least recently accessed', () => {
    for (const make of [rfc, chromium]) {
      const jar = make();
      fill(jar, 100, 'h', '; Priority=High', URL_, NOW);
      fill(jar, 81, 'l', '; Priority=Low', URL_, NOW + 100 * SECOND);
      const left = names(jar, NOW + DAY);
      if (make === rfc) {
        expect(jar.size).toBe(180);
        expect(left.has('h0')).toBe(false);
        expect(left.has('l0')).toBe(true);
      } else {
        expect(jar.size).toBe(150);
        for (let i = 0; i < 100; i++) expect(left.has(`h${i}`)).toBe(true);
        // 31 Low cookies went, the oldest: l0..l30; 50 are left (the Low quota is 30).
        for (let i = 0; i < 31; i++) expect(left.has(`l${i}`)).toBe(false);
        expect(left.has('l31')).toBe(true);
      }
    }
  });

  it('Chromium: within a priority, non-secure cookies go before secure ones; below its quota a priority is spared', () => {
    const jar = chromium();
    fill(jar, 60, 's', '; Secure; Priority=Low', URL_, NOW);
    fill(jar, 60, 'n', '; Priority=Low', URL_, NOW + 60 * SECOND);
    fill(jar, 20, 'm', '', URL_, NOW + 120 * SECOND);
    fill(jar, 41, 'h', '; Priority=High', URL_, NOW + 140 * SECOND);
    // 181 cookies: 31 must go. Round 1 (Low non-secure) may take 120 - max(60 secure, 30) = 60: it
    // takes the 31 oldest non-secure Low ones, although the secure Low ones are older.
    expect(jar.size).toBe(150);
    const left = names(jar, NOW + DAY);
    for (let i = 0; i < 60; i++) expect(left.has(`s${i}`)).toBe(true);
    for (let i = 0; i < 31; i++) expect(left.has(`n${i}`)).toBe(false);
    for (let i = 31; i < 60; i++) expect(left.has(`n${i}`)).toBe(true);
    for (let i = 0; i < 20; i++) expect(left.has(`m${i}`)).toBe(true);
  });

  it('Chromium: recently used cookies are kept (least recently accessed go first, access counted once a minute)', () => {
    for (const [make, delay] of [
      [chromium, 80 * SECOND],
      [chromium, 20 * SECOND],
      [rfc, 20 * SECOND],
    ] as const) {
      const jar = make();
      fill(jar, 10, 'keep', '; Path=/keep', URL_, NOW, 100);
      fill(jar, 170, 'x', '; Path=/other', URL_, NOW + SECOND, 100);
      // The keep* cookies are read `delay` after their creation.
      const t = NOW + delay;
      expect(header(jar, 'https://www.example.com/keep', t).split('; ')).toHaveLength(10);
      jar.setCookie('last=1; Path=/other', URL_, { now: t + SECOND });
      const left = names(jar, t + 2 * SECOND);
      const kept = [...Array(10).keys()].every((i) => left.has(`keep${i}`));
      if (make === rfc) {
        // One cookie goes, the least recently accessed: x0.
        expect(jar.size).toBe(180);
        expect(kept).toBe(true);
        expect(left.has('x0')).toBe(false);
      } else if (delay >= 60 * SECOND) {
        // Read a minute or more after their last access: the access counts, x0..x30 go.
        expect(jar.size).toBe(150);
        expect(kept).toBe(true);
        expect(left.has('x30')).toBe(false);
        expect(left.has('x31')).toBe(true);
      } else {
        // Read within a minute of their last access: not counted, so they are the oldest and go.
        expect(jar.size).toBe(150);
        expect(kept).toBe(false);
        expect(left.has('x20')).toBe(false);
        expect(left.has('x21')).toBe(true);
      }
    }
  });

  it('Chromium: expired cookies of the domain go first, and the cut happens only if still past the limit', () => {
    const jar = chromium();
    fill(jar, 10, 'e', '; Max-Age=5', URL_, NOW);
    fill(jar, 170, 'x', '', URL_, NOW + 10 * SECOND);
    // At this time the 10 e* cookies have expired: 181 counted, 171 live: nothing else goes.
    jar.setCookie('last=1', URL_, { now: NOW + 200 * SECOND });
    expect(jar.size).toBe(171);
  });

  it('maxCookiesPerDomain scales the Chromium numbers (5/6 kept; quotas 1/5, 1/3, the rest)', () => {
    const jar = new CookieJar({ profile: 'chromium', maxCookiesPerDomain: 12 });
    fill(jar, 13, 'c', '', URL_, NOW);
    expect(jar.size).toBe(10);
    const rfcJar = new CookieJar({ maxCookiesPerDomain: 12 });
    fill(rfcJar, 13, 'c', '', URL_, NOW);
    expect(rfcJar.size).toBe(12);
  });
});

describe('total limit', () => {
  it('Chromium keeps recently used cookies past 3,300; RFC caps the jar at 3,000', () => {
    for (const make of [rfc, chromium]) {
      const jar = make();
      // 3,400 cookies over 34 registrable domains (100 each, under both per-domain limits).
      for (let d = 0; d < 34; d++) fill(jar, 100, `c${d}_`, '', `https://site${d}.example/`, NOW);
      expect(jar.size).toBe(make === rfc ? 3000 : 3400);
    }
  });

  it('Chromium purges cookies unused for 30 days down to 3,000, non-secure first, least recently accessed first', () => {
    const jar = chromium();
    for (let d = 0; d < 33; d++) {
      fill(jar, 100, `c${d}_`, d < 2 ? '; Secure' : '', `https://site${d}.example/`, NOW + d * 100 * SECOND);
    }
    expect(jar.size).toBe(3300);
    // 31 days later, site32 is used (its cookies become recent), and a 3,301st cookie arrives.
    const later = NOW + 31 * DAY;
    expect(header(jar, 'https://site32.example/', later)).not.toBe('');
    jar.setCookie('new=1', 'https://fresh.example/', { now: later });
    expect(jar.size).toBe(3000);
    const left = names(jar, later);
    // 301 went: the oldest non-secure ones (site2, site3, site4 and one of site5); the older secure
    // cookies of site0 and site1 stayed, as did the recently used site32.
    for (let i = 0; i < 100; i++) {
      expect(left.has(`c0_${i}`)).toBe(true);
      expect(left.has(`c2_${i}`)).toBe(false);
      expect(left.has(`c32_${i}`)).toBe(true);
    }
    expect(left.has('c5_0')).toBe(false);
    expect(left.has('c5_1')).toBe(true);
    expect(left.has('new')).toBe(true);
  });

  it('maxCookies scales the Chromium purge (to 10/11); the RFC profile keeps exactly maxCookies', () => {
    const jar = new CookieJar({ profile: 'chromium', maxCookies: 22 });
    for (let d = 0; d < 22; d++) jar.setCookie('a=1', `https://s${d}.example/`, { now: NOW });
    jar.setCookie('a=1', 'https://last.example/', { now: NOW + 31 * DAY });
    expect(jar.size).toBe(20);
    const rfcJar = new CookieJar({ maxCookies: 22 });
    for (let d = 0; d < 23; d++) rfcJar.setCookie('a=1', `https://s${d}.example/`, { now: NOW });
    expect(rfcJar.size).toBe(22);
  });
});
