import { describe, expect, it } from 'vitest';
import { parseCookieDate, sign, unsign } from '../../src/cookie/index.js';
import { readShared } from '../support/shared.js';

interface DateCase {
  test: string;
  expected: string | null;
}

interface SignatureVector {
  op: 'sign' | 'unsign';
  value?: string;
  input?: string;
  secret?: string;
  secretHex?: string;
  expected: string | false;
}

const dateFiles = ['ietf/dates/examples.json', 'ietf/dates/bsd-examples.json'];
const dateCases = dateFiles.flatMap((file) =>
  readShared<DateCase[]>(`conformance/${file}`).map((c) => ({ ...c, file })),
);

describe('IETF http-state cookie-date cases (RFC 6265bis 5.1.1)', () => {
  it('has all 70 cases', () => {
    expect(dateCases).toHaveLength(70);
  });

  it.each(dateCases)('$file: $test', ({ test, expected }) => {
    const date = parseCookieDate(test);
    expect(date === undefined ? null : date.toUTCString()).toBe(expected);
  });

  it('passes 70 of 70', () => {
    const passed = dateCases.filter(({ test, expected }) => {
      const date = parseCookieDate(test);
      return (date === undefined ? null : date.toUTCString()) === expected;
    }).length;
    console.log(`ietf dates: ${passed}/${dateCases.length}`);
    expect(passed).toBe(70);
  });
});

describe('cookie-signature known-answer vectors', () => {
  const { vectors } = readShared<{ vectors: SignatureVector[] }>(
    'conformance/signature/cookie-signature-vectors.json',
  );
  const secretOf = (v: SignatureVector) =>
    v.secretHex !== undefined ? new Uint8Array(Buffer.from(v.secretHex, 'hex')) : (v.secret as string);

  it('has 10 vectors', () => {
    expect(vectors).toHaveLength(10);
  });

  it.each(vectors.map((v, i) => ({ ...v, i })))('vector $i: $op', (v) => {
    if (v.op === 'sign') expect(sign(v.value as string, secretOf(v))).toBe(v.expected);
    else expect(unsign(v.input as string, [secretOf(v)])).toBe(v.expected);
  });

  it('passes 10 of 10', () => {
    const passed = vectors.filter((v) =>
      v.op === 'sign'
        ? sign(v.value as string, secretOf(v)) === v.expected
        : unsign(v.input as string, [secretOf(v)]) === v.expected,
    ).length;
    console.log(`signature vectors: ${passed}/${vectors.length}`);
    expect(passed).toBe(10);
  });
});

describe('parseCookieDate beyond the shared cases', () => {
  it.each([
    ['Thu, 29 Feb 2024 12:00:00 GMT', '2024-02-29T12:00:00.000Z'],
    ['Sat, 29 Feb 2025 12:00:00 GMT', null],
    ['Tue, 29 Feb 2000 00:00:00 GMT', '2000-02-29T00:00:00.000Z'],
    ['Mon, 29 Feb 2100 00:00:00 GMT', null],
    ['31 Apr 2026 00:00:00', null],
    ['1 jan 1601 00:00:00', '1601-01-01T00:00:00.000Z'],
    ['31 dec 1600 23:59:59', null],
    ['1 JANUARY 2026 1:2:3', '2026-01-01T01:02:03.000Z'],
    ['1 jan 2026 24:00:00', null],
    ['1 jan 2026 23:60:00', null],
    ['1 jan 2026 123:00:00', null],
    ['1 jan 12026 00:00:00', null],
    ['', null],
  ])('%j -> %s', (text, iso) => {
    const d = parseCookieDate(text);
    expect(d === undefined ? null : d.toISOString()).toBe(iso);
  });
});
