/**
 * The five fuzz targets of issue 11: parseCookie, parseSetCookie, the jar's setCookie, the sealed-cookie
 * decoder (unseal, and the manager in sealed mode) and the session JSON decoder (a stored record's data).
 * Each says what it generates, the property it checks on every input, what is timed at n and 10n, and
 * the hand-made adversarial families timed beside the worst inputs found.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import {
  MAX_COOKIE_AGE_SECONDS,
  MAX_NAME_VALUE_BYTES,
  parseCookie,
  parseSetCookie,
  parseSetCookieDetailed,
  type SerializeOptions,
  serializeCookieHeader,
  serializeSetCookie,
} from '../../src/cookie/index.js';
import { utf8Length } from '../../src/cookie/utf8.js';
import { requestTarget } from '../../src/jar/host.js';
import { CookieJar, CookieRejectedError } from '../../src/jar/index.js';
import { SessionTooLargeError } from '../../src/session/errors.js';
import { storeKeyOf } from '../../src/session/ids.js';
import { createSessionManager } from '../../src/session/manager.js';
import { makeRecord } from '../../src/session/records.js';
import { deriveSealKeys, seal, unseal } from '../../src/session/seal.js';
import { fromValueMap, jsonSerializer, toValueMap } from '../../src/session/serializer.js';
import { INTERNAL_PREFIX } from '../../src/session/state.js';
import { RECORD_FORMAT, type SessionRecord, type SessionStore } from '../../src/session/store.js';
import { cookieHeader, fuzzText, headerish, recordData, sessionValues, setCookieLine } from './generators.js';
import { type FuzzTarget, repeatTo } from './harness.js';

/** A fixed clock for every target. */
const NOW = Date.UTC(2026, 0, 1, 12);
const HOUR = 3_600_000;

function fail(message: string, detail?: unknown): never {
  throw new Error(detail === undefined ? message : `${message}: ${JSON.stringify(detail)}`);
}

