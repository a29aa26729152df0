import { describe, expect, it } from 'vitest';
import {
  EARLIEST_DATE_MS,
  MAX_COOKIE_AGE_SECONDS,
  parseSetCookie,
  parseSetCookieDetailed,
} from '../../src/cookie/index.js';
import { asOctets, cookieOfOctets } from '../support/octets.js';
import { growthRatio } from '../support/timing.js';

const now = Date.UTC(2026, 0, 1);
const parse = (line: string) => parseSetCookie(line, { now });

describe('parseSetCookie (RFC 6265bis 5.6)', () => {
  it('parses a name, a value and every attribute', () => {
    const c = parse(
      'id=a3fWa; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Max-Age=3600; Domain=.Example.COM; Path=/docs; Secure; HttpOnly; SameSite=Strict; Partitioned; Priority=High',
    );
    expect(c).toEqual({
      name: 'id',
      value: 'a3fWa',
      expires: new Date(Date.UTC(2026, 9, 21, 7, 28, 0)),
      maxAge: 3600,
      expiresAt: now + 3600_000,
      domain: 'example.com',
      path: '/docs',
      secure: true,
      httpOnly: true,
      sameSite: 'Strict',
      partitioned: true,
      priority: 'High',
    });
  });

  it('gives a session cookie no expiry', () => {
    const c = parse('a=b');
    expect(c).toEqual({ name: 'a', value: 'b', secure: false, httpOnly: false, partitioned: false });
    expect(c?.expiresAt).toBeUndefined();
  });

  it('accepts `now` as a Date', () => {
    expect(parseSetCookie('a=b; Max-Age=10', { now: new Date(now) })?.expiresAt).toBe(now + 10_000);
  });

  it('reads a line without "=" as a nameless cookie (step 3)', () => {
    expect(parse('justvalue')).toMatchObject({ name: '', value: 'justvalue' });
    expect(parse('=value')).toMatchObject({ name: '', value: 'value' });
    expect(parse('  spaced  ; Secure')).toMatchObject({ name: '', value: 'spaced', secure: true });
  });

  it('ignores a line whose name and value are both empty (5.7 step 2), and says why', () => {
    expect(parse('=')).toBeUndefined();
    expect(parse('; Secure')).toBeUndefined();
    const r = parseSetCookieDetailed('  =  ', { now });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/5\.7 step 2/);
  });

  it.each(['a=b\x00', 'a=b\r\nSet-Cookie: x=y', 'a\x7f=b', 'a=b; Path=/\x01', 'a=b\n'])(
    'ignores a line containing a control character (step 1): %j',
    (line) => {
      const r = parseSetCookieDetailed(line, { now });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/5\.6 step 1/);
    },
  );

  it('allows HTAB and trims only SP and HTAB around names and values (step 4)', () => {
    expect(parse('\t a \t=\t b c \t; Path=/')).toMatchObject({ name: 'a', value: 'b c' });
    expect(parse('\u00a0a=b')).toMatchObject({ name: '\u00a0a' });
  });

  it('keeps values literal: no percent-decoding, quotes kept', () => {
    expect(parse('a=%0D%0ASet-Cookie:%20x')?.value).toBe('%0D%0ASet-Cookie:%20x');
    expect(parse('a="quoted"')?.value).toBe('"quoted"');
  });

  it('ignores name+value over 4096 octets (step 5), counting UTF-8 octets', () => {
    expect(parse(`a=${'x'.repeat(4095)}`)?.value).toHaveLength(4095);
    expect(parse(`a=${'x'.repeat(4096)}`)).toBeUndefined();
    // 1366 three-octet characters = 4098 octets but only 1366 UTF-16 units.
    expect(parse(`a=${'€'.repeat(1365)}`)).toBeDefined();
    const r = parseSetCookieDetailed(`a=${'€'.repeat(1366)}`, { now });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/4096/);
  });

  describe('header octet form ({ octets: true }: one character per octet, as fetch hands it over)', () => {
    it('counts 4,096 octets of name and value as 4,096, in either form, and decodes the octets as UTF-8', () => {
      const ok = cookieOfOctets(4096);
      const over = cookieOfOctets(4097);
      // Text: measured as UTF-8.
      expect(parse(ok.line)?.value).toBe(ok.value);
      expect(parse(over.line)).toBeUndefined();
      // Octets: measured as they are, and the cookie holds the text they encode.
      expect(asOctets(ok.line)).toHaveLength(4097);
      expect(parseSetCookie(asOctets(ok.line), { now, octets: true })).toMatchObject({
        name: ok.name,
        value: ok.value,
      });
      const r = parseSetCookieDetailed(asOctets(over.line), { now, octets: true });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/5\.6 step 5/);
    });

    it('counts attribute octets too (1,024), and decodes Path and Domain', () => {
      const path = `/${'ä'.repeat(511)}x`;
      expect(parseSetCookie(asOctets(`a=b; Path=${path}`), { now, octets: true })?.path).toBe(path);
      expect(parseSetCookie(asOctets(`a=b; Path=${path}x`), { now, octets: true })?.path).toBeUndefined();
      expect(parseSetCookie(asOctets('a=b; Domain=.BÜcher.example'), { now, octets: true })?.domain).toBe(
        'bücher.example',
      );
      expect(parseSetCookie(asOctets('ünïcödé=€; Path=/'), { now, octets: true })).toMatchObject({
        name: 'ünïcödé',
        value: '€',
      });
    });

    it('keeps a BOM, replaces invalid UTF-8 with U+FFFD, and ignores a line that is not octets', () => {
      expect(parseSetCookie('a=\xef\xbb\xbfx', { now, octets: true })?.value).toBe('\ufeffx');
      expect(parseSetCookie('a=\xe4x\xff', { now, octets: true })?.value).toBe('\ufffdx\ufffd');
      const r = parseSetCookieDetailed('a=€', { now, octets: true });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/octet/);
      // Without the option a string is text, whatever its characters.
      expect(parse('a=Ã¤')?.value).toBe('Ã¤');
    });
  });

  it('ignores attribute values over 1024 octets (attribute step 6)', () => {
    expect(parse(`a=b; Path=/${'x'.repeat(1023)}`)?.path).toHaveLength(1024);
    expect(parse(`a=b; Path=/ok; Path=/${'x'.repeat(1024)}`)?.path).toBe('/ok');
    expect(parse(`a=b; Domain=${'é'.repeat(600)}`)?.domain).toBeUndefined();
  });

  it('matches attribute names case-insensitively and ignores unknown ones', () => {
    expect(parse('a=b; sEcUrE; hTtPoNlY; pAtH=/x; dOmAiN=x.com; Foo=bar; Comment=hi')).toMatchObject({
      secure: true,
      httpOnly: true,
      path: '/x',
      domain: 'x.com',
    });
  });

  it('takes the last Path and uses the default-path for an empty or relative one (5.6.4)', () => {
    expect(parse('a=b; Path=/one; Path=/two')?.path).toBe('/two');
    expect(parse('a=b; Path=/one; Path=relative')?.path).toBeUndefined();
    expect(parse('a=b; Path=')?.path).toBeUndefined();
  });

  it('takes the last Domain, strips one leading dot and lower-cases (5.6.3); an empty one means host-only', () => {
    expect(parse('a=b; Domain=..Example.com')?.domain).toBe('.example.com');
    expect(parse('a=b; Domain=one.com; Domain=TWO.com')?.domain).toBe('two.com');
    expect(parse('a=b; Domain=one.com; Domain=')?.domain).toBeUndefined();
    expect(parse('a=b; Domain=.')?.domain).toBeUndefined();
  });

  it('reads SameSite case-insensitively; the last one wins; an unknown value is "Default" (5.6.7)', () => {
    expect(parse('a=b; SameSite=lax')?.sameSite).toBe('Lax');
    expect(parse('a=b; SameSite=NONE')?.sameSite).toBe('None');
    expect(parse('a=b; SameSite=Strict; SameSite=bogus')?.sameSite).toBeUndefined();
    expect(parse('a=b; SameSite')?.sameSite).toBeUndefined();
  });

  describe('lifetime (5.6.1, 5.6.2, 5.7 step 6, 5.5)', () => {
    it('prefers Max-Age over Expires whatever their order', () => {
      const before = parse('a=b; Max-Age=60; Expires=Thu, 01 Jan 2026 10:00:00 GMT');
      const after = parse('a=b; Expires=Thu, 01 Jan 2026 10:00:00 GMT; Max-Age=60');
      expect(before?.expiresAt).toBe(now + 60_000);
      expect(after?.expiresAt).toBe(now + 60_000);
    });

    it('takes the last valid Max-Age and ignores invalid ones', () => {
      expect(parse('a=b; Max-Age=10; Max-Age=20')?.maxAge).toBe(20);
      expect(parse('a=b; Max-Age=10; Max-Age=2x')?.maxAge).toBe(10);
      for (const bad of ['', '+5', '1.5', ' ', '-', '0x10', '1e3']) {
        expect(parse(`a=b; Max-Age=${bad}`)?.expiresAt, bad).toBeUndefined();
      }
    });

    it('expires at once for Max-Age <= 0, with the earliest representable date', () => {
      expect(parse('a=b; Max-Age=0')?.expiresAt).toBe(EARLIEST_DATE_MS);
      expect(parse('a=b; Max-Age=-1')?.expiresAt).toBe(EARLIEST_DATE_MS);
    });

    it('caps Max-Age and Expires at 400 days', () => {
      const cap = now + MAX_COOKIE_AGE_SECONDS * 1000;
      expect(parse('a=b; Max-Age=999999999999')?.expiresAt).toBe(cap);
      expect(parse('a=b; Max-Age=99999999999999999999999')?.expiresAt).toBe(cap);
      expect(parse('a=b; Expires=Fri, 01 Jan 2100 00:00:00 GMT')?.expiresAt).toBe(cap);
      expect(parse('a=b; Expires=Fri, 01 Jan 2100 00:00:00 GMT')?.expires?.getUTCFullYear()).toBe(2100);
    });

    it('keeps a past Expires (the jar deletes the cookie) and ignores an unparsable one', () => {
      expect(parse('a=b; Expires=Thu, 01 Jan 1970 00:00:00 GMT')?.expiresAt).toBe(0);
      expect(parse('a=b; Expires=tomorrow')?.expiresAt).toBeUndefined();
      // A month is three ASCII letters: U+0261 must not pass for 'a' (packed with its neighbour, 'h' + U+0261
      // once read as 'ja'), nor U+212A (Kelvin sign, whose lower case is 'k') for any letter.
      for (const month of ['h\u0261n', 'H\u0261N', '\u0261an', 'j\u0161n'])
        expect(parse(`a=b; Expires=Thu, 01 ${month} 2027 00:00:00 GMT`)?.expiresAt, month).toBeUndefined();
      expect(parse('a=b; Expires=Thu, 01 JaN 2027 00:00:00 GMT')?.expires?.getUTCMonth()).toBe(0);
      expect(
        parse('a=b; Expires=Fri, 01 Jan 2027 00:00:00 GMT; Expires=garbage')?.expires?.getUTCFullYear(),
      ).toBe(2027);
    });
  });

  it('never throws on odd input', () => {
    for (const line of [
      '',
      ';',
      '=',
      ';;;;',
      '=;=;=',
      'a=b;;;;',
      'a=b; =; =x; ;',
      '\t',
      42 as unknown as string,
    ]) {
      expect(() => parseSetCookie(line, { now })).not.toThrow();
    }
  });

  it.each([
    ['semicolons', (n: number) => `a=b${';'.repeat(n)}`],
    ['attributes without =', (n: number) => `a=b${'; Secure'.repeat(n / 8)}`],
    ['semicolons then an =', (n: number) => `a=b${';'.repeat(n)}=`],
    ['spaces', (n: number) => `a=b; Path=/${' '.repeat(n)}x`],
    ['long name', (n: number) => `${'a'.repeat(n)}=b`],
    ['date-like attributes', (n: number) => `a=b${'; Expires=1:2:3 4 jan 1999'.repeat(n / 27)}`],
  ])('runs in linear time on hostile input: %s', (_label, make) => {
    const ratio = growthRatio(make, (s) => parseSetCookie(s, { now }), 100_000);
    expect(ratio).toBeLessThan(35);
  });
});
