import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { sign, unsign } from '../../src/cookie/index.js';

const require = createRequire(import.meta.url);
const peer = require('cookie-signature') as {
  sign(value: string, secret: string): string;
  unsign(input: string, secret: string): string | false;
};

const secret = 'k'.repeat(32);
const old = 'o'.repeat(32);

describe('sign / unsign', () => {
  it('produces exactly what the cookie-signature package produces, and verifies its output', () => {
    for (const value of ['', 'hello', 's:abc.def', 'ünïcödé', 'a.b.c']) {
      expect(sign(value, secret)).toBe(peer.sign(value, secret));
      expect(unsign(peer.sign(value, secret), [secret])).toBe(value);
      expect(peer.unsign(sign(value, secret), secret)).toBe(value);
    }
  });

  it('writes no base64 padding', () => {
    expect(sign('x', secret)).not.toMatch(/=$/);
    expect(sign('x', secret).split('.')[1]).toHaveLength(43);
  });

  it('signs with the first secret and verifies with every one (rotation)', () => {
    const byOld = sign('v', old);
    expect(unsign(byOld, [secret, old])).toBe('v');
    expect(unsign(byOld, [secret])).toBe(false);
    expect(sign('v', secret)).toBe(sign('v', secret));
    expect(unsign(sign('v', secret), secret)).toBe('v');
  });

  it('accepts byte-array secrets', () => {
    const bytes = new Uint8Array(32).fill(7);
    expect(unsign(sign('v', bytes), [bytes])).toBe('v');
    expect(unsign(sign('v', bytes), [new Uint8Array(32).fill(8)])).toBe(false);
  });

  it.each([
    ['trailing bytes', (s: string) => `${s}x`],
    ['trailing signature copy', (s: string) => `${s}.${s.split('.')[1]}`],
    ['truncated', (s: string) => s.slice(0, -1)],
    ['flipped character', (s: string) => `${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}`],
    ['value changed', (s: string) => `w${s.slice(1)}`],
    ['no dot', () => 'valuewithoutsignature'],
    ['empty', () => ''],
    ['padding added', (s: string) => `${s}=`],
  ])('rejects %s', (_label, tamper) => {
    expect(unsign(tamper(sign('value', secret)), [secret, old])).toBe(false);
  });

  it('rejects non-string input without throwing', () => {
    expect(unsign(undefined as unknown as string, [secret])).toBe(false);
  });

  it('throws for a missing or empty secret (a programming error), but short secrets work', () => {
    expect(() => sign('v', '')).toThrow(TypeError);
    expect(() => unsign('v.x', [])).toThrow(TypeError);
    expect(unsign(sign('v', 'short'), ['short'])).toBe('v');
  });
});