function isSpTab(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function trimSpTab(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpTab(s.charCodeAt(a))) a++;
  while (b > a && isSpTab(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

// ---------------------------------------------------------------------------------------------------
// parseCookie

/** The Cookie header as the doc comment of parseCookie describes it, written the plain way (split). */
function referenceParseCookie(header: string, decode: (v: string) => string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = trimSpTab(pair.slice(0, eq));
    if (name === '' || out.has(name)) continue;
    out.set(name, decode(trimSpTab(pair.slice(eq + 1))));
  }
  return out;
}

function lenientDecode(v: string): string {
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

const identity = (v: string) => v;

function sameRecord(got: Record<string, string>, want: Map<string, string>, what: string): void {
  // Prototype-less: nothing inherited (its prototype is an empty object without a prototype).
  const proto = Object.getPrototypeOf(got);
  if (proto !== null && (Object.getPrototypeOf(proto) !== null || Reflect.ownKeys(proto).length > 0)) {
    fail(`${what}: the result inherits from a prototype`);
  }
  const keys = Object.keys(got);
  if (keys.length !== want.size) fail(`${what}: ${keys.length} names, the reference has ${want.size}`);
  for (const key of keys) {
    if (got[key] !== want.get(key)) fail(`${what}: ${key} differs`, [got[key], want.get(key)]);
  }
}

export const parseCookieTarget: FuzzTarget<string> = {
  name: 'parseCookie',
  input: cookieHeader,
  check(header) {
    sameRecord(parseCookie(header), referenceParseCookie(header, lenientDecode), 'default decode');
    const literal = parseCookie(header, { decode: identity });
    sameRecord(literal, referenceParseCookie(header, identity), 'literal values');
    // Round trip: writing what was parsed and parsing it again gives the same pairs.
    const again = parseCookie(
      serializeCookieHeader(Object.entries(literal).map(([name, value]) => ({ name, value }))),
      { decode: identity },
    );
    sameRecord(again, new Map(Object.entries(literal)), 'parse(serialize(parse(h)))');
  },
  size: (s) => s.length,
  text: (s) => s,
  timed: (s) => parseCookie(s),
  n: 20_000,
  families: {
    'many ;': (n) => ';'.repeat(n),
    'many =': (n) => '='.repeat(n),
    'a;a;a… then =': (n) => `${'a;'.repeat(n / 2)}=`,
    'spaces, then a pair': (n) => `${' '.repeat(n)}a=b`,
    'a= and a long run of spaces': (n) => `a=${' '.repeat(n)};b=c`,
    'nested quotes': (n) => `a=${'"\\"'.repeat(n / 3)}`,
    'bad % escapes': (n) => `a=${'%'.repeat(n)}`,
    'good % escapes': (n) => `a=${'%41'.repeat(n / 3)}`,
    'distinct names': {
      make: (n) => Array.from({ length: n / 10 }, (_, i) => `k${i}=v`).join('; '),
      n: 2_000,
      reference: splitIntoObject,
    },
    'one name repeated': (n) => 'k=v; '.repeat(n / 5),
  },
};

// ---------------------------------------------------------------------------------------------------
// parseSetCookie (and serializeSetCookie, whose output it must read back)

const PARSED_KEYS = new Set([
  'name',
  'value',
  'expiresAt',
  'maxAge',
  'expires',
  'domain',
  'path',
  'secure',
  'httpOnly',
  'sameSite',
  'partitioned',
  'priority',
]);
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;

function checkParsedSetCookie(line: string, octets: boolean): void {
  const detailed = parseSetCookieDetailed(line, { now: NOW, octets });
  const c = parseSetCookie(line, { now: NOW, octets });
  if (detailed.ok !== (c !== undefined)) fail('parseSetCookie and parseSetCookieDetailed disagree');
  if (!detailed.ok) {
    if (typeof detailed.reason !== 'string' || detailed.reason === '') fail('a refusal without a reason');
    return;
  }
  if (c === undefined) return;
  if (Object.getPrototypeOf(c) !== Object.prototype) fail('the cookie is not a plain object');
  for (const key of Reflect.ownKeys(c)) {
    if (typeof key !== 'string' || !PARSED_KEYS.has(key)) fail('an unexpected key', String(key));
  }
  if (c.name === '' && c.value === '') fail('a cookie without name and value');
  if (trimSpTab(c.name) !== c.name || trimSpTab(c.value) !== c.value) fail('an untrimmed name or value');
  if (!octets) {
    if (CTL.test(c.name) || CTL.test(c.value)) fail('a control character in the name or value');
    if (utf8Length(c.name) + utf8Length(c.value) > MAX_NAME_VALUE_BYTES) fail('an oversized name and value');
  }
  if (c.path !== undefined && c.path[0] !== '/') fail('a relative path kept', c.path);
  if (c.domain !== undefined && (c.domain === '' || c.domain !== c.domain.toLowerCase())) {
    fail('a domain not lower-cased or empty', c.domain);
  }
  if (![undefined, 'Strict', 'Lax', 'None'].includes(c.sameSite)) fail('a bad sameSite', c.sameSite);
  if (![undefined, 'Low', 'Medium', 'High'].includes(c.priority)) fail('a bad priority', c.priority);
  for (const flag of [c.secure, c.httpOnly, c.partitioned]) if (typeof flag !== 'boolean') fail('a flag');
  if ((c.expiresAt !== undefined) !== (c.maxAge !== undefined || c.expires !== undefined)) {
    fail('expiresAt without Max-Age or Expires, or the reverse');
  }
  if (c.expiresAt !== undefined) {
    const at = c.expiresAt;
    if (Number.isNaN(at) || at > NOW + MAX_COOKIE_AGE_SECONDS * 1000) fail('an expiry past 400 days', at);
  }
  if (c.expires !== undefined && Number.isNaN(c.expires.getTime())) fail('an invalid Expires date');
  if (
    c.maxAge !== undefined &&
    !Number.isFinite(c.maxAge) &&
    Math.abs(c.maxAge) !== Number.POSITIVE_INFINITY
  ) {
    fail('a Max-Age that is not a number');
  }
}

/** Options for serializeSetCookie: mostly valid fields, some fuzzed (which must throw a TypeError). */
const tcharName = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
const serializeOptions: fc.Arbitrary<SerializeOptions> = fc.record(
  {
    name: fc.oneof(
      { arbitrary: tcharName, weight: 4 },
      fc.constantFrom('__Host-id', '__Secure-id'),
      fuzzText,
    ),
    value: fc.oneof(
      { arbitrary: fc.stringMatching(/^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,30}$/), weight: 4 },
      fc.stringMatching(/^"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,10}"$/),
      fuzzText,
    ),
    maxAge: fc.oneof(fc.integer({ min: 0, max: 2 * MAX_COOKIE_AGE_SECONDS }), fc.double()),
    domain: fc.oneof(
      { arbitrary: fc.constantFrom('example.com', '.Example.COM', 'a-b.c0.io', 'x'), weight: 4 },
      fuzzText,
    ),
    path: fc.oneof({ arbitrary: fc.stringMatching(/^\/[\x20-\x3a\x3c-\x7e]{0,20}$/), weight: 4 }, fuzzText),
    expires: fc.date({ min: new Date(-12_000_000_000_000), max: new Date(300_000_000_000_000) }),
    secure: fc.boolean(),
    httpOnly: fc.boolean(),
    sameSite: fc.oneof(
      { arbitrary: fc.constantFrom('Strict', 'lax', 'NONE' as 'none'), weight: 4 },
      fuzzText,
    ) as fc.Arbitrary<'Lax'>,
    partitioned: fc.boolean(),
    priority: fc.oneof(
      { arbitrary: fc.constantFrom('low', 'Medium', 'HIGH' as 'high'), weight: 4 },
      fuzzText,
    ) as fc.Arbitrary<'Low'>,
  },
  { requiredKeys: ['name', 'value'] },
);

/** serializeSetCookie throws only TypeErrors, and whatever it writes parses back to the same fields. */
function checkRoundTrip(options: SerializeOptions): void {
  let line: string;
  try {
    line = serializeSetCookie(options);
  } catch (error) {
    if (!(error instanceof TypeError) || !error.message.startsWith('[teller] [cookie] option ')) {
      fail('serializeSetCookie threw something else than its TypeError', String(error));
    }
    return;
  }
  if (CTL.test(line)) fail('a control character written', line);
  const c = parseSetCookie(line, { now: NOW });
  if (c === undefined) fail('a serialized cookie does not parse', line);
  const expectations: [string, unknown, unknown][] = [
    ['name', c.name, options.name],
    ['value', c.value, options.value],
    ['maxAge', c.maxAge, options.maxAge],
    ['domain', c.domain, options.domain?.replace(/^\./, '').toLowerCase()],
    ['path', c.path, options.path],
    ['secure', c.secure, options.secure === true],
    ['httpOnly', c.httpOnly, options.httpOnly === true],
    ['partitioned', c.partitioned, options.partitioned === true],
    ['sameSite', c.sameSite?.toLowerCase(), options.sameSite?.toLowerCase()],
    ['priority', c.priority?.toLowerCase(), options.priority?.toLowerCase()],
    // Expires is written to the second.
    ['expires', c.expires?.getTime(), options.expires && Math.floor(options.expires.getTime() / 1000) * 1000],
  ];
  for (const [field, got, want] of expectations) {
    if (got !== want) fail(`serialize -> parse changed ${field}`, { line, got, want });
  }
}

export type SetCookieInput = { line: string } | { options: SerializeOptions };

export const parseSetCookieTarget: FuzzTarget<SetCookieInput> = {
  name: 'parseSetCookie',
  input: fc.oneof(
    { arbitrary: setCookieLine.map((line) => ({ line })), weight: 3 },
    { arbitrary: serializeOptions.map((options) => ({ options })), weight: 1 },
  ),
  check(input) {
    if ('line' in input) {
      checkParsedSetCookie(input.line, false);
      checkParsedSetCookie(input.line, true);
    } else {
      checkRoundTrip(input.options);
    }
  },
  size: (input) => ('line' in input ? input.line.length : 64),
  text: (input) => ('line' in input ? input.line : ''),
  timed: (line) => parseSetCookie(line, { now: NOW }),
  n: 20_000,
  families: {
    'many ;': (n) => `a=b${';'.repeat(n)}`,
    'many =': (n) => `a=b;${'='.repeat(n)}`,
    'many attributes': (n) => `a=b${'; Path=/x'.repeat(n / 9)}`,
    'many Max-Age': (n) => `a=b${'; Max-Age=1'.repeat(n / 12)}`,
    'long run of spaces': (n) => `a=b;${' '.repeat(n)}Path=/`,
    'spaces around =': (n) => `a${' '.repeat(n / 2)}=${' '.repeat(n / 2)}b`,
    'nested quotes': (n) => `a="${'\\"'.repeat(n / 2)}"`,
    'long date-like token': (n) => `a=b; Expires=${'1:'.repeat(n / 2)}`,
    'many date tokens': (n) => `a=b; Expires=${'1 jan '.repeat(n / 6)}`,
    'many short Expires': (n) => `a=b${'; Expires=Wed, 21 Oct 2015 07:28:00 GMT'.repeat(n / 40)}`,
    'long domain': (n) => `a=b; Domain=${'a.'.repeat(n / 2)}`,
  },
};

// ---------------------------------------------------------------------------------------------------
// The jar's setCookie

const URLS = [
  'https://example.com/a/b',
  'http://example.com/',
  'https://sub.example.co.uk/x/y?q=1',
  'http://localhost:3000/',
  'http://127.0.0.1/p',
  'http://[::1]/p',
  'https://__proto__/',
  'http://constructor.com/',
  'https://EXAMPLE.COM./A',
  'https://xn--nxasmq6b.com/',
  'file:///etc/passwd',
  'https://com/',
  'http://a..b/',
];
const hostish = fc.oneof(
  fc.constantFrom(
    'example.com',
    'a.b.c.example.org',
    'localhost',
    '1.2.3.4',
    '0x7f.1',
    '[::1]',
    'EXAMPLE.com',
  ),
  fc.stringMatching(/^[a-z0-9.\-_]{0,20}$/),
  headerish,
);
const url = fc.oneof(
  { arbitrary: fc.constantFrom(...URLS), weight: 4 },
  {
    arbitrary: fc
      .tuple(
        fc.constantFrom('http://', 'https://', 'ws://', 'HTTP://', ''),
        hostish,
        fc.constantFrom('', ':80', ':0', ':65536', ':x'),
        fc.oneof(fc.constantFrom('', '/', '/a/b', '/./a', '/%2e/', '?q', '#f'), headerish),
      )
      .map((parts) => parts.join('')),
    weight: 3,
  },
  { arbitrary: fuzzText, weight: 1 },
);
const jarStep = fc.record({
  line: setCookieLine,
  url,
  http: fc.boolean(),
  octets: fc.boolean(),
  sameSiteContext: fc.constantFrom('same-site', 'cross-site' as const),
  throwing: fc.boolean(),
});
type JarStep = typeof jarStep extends fc.Arbitrary<infer S> ? S : never;
export interface JarInput {
  steps: JarStep[];
}

/** requestTarget's fast path for strings must agree with the WHATWG URL parser's answer. */
function checkTarget(u: string): void {
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    if (requestTarget(u) !== undefined) fail('a URL the parser refuses has a request target', u);
    return;
  }
  if (!isDeepStrictEqual(requestTarget(u), requestTarget(parsed))) {
    fail('the fast path and the URL parser disagree', {
      u,
      fast: requestTarget(u),
      slow: requestTarget(parsed),
    });
  }
}

function checkJar(input: JarInput): void {
  const jar = new CookieJar({ maxCookies: 40, maxCookiesPerDomain: 8 });
  for (const step of input.steps) {
    checkTarget(step.url);
    const options = { now: NOW, http: step.http, octets: step.octets, sameSiteContext: step.sameSiteContext };
    let stored: ReturnType<CookieJar['setCookie']>;
    try {
      stored = jar.setCookie(
        step.line,
        step.url,
        step.throwing ? { ...options, onReject: 'throw' } : options,
      );
    } catch (error) {
      // Only onReject: 'throw' throws, and only a CookieRejectedError naming the step (RFC 6265bis, or CHIPS
      // for Partitioned without Secure).
      if (!step.throwing || !(error instanceof CookieRejectedError) || !/^(?:5\.\d|CHIPS$)/.test(error.step))
        throw error;
      continue;
    }
    if (stored !== undefined) {
      const parsed = parseSetCookie(step.line, { now: NOW, octets: step.octets });
      if (parsed === undefined) fail('the jar stored a line the codec ignores', step.line);
      if (stored.name !== parsed.name || stored.value !== parsed.value)
        fail('the jar changed the name or value');
      const target = requestTarget(step.url);
      if (target === undefined) fail('a cookie stored for a URL without a host', step.url);
      if (stored.domain === '__proto__' && target.host !== '__proto__') fail('a __proto__ domain stored');
    }
    const header = jar.getCookieHeader(step.url, { now: NOW, http: step.http });
    if (typeof header !== 'string') fail('getCookieHeader did not return a string');
  }
  if (jar.size > 40) fail('the jar holds more cookies than maxCookies', jar.size);
  const all = jar.getAllCookies({ now: NOW });
  for (const cookie of all) {
    if (Object.getPrototypeOf(cookie) !== Object.prototype) fail('a stored cookie is not a plain object');
  }
  // Persistence round trips.
  const copy = CookieJar.fromJSON(JSON.stringify(jar.toJSON({ now: NOW })), { now: NOW });
  if (!isDeepStrictEqual(copy.getAllCookies({ now: NOW }), all)) fail('the JSON round trip changed the jar');
}

const JAR_URL = 'https://example.com/a/b';

export const jarTarget: FuzzTarget<JarInput> = {
  name: 'jar.setCookie',
  input: fc.record({ steps: fc.array(jarStep, { minLength: 1, maxLength: 4 }) }),
  check: checkJar,
  size: (input) => input.steps.reduce((n, s) => n + s.line.length + s.url.length, 0),
  text: (input) => input.steps[0]!.line,
  /** One jar receives each line of the text (a long line, or many cookies). */
  timed(text) {
    const jar = new CookieJar();
    for (const line of text.split('\n')) jar.setCookie(line, JAR_URL, { now: NOW });
    return jar;
  },
  n: 20_000,
  families: {
    'many ;': (n) => `a=b${';'.repeat(n)}`,
    'long run of spaces': (n) => `a=b;${' '.repeat(n)}Path=/`,
    'long domain attribute': (n) => `a=b; Domain=${'a.'.repeat(n / 2)}example.com`,
    'many cookies, one path': (n) =>
      Array.from({ length: n / 20 }, (_, i) => `c${i}=v; Secure; Domain=example.com`).join('\n'),
    'one name, many paths': (n) =>
      Array.from({ length: n / 20 }, (_, i) => `c=v; Secure; Path=/p${i}`).join('\n'),
  },
};

// ---------------------------------------------------------------------------------------------------
// The sealed-cookie decoder: unseal, and the manager in sealed mode

const SECRET_1 = 'fuzz-sealing-secret-number-one-of-32-bytes';
const SECRET_2 = 'fuzz-sealing-secret-number-two-of-32-bytes';
const KEYS = deriveSealKeys([SECRET_1, SECRET_2]);
const OLD_KEY_ONLY = deriveSealKeys([SECRET_2]);
const sealedManager = createSessionManager({ seal: { secrets: [SECRET_1, SECRET_2] }, clock: () => NOW });

const base64url = fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.boolean()).map(([bytes, versioned]) => {
  const b = Buffer.from(bytes);
  if (versioned && b.length > 0) b[0] = 1;
  return b.toString('base64url');
});
/** A sealed payload's fields, of the right types or not. */
const payload = fc.record(
  {
    f: fc.oneof(fc.constant(RECORD_FORMAT), fc.constantFrom(2, '1', null)),
    i: fc.oneof(fc.constant('x'.repeat(43)), fuzzText, fc.integer()),
    d: fc.oneof({ arbitrary: recordData, weight: 4 }, fc.integer()),
    u: fc.oneof(fc.constantFrom('alice', '__proto__'), fuzzText, fc.integer()),
    c: fc.oneof(fc.constant(NOW - 1000), fc.double()),
    l: fc.oneof(fc.constant(NOW - 1000), fc.double()),
    e: fc.oneof(fc.constant(NOW + 60_000), fc.constant(NOW), fc.double(), fc.constant('x')),
    p: fc.constantFrom(1, true, 0),
  },
  { requiredKeys: [] },
);

