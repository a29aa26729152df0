import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseCookie,
  parseCookieDate,
  parseSetCookie,
  type SerializeOptions,
  serializeSetCookie,
  sign,
  unsign,
} from '../../src/cookie/index.js';

const now = Date.UTC(2026, 0, 1);
const tchar = fc.constantFrom(
  ..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split(''),
);
const cookieOctet = fc
  .integer({ min: 0x21, max: 0x7e })
  .filter((c) => c !== 0x22 && c !== 0x2c && c !== 0x3b && c !== 0x5c);
const token = fc.array(tchar, { minLength: 1, maxLength: 20 }).map((a) => a.join(''));
const plainName = token.filter((n) => !/^__(host|secure)-/i.test(n));
const cookieValue = fc.array(cookieOctet, { maxLength: 40 }).map((a) => String.fromCharCode(...a));
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const path = fc
  .array(
    fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x3b),
    { maxLength: 20 },
  )
  .map((a) => `/${String.fromCharCode(...a)}`.trimEnd());
const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }));

describe('properties', () => {
  it('parseCookie, parseSetCookie and parseCookieDate never throw', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        parseCookie(s);
        parseSetCookie(s, { now });
        parseCookieDate(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('header-like inputs built from the delimiters never throw either', () => {
    const piece = fc.constantFrom(
      ';',
      '=',
      ' ',
      '\t',
      'a',
      'Expires',
      'Max-Age',
      '-1',
      '%',
      '"',
      ',',
      '\u00a0',
      'Path',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
        const s = parts.join('');
        parseCookie(s);
        parseSetCookie(s, { now });
      }),
      { numRuns: 2000 },
    );
  });

  it('serialize -> parse round-trips every valid cookie', () => {
    const cookie = fc.record(
      {
        name: plainName,
        value: cookieValue,
        maxAge: fc.integer({ min: 1, max: 400 * 86400 }),
        domain,
        path,
        secure: fc.boolean(),
        httpOnly: fc.boolean(),
        sameSite: fc.constantFrom('Strict', 'Lax') as fc.Arbitrary<'Strict' | 'Lax'>,
        expires: fc.date({
          min: new Date(Date.UTC(1970, 0, 1)),
          max: new Date(Date.UTC(2200, 0, 1)),
          noInvalidDate: true,
        }),
      },
      { requiredKeys: ['name', 'value'] },
    );
    fc.assert(
      fc.property(cookie, (c) => {
        const parsed = parseSetCookie(serializeSetCookie(c as SerializeOptions), { now });
        expect(parsed).toBeDefined();
        if (parsed === undefined) return;
        expect(parsed.name).toBe(c.name);
        expect(parsed.value).toBe(c.value);
        expect(parsed.domain).toBe(c.domain?.toLowerCase());
        expect(parsed.path).toBe(c.path);
        expect(parsed.secure).toBe(c.secure === true);
        expect(parsed.httpOnly).toBe(c.httpOnly === true);
        expect(parsed.sameSite).toBe(c.sameSite);
        expect(parsed.maxAge).toBe(c.maxAge);
        if (c.expires !== undefined)
          expect(parsed.expires?.getTime()).toBe(Math.floor(c.expires.getTime() / 1000) * 1000);
      }),
      { numRuns: 1000 },
    );
  });

  it('parseCookie reads back every pair written as a Cookie header (first duplicate wins)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(token, cookieValue), { maxLength: 10 }), (pairs) => {
        const header = pairs.map(([n, v]) => `${n}=${v}`).join('; ');
        const parsed = parseCookie(header, { decode: (v) => v });
        const expected: Record<string, string> = Object.create(null);
        for (const [n, v] of pairs) if (!(n in expected)) expected[n] = v;
        expect({ ...parsed }).toEqual({ ...expected });
      }),
    );
  });

  it('sign -> unsign round-trips any value and secret', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), (value, secret) => {
        expect(unsign(sign(value, secret), [secret])).toBe(value);
      }),
      { numRuns: 300 },
    );
  });

  it('no input pollutes Object.prototype', () => {
    const names = fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      '__defineGetter__',
      'hasOwnProperty',
    );
    fc.assert(
      fc.property(names, fc.string(), (name, value) => {
        parseCookie(`${name}=${value}; ${name}[polluted]=1; a=b`);
        parseSetCookie(`${name}=${value}; Domain=${name}; Path=/${name}`, { now });
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.keys(Object.prototype)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
