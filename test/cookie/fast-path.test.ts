/**
 * The fast Set-Cookie parser and cookie-date reader (issue 12) against the algorithm as it was
 * written step by step (test/cookie/reference-set-cookie.ts): the same cookie, field for field and
 * key for key, or the same refusal, on generated lines; and the fixed-position date reading against
 * the token algorithm. `FAST_PATH_RUNS=1000000` for a long run by hand (a few thousand in `npm test`);
 * the seed is printed, `FAST_PATH_SEED=<seed>` replays it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cookieDateMs, cookieDateReadings } from '../../src/cookie/date.js';
import { parseCookieDate, parseSetCookie, parseSetCookieDetailed } from '../../src/cookie/index.js';
import { setCookieLine } from '../fuzz/generators.js';
import { referenceCookieDate, referenceParseSetCookie } from './reference-set-cookie.js';

const RUNS = Number(process.env.FAST_PATH_RUNS ?? 3000);
const SEED = Number(process.env.FAST_PATH_SEED ?? Date.now() % 2 ** 31);
const NOW = Date.UTC(2026, 5, 24, 22, 30);
const options = { numRuns: RUNS, seed: SEED };
/** A long run by hand takes minutes (about 0.2 ms per line input on a busy machine). */
const TIMEOUT = 30_000 + RUNS;

const realLines: string[] = Object.values(
  JSON.parse(
    readFileSync(
      resolve(process.cwd(), '../shared/conformance/bench/jshttp-cookie-top-set-cookie.json'),
      'utf8',
    ),
  ) as Record<string, string[]>,
).flat();

/** Both results, with every own key in order, Dates by time, -0 apart from 0. */
function same(line: string, octets: boolean): void {
  const fast = parseSetCookieDetailed(line, { now: NOW, octets });
  const slow = referenceParseSetCookie(line, { now: NOW, octets });
  expect(fast.ok, line).toBe(slow.ok);
  if (!fast.ok || !slow.ok) {
    expect(fast, line).toEqual(slow);
    return;
  }
  const a = fast.cookie as unknown as Record<string, unknown>;
  const b = slow.cookie as unknown as Record<string, unknown>;
  expect(Reflect.ownKeys(a), line).toEqual(Reflect.ownKeys(b));
  for (const key of Object.keys(b)) {
    const x = a[key];
    const y = b[key];
    if (y instanceof Date) {
      expect(x, `${line} ${key}`).toBeInstanceOf(Date);
      expect(Object.is((x as Date).getTime(), y.getTime()), `${line} ${key}`).toBe(true);
    } else {
      expect(Object.is(x, y), `${line} ${key}: ${String(x)} vs ${String(y)}`).toBe(true);
    }
  }
  expect(parseSetCookie(line, { now: NOW, octets })).toEqual(fast.cookie);
}

