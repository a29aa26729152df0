import { describe, expect, it } from 'vitest';
import {
  parseSetCookie,
  type SerializeOptions,
  serializeDeleteCookie,
  serializeSetCookie,
} from '../../src/cookie/index.js';

describe('serializeSetCookie', () => {
  it('writes every attribute', () => {
    expect(
      serializeSetCookie({
        name: 'id',
        value: 'a3fWa',
        maxAge: 3600,
        domain: 'example.com',
        path: '/',
        expires: new Date(Date.UTC(2026, 9, 21, 7, 28, 0)),
        httpOnly: true,
        secure: true,
        partitioned: true,
        priority: 'high',
        sameSite: 'lax',
      }),
    ).toBe(
      'id=a3fWa; Max-Age=3600; Domain=example.com; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly; Secure; Partitioned; Priority=High; SameSite=Lax',
    );
  });

  it('writes a bare pair and a quoted value', () => {
    expect(serializeSetCookie({ name: 'a', value: '' })).toBe('a=');
    expect(serializeSetCookie({ name: 'a', value: '"x"' })).toBe('a="x"');
  });

  const base: SerializeOptions = { name: 'a', value: 'b' };
  it.each<[string, Partial<SerializeOptions> & Record<string, unknown>]>([
    ['name', { name: '' }],
    ['name', { name: 'a b' }],
    ['name', { name: 'a;b' }],
    ['name', { name: 'a=b' }],
    ['name', { name: 'a\r\nX-Injected: 1' }],
    ['name', { name: 'é' }],
    ['name', { name: 42 as unknown as string }],
    ['value', { value: 'a;b' }],
    ['value', { value: 'a b' }],
    ['value', { value: 'a,b' }],
    ['value', { value: 'a\\b' }],
    ['value', { value: '"a' }],
    ['value', { value: 'a\nb' }],
    ['value', { value: 'é' }],
    ['value', { value: 'x'.repeat(4096) }],
    ['domain', { domain: 'example.com; Secure' }],
    ['domain', { domain: 'exa mple.com' }],
    ['domain', { domain: '' }],
    ['domain', { domain: '-bad.com' }],
    ['domain', { domain: 'a..b' }],
    ['domain', { domain: 'a.b.' }],
    ['path', { path: '/x; Domain=evil.com' }],
    ['path', { path: 'relative' }],
    ['path', { path: '' }],
    ['path', { path: '/\x00' }],
    ['path', { path: `/${'x'.repeat(1024)}` }],
    ['expires', { expires: new Date(Number.NaN) }],
    ['expires', { expires: 'Wed, 21 Oct 2026' as unknown as Date }],
    ['expires', { expires: new Date(Date.UTC(1500, 0, 1)) }],
    ['maxAge', { maxAge: 1.5 }],
    ['maxAge', { maxAge: -1 }],
    ['maxAge', { maxAge: Number.NaN }],
    ['maxAge', { maxAge: Number.POSITIVE_INFINITY }],
    ['maxAge', { maxAge: '60' as unknown as number }],
    ['sameSite', { sameSite: 'relaxed' as 'Lax' }],
    ['sameSite', { sameSite: 'None' }],
    ['priority', { priority: 'urgent' as 'High' }],
    ['sameSite', { sameSite: 'constructor' as 'Lax' }],
    ['sameSite', { sameSite: '__proto__' as 'Lax' }],
    ['priority', { priority: 'toString' as 'High' }],
    ['partitioned', { partitioned: true }],
  ])('throws a TypeError naming %s for %j', (field, patch) => {
    expect(() => serializeSetCookie({ ...base, ...patch } as SerializeOptions)).toThrow(
      new RegExp(`^\\[teller\\] \\[cookie\\] option ${field} is invalid`),
    );
    expect(() => serializeSetCookie({ ...base, ...patch } as SerializeOptions)).toThrow(TypeError);
  });

  it('names the field and the rule, never the rejected value (a secret with one bad character)', () => {
    const secret = 'sk_live_4f9a8b7c6d5e4f3a2b1c0d9e';
    const cases: Array<[string, Partial<SerializeOptions>]> = [
      ['value', { value: `${secret};` }],
      ['value', { value: `"${secret}` }],
      ['value', { value: `${secret}\r\nSet-Cookie: x=1` }],
      ['value', { value: `${'x'.repeat(4090)}${secret}` }],
      ['name', { name: `${secret} ` }],
      ['domain', { domain: `${secret}.example.com;` }],
      ['path', { path: `/${secret};` }],
      ['sameSite', { sameSite: secret as 'Lax' }],
      ['priority', { priority: secret as 'High' }],
    ];
    for (const [field, patch] of cases) {
      let message = '';
      try {
        serializeSetCookie({ ...base, ...patch } as SerializeOptions);
      } catch (error) {
        expect(error).toBeInstanceOf(TypeError);
        message = (error as Error).message;
      }
      expect(message).toMatch(new RegExp(`^\\[teller\\] \\[cookie\\] option ${field} is invalid: `));
      for (let i = 0; i + 6 <= secret.length; i++) expect(message).not.toContain(secret.slice(i, i + 6));
    }
  });

  it('allows SameSite=None and Partitioned with Secure', () => {
    expect(serializeSetCookie({ ...base, sameSite: 'None', secure: true, partitioned: true })).toBe(
      'a=b; Secure; Partitioned; SameSite=None',
    );
  });

  it('refuses a path with a trailing space, which a user agent would trim into another path', () => {
    // Found by test/fuzz: Path=/a  was read back as /a.
    expect(() => serializeSetCookie({ ...base, path: '/a ' })).toThrow(
      /option path is invalid.*trailing space/,
    );
    expect(serializeSetCookie({ ...base, path: '/a b' })).toBe('a=b; Path=/a b');
  });

  it('accepts one leading dot on a domain (older servers write it)', () => {
    expect(serializeSetCookie({ ...base, domain: '.example.com' })).toBe('a=b; Domain=.example.com');
  });

  describe('cookie name prefixes (4.1.3), matched case-insensitively', () => {
    it.each(['__Host-sid', '__host-sid', '__HOST-sid'])('%s needs Secure, Path=/ and no Domain', (name) => {
      expect(serializeSetCookie({ name, value: 'x', secure: true, path: '/' })).toBe(
        `${name}=x; Path=/; Secure`,
      );
      expect(() => serializeSetCookie({ name, value: 'x', path: '/' })).toThrow(/option secure is invalid/);
      expect(() => serializeSetCookie({ name, value: 'x', secure: true })).toThrow(/option path is invalid/);
      expect(() => serializeSetCookie({ name, value: 'x', secure: true, path: '/a' })).toThrow(
        /option path is invalid/,
      );
      expect(() =>
        serializeSetCookie({ name, value: 'x', secure: true, path: '/', domain: 'a.com' }),
      ).toThrow(/option domain is invalid/);
    });

    it.each(['__Secure-sid', '__secure-sid', '__SECURE-sid'])('%s needs Secure', (name) => {
      expect(serializeSetCookie({ name, value: 'x', secure: true, domain: 'a.com' })).toBe(
        `${name}=x; Domain=a.com; Secure`,
      );
      expect(() => serializeSetCookie({ name, value: 'x' })).toThrow(/option secure is invalid/);
    });

    // The layered-cookies draft (4.1.3.3-4): __Http- is Secure and HttpOnly; __Host-Http- is __Host- and HttpOnly.
    it.each(['__Http-sid', '__http-sid', '__HTTP-sid'])('%s needs Secure and HttpOnly', (name) => {
      expect(serializeSetCookie({ name, value: 'x', secure: true, httpOnly: true, domain: 'a.com' })).toBe(
        `${name}=x; Domain=a.com; HttpOnly; Secure`,
      );
      expect(serializeSetCookie({ name, value: 'x', secure: true, httpOnly: true, path: '/a' })).toBe(
        `${name}=x; Path=/a; HttpOnly; Secure`,
      );
      expect(() => serializeSetCookie({ name, value: 'x', httpOnly: true })).toThrow(
        /option secure is invalid: a cookie named __Http-… requires secure: true/,
      );
      expect(() => serializeSetCookie({ name, value: 'x', secure: true })).toThrow(
        /option httpOnly is invalid: a cookie named __Http-… requires httpOnly: true/,
      );
      expect(() => serializeSetCookie({ name, value: 'x', secure: true, httpOnly: false })).toThrow(
        /option httpOnly is invalid/,
      );
    });

    it.each(['__Host-Http-sid', '__host-http-sid', '__HOST-HTTP-sid', '__Host-hTTp-sid'])(
      '%s needs Secure, HttpOnly, Path=/ and no Domain',
      (name) => {
        const good = { name, value: 'x', secure: true, httpOnly: true, path: '/' };
        expect(serializeSetCookie(good)).toBe(`${name}=x; Path=/; HttpOnly; Secure`);
        expect(() => serializeSetCookie({ ...good, secure: false })).toThrow(
          /option secure is invalid: a cookie named __Host-Http-… requires secure: true/,
        );
        expect(() => serializeSetCookie({ ...good, httpOnly: false })).toThrow(
          /option httpOnly is invalid: a cookie named __Host-Http-… requires httpOnly: true/,
        );
        expect(() => serializeSetCookie({ ...good, path: undefined })).toThrow(
          /option path is invalid: a cookie named __Host-Http-… requires path: "\/"/,
        );
        expect(() => serializeSetCookie({ ...good, path: '/a' })).toThrow(/option path is invalid/);
        expect(() => serializeSetCookie({ ...good, domain: 'a.com' })).toThrow(
          /option domain is invalid: a cookie named __Host-Http-… must not have a domain/,
        );
      },
    );

    it('takes names that only resemble a prefix as plain names', () => {
      for (const name of ['__Http', '_Http-sid', '__Httpx-sid', '__Http_sid', 'x__Http-sid']) {
        expect(serializeSetCookie({ name, value: 'x' })).toBe(`${name}=x`);
      }
      // __Host-Httpsid is a __Host- cookie (no second dash), so it needs __Host-'s attributes only.
      expect(() =>
        serializeSetCookie({ name: '__Host-Httpsid', value: 'x', secure: true, path: '/' }),
      ).not.toThrow();
    });
  });

  it('writes what parseSetCookie reads back', () => {
    const now = Date.UTC(2026, 0, 1);
    const line = serializeSetCookie({
      name: 'sid',
      value: 'abc',
      maxAge: 60,
      path: '/app',
      domain: 'example.org',
      secure: true,
      httpOnly: true,
      sameSite: 'Strict',
    });
    expect(parseSetCookie(line, { now })).toEqual({
      name: 'sid',
      value: 'abc',
      maxAge: 60,
      expiresAt: now + 60_000,
      path: '/app',
      domain: 'example.org',
      secure: true,
      httpOnly: true,
      sameSite: 'Strict',
      partitioned: false,
    });
  });
});