export type SealedInput =
  | { kind: 'value'; value: string }
  | { kind: 'header'; header: string }
  | { kind: 'tamper'; plaintext: string; byte: number; mask: number; rotated: boolean }
  | { kind: 'payload'; payload: Record<string, unknown> | string };

/** What the manager must make of a payload (a model of SealedBackend.load). */
function expectedSession(
  p: unknown,
): { userId: string | undefined; createdAt: number; data: Map<string, unknown> } | undefined {
  if (p === null || typeof p !== 'object') return undefined;
  const r = p as Record<string, unknown>;
  const typed =
    r.f === RECORD_FORMAT &&
    typeof r.i === 'string' &&
    typeof r.d === 'string' &&
    (r.u === undefined || typeof r.u === 'string') &&
    typeof r.c === 'number' &&
    typeof r.l === 'number' &&
    typeof r.e === 'number';
  if (!typed || NOW >= (r.e as number)) return undefined;
  const data = decodeData(r.d as string);
  return data instanceof Map
    ? { userId: r.u as string | undefined, createdAt: r.c as number, data: userData(data) }
    : undefined;
}

async function checkSealed(input: SealedInput): Promise<void> {
  switch (input.kind) {
    case 'value': {
      if (unseal(input.value, KEYS, 'sid') !== undefined) fail('a random value unsealed', input.value);
      const s = await sealedManager.load(`sid=${input.value}`, { now: NOW });
      if (!s.isNew) fail('a random value opened a session');
      return;
    }
    case 'header': {
      const s = await sealedManager.load(input.header, { now: NOW });
      if (!s.isNew || s.userId !== undefined) fail('a random header opened a session');
      return;
    }
    case 'tamper': {
      const sealed = seal(input.plaintext, input.rotated ? OLD_KEY_ONLY : KEYS, 'sid');
      // Lone surrogates become U+FFFD in UTF-8 (the manager seals JSON.stringify's text, which has none).
      const want = Buffer.from(input.plaintext, 'utf8').toString('utf8');
      if (unseal(sealed, KEYS, 'sid') !== want) fail('seal -> unseal changed the text');
      if (unseal(sealed, KEYS, 'other') !== undefined) fail('a value moved to another cookie name opened');
      const raw = Buffer.from(sealed, 'base64url');
      raw[input.byte % raw.length]! ^= input.mask;
      if (unseal(raw.toString('base64url'), KEYS, 'sid') !== undefined) fail('a tampered value opened');
      if (unseal(sealed.slice(0, -1 - (input.byte % 8)), KEYS, 'sid') !== undefined)
        fail('a truncated value opened');
      return;
    }
    case 'payload': {
      const text = typeof input.payload === 'string' ? input.payload : JSON.stringify(input.payload);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const want = expectedSession(parsed);
      const s = await sealedManager.load(`sid=${seal(text, KEYS, 'sid')}`, { now: NOW });
      if (want === undefined) {
        if (!s.isNew) fail('an unusable payload opened a session', text);
        return;
      }
      if (s.isNew || s.userId !== want.userId) fail('a valid payload did not open its session', text);
      const data = s.data() as Record<string, unknown>;
      if (!isDeepStrictEqual(new Map(Object.entries(data)), want.data))
        fail('the session data differs', text);
      // Commit a change and load the cookie it sets: the session comes back with the change (when its
      // absolute lifetime, counted from the payload's creation time, has not ended).
      if (want.createdAt < NOW - HOUR || want.createdAt > NOW) return;
      s.set('fuzz', 1);
      let setCookie: string[];
      try {
        ({ setCookie } = await sealedManager.commit(s));
      } catch (error) {
        if (error instanceof SessionTooLargeError) return; // past sealedMaxBytes: refused at commit, as documented
        throw error;
      }
      // A long user id splits the seal across cookies (sid, sid.1, ...): the browser sends them all back.
      const header = setCookie
        .map((line) => parseSetCookie(line)!)
        .map((c) => `${c.name}=${c.value}`)
        .join('; ');
      const back = await sealedManager.load(header, { now: NOW });
      if (back.isNew || back.get('fuzz') !== 1 || back.userId !== want.userId)
        fail('the re-sealed session differs');
      return;
    }
  }
}

