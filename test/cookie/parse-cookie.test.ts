import { describe, expect, it } from 'vitest';
import { parseCookie, serializeCookieHeader } from '../../src/cookie/index.js';
import { growthRatio } from '../support/timing.js';

describe('parseCookie', () => {
  it('parses pairs into a null-prototype record', () => {
    const out = parseCookie('a=1; b=2;c=3');
    // No Object.prototype anywhere on the chain (an empty null-prototype object keeps V8's fast properties).
    expect(out instanceof Object).toBe(false);
    expect(Object.getPrototypeOf(Object.getPrototypeOf(out))).toBeNull();
    expect('toString' in out).toBe(false);
    expect({ ...out }).toEqual({ a: '1', b: '2', c: '3' });
  });

  it.each([
    ['', {}],
    [';;;', {}],
    ['novalue', {}],
    ['=nameless', {}],
    ['a', {}],
    ['a=1; junk; b=2', { a: '1', b: '2' }],
    ['a==1', { a: '=1' }],
    ['a=1=2', { a: '1=2' }],
    ['a=', { a: '' }],
    [' \t a \t = \t 1 \t ', { a: '1' }],
    ['a=1;b=2;', { a: '1', b: '2' }],
    ['a="quoted"', { a: '"quoted"' }],
  ])('%j -> %j', (header, expected) => {
    expect({ ...parseCookie(header) }).toEqual(expected);
  });

  it('keeps the first of duplicate names', () => {
    expect(parseCookie('sid=first; sid=second').sid).toBe('first');
  });

  it('trims only SP and HTAB, never U+00A0 (a no-break space cannot shadow a prefixed name)', () => {
    const out = parseCookie('\u00a0__Host-x=evil; __Host-x=good');
    expect(out['__Host-x']).toBe('good');
    expect(out['\u00a0__Host-x']).toBe('evil');
    expect(parseCookie('a=\u00a01\u00a0').a).toBe('\u00a01\u00a0');
  });

  it('percent-decodes and keeps the raw value when an escape is malformed', () => {
    expect(parseCookie('a=hello%20world').a).toBe('hello world');
    expect(parseCookie('a=100%; b=%E0%A4%A').a).toBe('100%');
    expect(parseCookie('a=100%; b=%E0%A4%A').b).toBe('%E0%A4%A');
  });

  it('takes a custom decoder (identity keeps literal values)', () => {
    expect(parseCookie('a=%0D%0A', { decode: (v) => v }).a).toBe('%0D%0A');
  });

  it('never throws on non-strings', () => {
    expect({ ...parseCookie(undefined) }).toEqual({});
    expect({ ...parseCookie(null) }).toEqual({});
    expect({ ...parseCookie(42 as unknown as string) }).toEqual({});
  });

  it('does not pollute prototypes through __proto__, constructor or prototype names', () => {
    const out = parseCookie('__proto__=polluted; constructor=x; prototype=y; toString=z');
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe('polluted');
    expect(out.constructor).toBe('x');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.toString).toBeTypeOf('function');
  });

  it.each([
    ['semicolons', (n: number) => ';'.repeat(n)],
    ['pairs without =', (n: number) => 'a;'.repeat(n / 2)],
    ['semicolons then one pair', (n: number) => `${';'.repeat(n)}a=b`],
    ['equals signs', (n: number) => '='.repeat(n)],
    ['empty names', (n: number) => '=;'.repeat(n / 2)],
    ['spaces', (n: number) => `a=${' '.repeat(n)}b${' '.repeat(n)}`],
    [
      'many distinct pairs',
      (n: number) => Array.from({ length: n / 10 }, (_, i) => `k${i}=v${i}`).join('; '),
    ],
    ['one 64 KiB cookie repeated', (n: number) => `a=${'x'.repeat(n)}`],
  ])('runs in linear time on hostile input: %s', (_label, make) => {
    const ratio = growthRatio(make, (s) => parseCookie(s), 100_000);
    // Linear work grows about 10x for 10x the input; quadratic work would grow about 100x.
    expect(ratio).toBeLessThan(35);
  });
});

describe('serializeCookieHeader', () => {
  it('joins pairs with "; " and writes nameless cookies as their bare value', () => {
    expect(
      serializeCookieHeader([
        { name: 'a', value: '1' },
        { name: '', value: 'bare' },
        { name: 'b', value: '' },
      ]),
    ).toBe('a=1; bare; b=');
  });
});