describe('serializeDeleteCookie', () => {
  it('writes an empty value, Max-Age=0 and an Expires in 1970', () => {
    expect(serializeDeleteCookie('sid', { path: '/', httpOnly: true })).toBe(
      'sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly',
    );
    const parsed = parseSetCookie(serializeDeleteCookie('sid'), { now: Date.UTC(2026, 0, 1) });
    expect(parsed?.expiresAt).toBeLessThanOrEqual(0);
  });

  it('keeps the prefix rules', () => {
    expect(serializeDeleteCookie('__Host-sid', { path: '/', secure: true })).toMatch(
      /^__Host-sid=; Max-Age=0/,
    );
    expect(() => serializeDeleteCookie('__Host-sid', { path: '/' })).toThrow(TypeError);
    expect(serializeDeleteCookie('__Host-Http-sid', { path: '/', secure: true, httpOnly: true })).toMatch(
      /^__Host-Http-sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure$/,
    );
    expect(() => serializeDeleteCookie('__Host-Http-sid', { path: '/', secure: true })).toThrow(
      /option httpOnly is invalid/,
    );
  });

  it('cannot be given a value or lifetime of its own', () => {
    const sneaky = { path: '/', value: 'x', maxAge: 100 } as unknown as { path: string };
    expect(serializeDeleteCookie('a', sneaky)).toBe(
      'a=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    );
  });
});