export const sealedTarget: FuzzTarget<SealedInput> = {
  name: 'sealed decoder',
  input: fc.oneof(
    {
      arbitrary: fc.oneof(base64url, fuzzText).map((value) => ({ kind: 'value' as const, value })),
      weight: 3,
    },
    { arbitrary: cookieHeader.map((header) => ({ kind: 'header' as const, header })), weight: 1 },
    {
      arbitrary: fc.record({
        kind: fc.constant('tamper' as const),
        plaintext: fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 50 })),
        byte: fc.nat(),
        mask: fc.integer({ min: 1, max: 255 }),
        rotated: fc.boolean(),
      }),
      weight: 2,
    },
    {
      arbitrary: fc
        .oneof({ arbitrary: payload, weight: 4 }, fuzzText)
        .map((p) => ({ kind: 'payload' as const, payload: p })),
      weight: 2,
    },
  ),
  check: checkSealed,
  size: (input) =>
    input.kind === 'value'
      ? input.value.length
      : input.kind === 'header'
        ? input.header.length
        : input.kind === 'tamper'
          ? input.plaintext.length
          : JSON.stringify(input.payload).length,
  text: (input) =>
    input.kind === 'value'
      ? input.value
      : input.kind === 'header'
        ? (parseCookie(input.header).sid ?? input.header)
        : input.kind === 'tamper'
          ? seal(input.plaintext, KEYS, 'sid')
          : seal(
              typeof input.payload === 'string' ? input.payload : JSON.stringify(input.payload),
              KEYS,
              'sid',
            ),
  /** A value that opens grows as a sealed text of that size; anything else by repetition. */
  grow(seed, length) {
    const text = unseal(seed, KEYS, 'sid');
    return text === undefined ? repeatTo(seed, length) : seal(repeatTo(text, (length * 3) / 4), KEYS, 'sid');
  },
  /** The decoding a sealed cookie value goes through: open, parse the payload, decode its data. */
  timed(value) {
    const text = unseal(value, KEYS, 'sid');
    if (text === undefined) return undefined;
    try {
      const p = JSON.parse(text) as { d?: unknown };
      return typeof p?.d === 'string' ? decodeData(p.d) : p;
    } catch {
      return undefined;
    }
  },
  // A cookie holds at most 4096 octets: 2,000 and 20,000 characters span it. (Past ~100 KB, Node's base64
  // decoding and the cipher's buffers cost more per byte than below: a step in the constant, not a power.)
  n: 2_000,
  families: {
    'sealed text': (n) => seal('x'.repeat((n * 3) / 4), KEYS, 'sid'),
    'sealed payload with many keys': {
      n: 2_400,
      make: (n: number) =>
        seal(
          JSON.stringify({
            f: 1,
            i: 'x',
            d: JSON.stringify(Object.fromEntries(Array.from({ length: n / 12 }, (_, i) => [`k${i}`, i]))),
            c: 0,
            l: 0,
            e: 1,
          }),
          KEYS,
          'sid',
        ),
    },
    'version byte, then garbage': (n) => `AQ${'A'.repeat(n - 2)}`,
    'not base64url': (n) => `${'A'.repeat(n - 1)}!`,
  },
};