const pick = <T>(...values: T[]) => fc.constantFrom(...values);
const upTo = (n: number) => fc.integer({ min: 0, max: n });
/** Random case, as servers write attribute names and values. */
const anyCase = (s: string) =>
  fc
    .array(fc.boolean(), { minLength: s.length, maxLength: s.length })
    .map((up) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
const digits = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));
/** One character of the kinds a cookie-date tokenizer tells apart. */
const dateChar = fc.oneof(
  pick('0', '1', '2', '3', '5', '9'),
  pick('a', 'J', 'n', 'D', 'z'),
  pick(' ', ',', '-', '\t', '/', ';', '@', '[', '{', '~'),
  pick(':', '.', '\u00a0', '\u00c4', '\u212a', '"', '\x00'),
);
const weekday = fc.oneof(
  pick('Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'sUN'),
  anyCase('jan'),
  anyCase('dec'),
);
const month = fc.oneof(
  anyCase('jan'),
  anyCase('feb'),
  anyCase('Jun'),
  anyCase('sep'),
  anyCase('dec'),
  anyCase('may'),
  anyCase('nov'),
  pick('Foo', 'Ja', 'Janu', 'J4n'),
);
const sep = pick(' ', '-', ', ', ',', '/', '  ', '\t', ':', 'x', '');
/** Dates near IMF-fixdate and its dashed variant: every field and separator varied, and mutations. */
const fixdateLike = fc
  .tuple(
    weekday,
    sep,
    digits(1, 3),
    sep,
    month,
    sep,
    digits(2, 5),
    sep,
    digits(1, 3),
    pick(':', ':', ':', '.'),
    digits(1, 3),
    pick(':', ':', ':', ' '),
    digits(1, 3),
    fc.oneof(
      pick('', ' GMT', 'GMT', ' GMT+0000 (UTC)', '1', ' 12:00:00', ' 1999', ':0', ' jan'),
      fc.string(),
    ),
  )
  .map((parts) => parts.join(''));
/** Two digits, mostly within `max`. */
const field = (max: number) =>
  fc.oneof(
    { arbitrary: upTo(max).map((n) => String(n).padStart(2, '0')), weight: 9 },
    { arbitrary: digits(2, 2), weight: 1 },
  );
const year = fc.oneof(
  { arbitrary: fc.integer({ min: 1990, max: 2100 }).map(String), weight: 6 },
  { arbitrary: pick('1600', '1601', '0069', '0070', '0099', '0100', '9999', '2000', '2100'), weight: 2 },
  { arbitrary: digits(4, 4), weight: 1 },
);
const exactFixdate = fc
  .tuple(
    weekday,
    pick(', ', ', ', ',-', '  '),
    fc.oneof({ arbitrary: field(31), weight: 9 }, { arbitrary: pick('00', '29', '30', '31'), weight: 2 }),
    pick(' ', '-'),
    month,
    pick(' ', '-'),
    year,
    pick(' ', '-'),
    field(24),
    field(60),
    field(60),
    pick(' GMT', ' GMT', '', 'Z', ' 01 feb 1999', ' 12:00:00'),
  )
  .map(
    ([w, a, d, b, m, c, y, e, hh, mm, ss, rest]) =>
      `${w}${a}${d}${b}${m}${c}${y}${e}${hh}:${mm}:${ss}${rest}`,
  );
/** A string with one to three characters replaced, inserted or deleted. */
function mutated(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(base, fc.array(fc.tuple(upTo(3), fc.nat(), dateChar), { minLength: 1, maxLength: 3 }))
    .map(([s, edits]) => {
      let t = s;
      for (const [kind, at, c] of edits) {
        const i = t.length === 0 ? 0 : at % (t.length + 1);
        if (kind === 0) t = t.slice(0, i) + c + t.slice(i + 1);
        else if (kind === 1) t = t.slice(0, i) + c + t.slice(i);
        else if (kind === 2) t = t.slice(0, i) + t.slice(i + 1);
        else t = t.slice(0, i) + c.repeat(3) + t.slice(i);
      }
      return t;
    });
}
const dateText = fc.oneof(
  { arbitrary: exactFixdate, weight: 4 },
  { arbitrary: mutated(exactFixdate), weight: 4 },
  { arbitrary: fixdateLike, weight: 3 },
  { arbitrary: fc.array(dateChar, { maxLength: 40 }).map((a) => a.join('')), weight: 1 },
);

/** What `Date.prototype.toString` writes, near and exact: `Www Mmm DD YYYY HH:MM:SS GMT+0000 (…)`. */
const exactCtime = fc
  .tuple(
    weekday,
    pick(' ', ' ', '-', ',', '  '),
    month,
    pick(' ', ' ', '-', '/'),
    fc.oneof(
      { arbitrary: field(31), weight: 9 },
      { arbitrary: pick('00', '29', '30', '31', '1', '123'), weight: 2 },
    ),
    pick(' ', ' ', '-'),
    year,
    pick(' ', ' ', ','),
    field(24),
    field(60),
    field(60),
    pick(' GMT+0000 (Coordinated Universal Time)', ' GMT', '', 'Z', '0', ' 01 feb 1999', '\u00e9'),
  )
  .map(
    ([w, a, m, b, d, c, y, e, hh, mm, ss, rest]) =>
      `${w}${a}${m}${b}${d}${c}${y}${e}${hh}:${mm}:${ss}${rest}`,
  );
const ctimeText = fc.oneof(
  { arbitrary: exactCtime, weight: 6 },
  { arbitrary: mutated(exactCtime), weight: 4 },
);

/** Lines shaped like the real ones: a token name, a value, the known attributes in any case and order. */
const token = fc.stringMatching(/^[A-Za-z0-9_.-]{1,24}$/);
const plainValue = fc.stringMatching(/^[A-Za-z0-9%"=:/+._~-]{0,60}$/);
const attribute = fc.oneof(
  fc.tuple(anyCase('path'), pick('=/', '=/app', '=', '=rel', ' = /x ', '=/a;b')).map((p) => p.join('')),
  fc
    .tuple(
      anyCase('domain'),
      pick(
        '=.example.com',
        '=Example.COM',
        '=',
        '=.',
        '=x.com',
        '=.www.x.com',
        '=.B\u00fccher.de',
        '=\u212a.com',
        '=\u0130x.com',
        '=a_b-1.com',
      ),
    )
    .map((p) => p.join('')),
  fc
    .tuple(anyCase('expires'), pick('=', ' = '), fc.oneof(dateText, mutated(dateText)))
    .map((p) => p.join('')),
  fc
    .tuple(
      anyCase('max-age'),
      pick('='),
      fc.oneof(
        digits(0, 20),
        digits(1, 3).map((d) => `-${d}`),
        pick('-', '+5', '1e3', ' 60 ', '-0', '0x10'),
      ),
    )
    .map((p) => p.join('')),
  anyCase('secure'),
  anyCase('httponly'),
  anyCase('partitioned'),
  fc.tuple(anyCase('secure'), pick('=', '=x', `=${'x'.repeat(1025)}`)).map((p) => p.join('')),
  fc
    .tuple(
      anyCase('samesite'),
      pick('='),
      fc.oneof(
        anyCase('lax'),
        anyCase('strict'),
        anyCase('none'),
        pick('', 'x', 'laxx', 'Lax ', 'str\u0130ct', 'L\u00c1X', 'nonE', 'Non'),
      ),
    )
    .map((p) => p.join('')),
  fc
    .tuple(
      anyCase('priority'),
      pick('='),
      fc.oneof(anyCase('low'), anyCase('medium'), anyCase('high'), pick('', 'hi')),
    )
    .map((p) => p.join('')),
  pick(
    '',
    ' ',
    'Unknown=1',
    'pathx=/',
    'Max-Ag=1',
    'Se\u212aure',
    'Dom\u0130n=x',
    '\u212aey=1',
    'Paths',
    'Httponlx',
    'SameSitE=Lax',
    'Pr\u0130ority=High',
    'Expire-=x',
  ),
);
const realisticLine = fc
  .tuple(
    fc.option(token, { nil: '' }),
    pick('=', '=', ' = ', ''),
    plainValue,
    fc.array(attribute, { maxLength: 10 }),
    pick('; ', ';  ', ';', ' ; ', ';\t'),
  )
  .map(([name, eq, value, attrs, s]) => [`${name}${eq}${value}`, ...attrs].join(s));
const realLine = fc.constantFrom(...realLines);
const lineText = fc.oneof(
  { arbitrary: realisticLine, weight: 4 },
  { arbitrary: mutated(realisticLine), weight: 2 },
  { arbitrary: mutated(realLine), weight: 2 },
  { arbitrary: setCookieLine, weight: 3 },
);

describe(`the fast parser equals the step-by-step algorithm (${RUNS} inputs per property, seed ${SEED})`, () => {
  it('on the 51 real lines of the bench', () => {
    for (const line of realLines) {
      same(line, false);
      same(line, true);
    }
  });

  it(
    'on generated lines: real-looking, mutated real lines, and the fuzz generator',
    () => {
      console.log(`fast path: ${RUNS} inputs per property, seed ${SEED} (FAST_PATH_SEED=${SEED} replays it)`);
      fc.assert(
        fc.property(lineText, fc.boolean(), (line, octets) => same(line, octets)),
        options,
      );
    },
    TIMEOUT,
  );

  it(
    'reads dates as the token algorithm does, at fixed positions when it can',
    () => {
      const { fixdateMs, tokensMs } = cookieDateReadings;
      let fast = 0;
      fc.assert(
        fc.property(dateText, (text) => {
          const reference = referenceCookieDate(text);
          const ms = cookieDateMs(text, 0, text.length);
          expect(Number.isNaN(ms) ? undefined : ms, text).toBe(reference?.getTime());
          expect(parseCookieDate(text)?.getTime(), text).toBe(reference?.getTime());
          const fixed = fixdateMs(text, 0, text.length);
          if (!Number.isNaN(fixed)) {
            fast++;
            expect(fixed, text).toBe(tokensMs(text, 0, text.length));
          }
          // Where the date lies in a longer line changes nothing.
          expect(cookieDateMs(`x=${text};`, 2, text.length + 2), text).toBe(ms);
        }),
        options,
      );
      // The generator reaches the fast path often, and its edges.
      expect(fast).toBeGreaterThan(RUNS / 50);
    },
    TIMEOUT,
  );

  it(
    'reads what Date.prototype.toString writes at fixed positions as the token algorithm does',
    () => {
      const { ctimeMs, tokensMs } = cookieDateReadings;
      let fast = 0;
      fc.assert(
        fc.property(ctimeText, fc.boolean(), (text, octets) => {
          const reference = referenceCookieDate(text);
          const ms = cookieDateMs(text, 0, text.length);
          expect(Number.isNaN(ms) ? undefined : ms, text).toBe(reference?.getTime());
          const fixed = ctimeMs(text, 0, text.length);
          if (!Number.isNaN(fixed)) {
            fast++;
            expect(fixed, text).toBe(tokensMs(text, 0, text.length));
          }
          expect(cookieDateMs(`x=${text};`, 2, text.length + 2), text).toBe(ms);
          same(`a=b; Expires=${text}; Path=/`, octets);
        }),
        options,
      );
      expect(fast).toBeGreaterThan(RUNS / 50);
    },
    TIMEOUT,
  );

  it('takes the Date.prototype.toString reading for its shape only', () => {
    const { ctimeMs } = cookieDateReadings;
    const text = 'Sat Jul 24 2027 22:30:27 GMT+0000 (Coordinated Universal Time)';
    expect(ctimeMs(text, 0, text.length)).toBe(Date.UTC(2027, 6, 24, 22, 30, 27));
    expect(ctimeMs('Sat Jul 24 2027 22:30:27', 0, 24)).toBe(Date.UTC(2027, 6, 24, 22, 30, 27));
    // A weekday that is a month, a time with a digit after it, a non-ASCII letter, IMF-fixdate: not this shape.
    expect(ctimeMs('Dec Jul 24 2027 22:30:27 GMT', 0, 28)).toBeNaN();
    expect(parseCookieDate('Dec Jul 24 2027 22:30:27 GMT')?.toISOString()).toBe('2027-12-24T22:30:27.000Z');
    expect(ctimeMs('Sat Jul 24 2027 22:30:271', 0, 25)).toBeNaN();
    expect(ctimeMs('Sat J\u0261l 24 2027 22:30:27', 0, 24)).toBeNaN();
    expect(ctimeMs('Sat, 24 Jul 2027 22:30:27 GMT', 0, 29)).toBeNaN();
    // A date that does not exist: NaN here, and the token algorithm says the same.
    expect(ctimeMs('Sat Feb 29 2027 22:30:27', 0, 24)).toBeNaN();
    expect(parseCookieDate('Sat Feb 29 2027 22:30:27')).toBeUndefined();
  });

  it('reads a long Max-Age as Number() does (summing digits rounds differently past 15)', () => {
    for (const digits of ['999999999999999', '9999999999999999', '209585785930870382', '1'.repeat(30)]) {
      same(`a=b; Max-Age=${digits}`, false);
      same(`a=b; Max-Age=-${digits}`, false);
    }
  });

  it('takes the fixed-position reading for the common shapes only', () => {
    const { fixdateMs } = cookieDateReadings;
    expect(fixdateMs('Sat, 24 Jul 2027 22:30:27 GMT', 0, 29)).toBe(Date.UTC(2027, 6, 24, 22, 30, 27));
    expect(fixdateMs('Fri, 23-Jun-2028 22:30:26 GMT', 0, 29)).toBe(Date.UTC(2028, 5, 23, 22, 30, 26));
    expect(fixdateMs('Sat, 24 Jul 2027 22:30:27', 0, 25)).toBe(Date.UTC(2027, 6, 24, 22, 30, 27));
    // A first token that is a month, a time with more after it, a short year, another order: the tokens.
    expect(fixdateMs('Jan, 24 Jul 2027 22:30:27 GMT', 0, 29)).toBeNaN();
    expect(parseCookieDate('Jan, 24 Jul 2027 22:30:27 GMT')?.toISOString()).toBe('2027-01-24T22:30:27.000Z');
    expect(fixdateMs('Sat, 24 Jul 2027 22:30:271 GMT', 0, 30)).toBeNaN();
    expect(fixdateMs('Sat, 24 Jul 0070 22:30:27 GMT', 0, 29)).toBe(Date.UTC(1970, 6, 24, 22, 30, 27));
    expect(fixdateMs('Sat Jul 24 2027 22:30:27 GMT+0000', 0, 33)).toBeNaN();
    expect(fixdateMs('Sat, 31 Jun 2027 22:30:27 GMT', 0, 29)).toBeNaN();
  });
});
