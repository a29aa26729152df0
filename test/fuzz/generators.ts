/**
 * Inputs for the fuzz targets (fast-check arbitraries): header-like text built from the characters and
 * tokens parsers trip on, fully arbitrary strings, and JSON texts with random escapes.
 */
import fc from 'fast-check';

/** Delimiters, whitespace of every kind, controls, quotes and escapes: the characters parsers trip on. */
const PIECES = [
  ';',
  '=',
  ' ',
  '\t',
  '"',
  '\r',
  '\n',
  '\r\n',
  '\0',
  '\u00a0',
  '\u2028',
  '\ufeff',
  ',',
  '\\',
  '%',
  '%2',
  '%41',
  '%zz',
  '%0D%0A',
  '%E2%82%AC',
  '%C3',
  '%00',
  '.',
  '/',
  ':',
  '-',
  'a',
  'sid',
  '__Host-',
  '__Secure-',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'é',
  '\ud83c\udf6a',
  '\ud800',
];
const ATTRIBUTE_NAMES = [
  'Expires',
  'Max-Age',
  'Domain',
  'Path',
  'Secure',
  'HttpOnly',
  'SameSite',
  'Partitioned',
  'Priority',
  'max-age',
  'DOMAIN',
  'path',
];
const ATTRIBUTE_VALUES = [
  '',
  '0',
  '-1',
  '1',
  '00012',
  '9'.repeat(30),
  '+5',
  'Lax',
  'strict',
  'NONE',
  'High',
  '/',
  '/a/b',
  'rel',
  'example.com',
  '.example.com',
  '..example.com',
  'EXAMPLE.com.',
  '__proto__',
  'localhost',
  '127.0.0.1',
  '[::1]',
  'com',
  'co.uk',
  'Wed, 21 Oct 2015 07:28:00 GMT',
  'Thu, 01 Jan 1970 00:00:00 GMT',
  'Sun, 06 Nov 1994 08:49:37 GMT',
  'Sunday, 06-Nov-94 08:49:37 GMT',
  'Sun Nov  6 08:49:37 1994',
  '31 Dec 9999 23:59:59',
  '29 Feb 2024 00:00:00',
  '29 Feb 2025 00:00:00',
  '1 jan 1600 0:0:0',
  '24:00:00 1 jan 2030',
  '99:99:99 99 foo 99999',
];

function run(min: number, max: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(' ', ';', '=', 'a', '"', '\t', '%', '1', ':'), fc.integer({ min, max }))
    .map(([c, n]) => c.repeat(n));
}

const piece = fc.oneof(
  { arbitrary: fc.constantFrom(...PIECES), weight: 120 },
  { arbitrary: fc.constantFrom(...ATTRIBUTE_NAMES, ...ATTRIBUTE_VALUES), weight: 40 },
  { arbitrary: fc.string({ maxLength: 6 }), weight: 20 },
  // Runs: many delimiters, long spaces, long attributes; rarely past the 1024- and 4096-octet limits.
  { arbitrary: run(8, 300), weight: 20 },
  { arbitrary: run(1000, 5000), weight: 1 },
);

/** Text made of the pieces above, as long as a large header. */
export const headerish = fc.array(piece, { maxLength: 40 }).map((parts) => parts.join(''));

/** Fully arbitrary text: UTF-16 units (lone surrogates included), Latin-1 octets, graphemes. */
export const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'binary-ascii', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 80 }),
);

/** Either kind. */
export const fuzzText = fc.oneof({ arbitrary: headerish, weight: 3 }, { arbitrary: anyText, weight: 2 });

/** One cookie-av: a known attribute with a likely or arbitrary value, or noise. */
const attribute = fc.oneof(
  {
    arbitrary: fc
      .tuple(
        fc.constantFrom(...ATTRIBUTE_NAMES),
        fc.constantFrom('=', ' = ', '=\t', ''),
        fc.oneof(fc.constantFrom(...ATTRIBUTE_VALUES), headerish),
      )
      .map(([n, eq, v]) => `${n}${eq}${v}`),
    weight: 4,
  },
  { arbitrary: fuzzText, weight: 1 },
);

/** A Set-Cookie line: a name-value pair (often plausible) and up to many attributes. */
export const setCookieLine = fc.oneof(
  {
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constantFrom('sid', 'a', '__Host-id', '__secure-x', '__proto__', ''), headerish),
        fc.oneof(fc.constantFrom('=', ''), headerish),
        fc.oneof(fc.constantFrom('1', 'v', '"q"', ''), headerish),
        fc.array(attribute, { maxLength: 12 }),
        fc.constantFrom(';', '; ', ' ;'),
      )
      .map(([name, eq, value, attrs, sep]) => [`${name}${eq}${value}`, ...attrs].join(sep)),
    weight: 4,
  },
  { arbitrary: fuzzText, weight: 1 },
);

/** A Cookie request header: pairs joined by `; `, or anything. */
export const cookieHeader = fc.oneof(
  {
    arbitrary: fc
      .array(fc.tuple(fuzzText, fc.constantFrom('=', '==', ''), fuzzText), { maxLength: 10 })
      .chain((pairs) =>
        fc
          .constantFrom('; ', ';', ' ; ', ';;')
          .map((sep) => pairs.map(([n, eq, v]) => `${n}${eq}${v}`).join(sep)),
      ),
    weight: 2,
  },
  { arbitrary: fuzzText, weight: 2 },
);

/** JSON text of a value that may hold `__proto__`, `constructor` and `prototype` keys at any depth. */
const jsonKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'a', 'teller:csrf', ''),
  fc.string({ maxLength: 8 }),
);
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.string({ maxLength: 10 })),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.array(fc.tuple(jsonKey, tie('json')), { maxLength: 4 }),
  ),
}));

/** Writes a generated value as JSON, objects given as entry lists (so `__proto__` stays an own key). */
function writeJson(value: unknown): string {
  if (
    Array.isArray(value) &&
    value.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')
  ) {
    // Entry lists and arrays of 2-tuples look alike; both read as objects here, which is fine for fuzzing.
    return `{${(value as [string, unknown][]).map(([k, v]) => `${JSON.stringify(k)}:${writeJson(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(writeJson).join(',')}]`;
  return JSON.stringify(value) ?? 'null';
}

/** Rewrites characters inside JSON strings as `\uXXXX` escapes (the same text, spelled differently). */
function escapeSome(text: string, mask: readonly boolean[]): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString && c === '\\') {
      out += c + text[++i]!;
      continue;
    }
    if (c === '"') inString = !inString;
    else if (inString && mask[i % mask.length]) {
      out += `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
      continue;
    }
    out += c;
  }
  return out;
}

/** Text a stored record's `data` may hold: an object's JSON (escapes in some), any JSON, or garbage. */
export const recordData = fc.oneof(
  {
    arbitrary: fc
      .tuple(
        fc.array(fc.tuple(jsonKey, json), { maxLength: 6 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
        fc.boolean(),
      )
      .map(([entries, mask, escaped]) => {
        const text = writeJson(entries.length === 0 ? [['a', 1]] : entries);
        return escaped ? escapeSome(text, mask) : text;
      }),
    weight: 5,
  },
  { arbitrary: json.map(writeJson), weight: 1 },
  { arbitrary: fuzzText, weight: 1 },
);

/** Session values: any JSON data under any keys. */
export const sessionValues = fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), {
  maxKeys: 6,
});