// ---------------------------------------------------------------------------------------------------
// The session JSON decoder: a stored record's data

/** What the manager does with a record's data (parseValues with the default JSON serializer). */
function decodeData(text: string): Map<string, unknown> | Error {
  try {
    return toValueMap(jsonSerializer.parse(text));
  } catch (error) {
    return error as Error;
  }
}

/** The same data read with the reviver on every text (the fast path must agree with it). */
function decodeSlowly(text: string): Map<string, unknown> | undefined {
  try {
    return toValueMap(JSON.parse(text, (key, value) => (key === '__proto__' ? undefined : value)));
  } catch {
    return undefined;
  }
}

/** The data a session shows (`session.data()`): Teller's own `teller:` keys left out. */
function userData(values: Map<string, unknown>): Map<string, unknown> {
  return new Map([...values].filter(([key]) => !key.startsWith(INTERNAL_PREFIX)));
}

/** A JSON value as JSON gives it back, its `__proto__` keys dropped at every depth (written out, not parsed). */
function withoutProtoKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return JSON.parse(JSON.stringify(value) ?? 'null');
  if (Array.isArray(value)) return value.map(withoutProtoKeys);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k !== '__proto__' && v !== undefined) out[k] = withoutProtoKeys(v);
  }
  return out;
}

function hasProtoKey(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object' || depth > 64) return false;
  if (Object.hasOwn(value, '__proto__')) return true;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype) return true;
  return Object.values(value).some((v) => hasProtoKey(v, depth + 1));
}

/** A one-record store for the manager in stored mode: whatever `data` holds is what it reads. */
const ID = Buffer.alloc(32, 7).toString('base64url');
const KEY = storeKeyOf(ID);
let storedRecord: SessionRecord | null = null;
const oneRecordStore: SessionStore = {
  immediate: true,
  get: async (key) => (key === KEY ? storedRecord : null),
  set: async () => true,
  delete: async () => {},
};
const storedManager = createSessionManager({ store: oneRecordStore, clock: () => NOW });

export type DataInput = { text: string } | { values: Record<string, unknown> };

export const dataTarget: FuzzTarget<DataInput> = {
  name: 'session JSON decoder',
  input: fc.oneof(
    { arbitrary: recordData.map((text) => ({ text })), weight: 3 },
    { arbitrary: sessionValues.map((values) => ({ values })), weight: 1 },
  ),
  async check(input) {
    if ('values' in input) {
      // Round trip: the values a session holds come back from the text they are stored as, less the
      // `__proto__` keys, which are dropped at every depth (as serializer.ts documents).
      const values = new Map(Object.entries(input.values));
      const back = decodeData(jsonSerializer.stringify(fromValueMap(values)));
      const want = new Map(
        [...values].filter(([k]) => k !== '__proto__').map(([k, v]) => [k, withoutProtoKeys(v)]),
      );
      if (!isDeepStrictEqual(back, want)) fail('stringify -> parse changed the values', input.values);
      return;
    }
    const got = decodeData(input.text);
    if (got instanceof Error) {
      // The documented failures: not JSON (SyntaxError), not an object (TypeError).
      if (!(got instanceof SyntaxError) && !(got instanceof TypeError)) throw got;
      if (decodeSlowly(input.text) !== undefined) fail('the reviver path reads what the fast path refused');
    } else {
      if (got.has('__proto__') || [...got.values()].some((v) => hasProtoKey(v))) {
        fail('a __proto__ key survived', input.text);
      }
      if (!isDeepStrictEqual(got, decodeSlowly(input.text)))
        fail('the fast path and the reviver disagree', input.text);
    }
    // The manager in stored mode reads the record: a fresh session when the data is unreadable, never a throw.
    storedRecord = makeRecord(input.text, 1, NOW - 1000, NOW - 1000, NOW + 60_000);
    const s = await storedManager.load(`sid=${ID}`, { now: NOW });
    if (s.isNew !== got instanceof Error) fail('the manager and the decoder disagree', input.text);
    if (
      !s.isNew &&
      !isDeepStrictEqual(new Map(Object.entries(s.data())), userData(got as Map<string, unknown>))
    )
      fail('the manager read other data');
    s.release();
  },
  size: (input) => ('text' in input ? input.text.length : JSON.stringify(input.values).length),
  text: (input) => ('text' in input ? input.text : JSON.stringify(input.values)),
  /** A valid object text grows as an array of it under one key; anything else by repetition. */
  grow(seed, length) {
    if (decodeData(seed) instanceof Error) return repeatTo(seed, length);
    return `{"a":[${Array.from({ length: Math.max(1, Math.floor(length / (seed.length + 1))) }, () => seed).join(',')}]}`;
  },
  timed: decodeData,
  n: 20_000,
  families: {
    'deep arrays': {
      make: (n) => `{"a":${'['.repeat(n / 2)}${']'.repeat(n / 2)}}`,
      n: 20_000,
      reference: (text) => new Map(Object.entries(JSON.parse(text))),
    },
    'many keys': {
      make: (n) => JSON.stringify(Object.fromEntries(Array.from({ length: n / 10 }, (_, i) => [`k${i}`, i]))),
      n: 2_000,
      reference: (text) => new Map(Object.entries(JSON.parse(text))),
    },
    'many __proto__ keys (the reviver)': (n) =>
      `{${Array.from({ length: n / 16 }, (_, i) => `"__proto__":${i}`).join(',')}}`,
    'escaped keys (the reviver)': {
      make: (n) => `{${Array.from({ length: n / 20 }, (_, i) => `"\\u006b${i}":{"x":1}`).join(',')}}`,
      n: 4_000,
    },
    'long escaped string': (n) => `{"a":"${'\\u0041'.repeat(n / 6)}"}`,
    'nested objects': (n) => `${'{"a":'.repeat(n / 6)}1${'}'.repeat(n / 6)}`,
  },
};

/** The least a Cookie header parser must do: split the pairs and fill a table of the names. */
function splitIntoObject(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const pair of text.split('; ')) {
    const eq = pair.indexOf('=');
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of targets of different input types
export const TARGETS: FuzzTarget<any>[] = [
  parseCookieTarget,
  parseSetCookieTarget,
  jarTarget,
  sealedTarget,
  dataTarget,
];
