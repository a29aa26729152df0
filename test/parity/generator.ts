/**
 * The differential test's scenarios (issue 18): seeded, each a list of steps, a step a request whose response
 * carries Set-Cookie lines, or a browser restart. The mix: about 70% random lines (every attribute and odd
 * spelling), 15% realistic flows (login, analytics, cart, consent), 15% overwrites, deletions and shadowing
 * (5.7 step 16), plus limit scenarios (more than 180 cookies on one registrable domain with priorities; the
 * total limit on request).
 *
 * Lines are header octets: one character per octet (non-ASCII text is written as its UTF-8), exactly what
 * the loopback server puts on the wire and what the jar is fed with `octets: true`. A line never holds CR
 * or LF (it could not be one header line); other controls, tab and invalid UTF-8 do occur.
 */

/** mulberry32: a small seeded PRNG, enough for reproducible scenarios. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[Math.floor(rng() * list.length)]!;
}
function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}
function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** UTF-8 text as header octets (one character per octet). */
export function octets(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/**
 * The host names: under real public suffixes (com, co.uk, org, de), a TLD outside the list (test), an IP
 * address and an IDN (`bücher.de`, as its A-label: the URL parser of both sides converts it anyway).
 */
export const HOSTS = [
  'example.com',
  'www.example.com',
  'a.example.com',
  'b.a.example.com',
  'example.co.uk',
  'shop.example.co.uk',
  'other.org',
  'www.other.org',
  'site.test',
  '127.0.0.1',
  'xn--bcher-kva.de',
] as const;

/** The registrable domain (eTLD+1) of each host, as the generator's Domain attributes use it. */
const REGISTRABLE: Record<string, string> = {
  'example.com': 'example.com',
  'www.example.com': 'example.com',
  'a.example.com': 'example.com',
  'b.a.example.com': 'example.com',
  'example.co.uk': 'example.co.uk',
  'shop.example.co.uk': 'example.co.uk',
  'other.org': 'other.org',
  'www.other.org': 'other.org',
  'site.test': 'site.test',
  '127.0.0.1': '127.0.0.1',
  'xn--bcher-kva.de': 'xn--bcher-kva.de',
};

export const PATHS = ['/', '/a', '/a/', '/a/b', '/a/b/c', '/ab', '/A', '/shop', '/shop/cart'] as const;

export type Scheme = 'http' | 'https';

/**
 * How the request is made:
 * - `navigate`: a top-level navigation (`page.goto`, browser-initiated: same-site);
 * - `fetch`: a same-origin `fetch` from a page of the request's origin at the same path (the page's own load
 *   is a navigation, compared too);
 * - `script`: a navigation whose page then reads `document.cookie` (a non-HTTP read);
 * - `subresource`: a page on `page`'s origin fetches the URL (`credentials: 'include'`, `no-cors`);
 * - `post`: a page on `page`'s origin submits a form by POST to the URL (a top-level navigation).
 */
export type Context = 'navigate' | 'fetch' | 'script' | 'subresource' | 'post';

export interface RequestStep {
  kind: 'request';
  scheme: Scheme;
  host: string;
  path: string;
  method: 'GET' | 'POST';
  context: Context;
  /** The page the request is made from (subresource and post): its scheme and host. */
  page?: { scheme: Scheme; host: string };
  /** The Set-Cookie lines of the response, as header octets. */
  lines: string[];
}

export interface RestartStep {
  kind: 'restart';
}

export type Step = RequestStep | RestartStep;

export type ScenarioKind = 'random' | 'flow' | 'overwrite' | 'limit' | 'total-limit';

export interface Scenario {
  id: number;
  kind: ScenarioKind;
  steps: Step[];
}

export interface GenerateOptions {
  /** The time the dates are generated around (epoch ms). */
  now: number;
  /** Allow the total-limit scenario (more than 3,400 cookies; long runs only). @default false */
  totalLimit?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Attribute values.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** Expires values: the three HTTP date forms, and the odd ones (before 1601, one-digit years, 6th, 12abc, Z). */
function expiresValue(rng: Rng, now: number): string {
  const offsets = [-86400e3 * 400, -86400e3, -3600e3, 60e3, 3600e3, 86400e3 * 30, 86400e3 * 500];
  const d = new Date(now + pick(rng, offsets) + int(rng, 0, 59) * 1000);
  const Y = d.getUTCFullYear();
  const M = MONTHS[d.getUTCMonth()]!;
  const D = d.getUTCDate();
  const hms = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const day = DAYS[d.getUTCDay()]!;
  switch (int(rng, 0, 17)) {
    case 0:
    case 1:
    case 2:
    case 3:
      return `${day}, ${pad(D)} ${M} ${Y} ${hms} GMT`; // IMF-fixdate
    case 4:
      return `${LONG_DAYS[d.getUTCDay()]}, ${pad(D)}-${M}-${String(Y).slice(2)} ${hms} GMT`; // RFC 850
    case 5:
      return `${day} ${M} ${String(D).padStart(2, ' ')} ${hms} ${Y}`; // asctime
    case 6:
      return `${day}, ${pad(D)} ${M} ${pick(rng, ['1600', '1599', '0999', '1601', '1970'])} ${hms} GMT`;
    case 7:
      return `${day}, ${pad(D)} ${M} ${pick(rng, ['5', '0', '9'])} ${hms} GMT`; // one-digit year
    case 8:
      return `${day}, ${D}th ${M} ${Y} ${hms} GMT`.replace(`${D}th`, pick(rng, ['6th', `${D}th`]));
    case 9:
      return `${day}, 12abc ${M} ${Y} ${hms} GMT`;
    case 10:
      return `${day}, ${pad(D)} ${M} ${Y} ${hms}Z`;
    case 11:
      return `${pad(D)} ${M.toLowerCase()} ${Y} ${hms}`; // lower-case month, no day name
    case 12:
      return `${day}, ${pad(D)} ${M} ${String(Y).slice(2)} ${hms} GMT`; // two-digit year
    case 13:
      return pick(rng, ['foo', '', '0', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Thu, 01 Jan 1970 00:00:01 GMT']);
    case 14:
      return `${day}, ${pad(D)} ${M} ${Y} ${pick(rng, ['24:00:00', '23:60:00', '1:2:3', '00:00'])} GMT`;
    case 15:
      return `${day}, ${pick(rng, ['32', '0', '31'])} ${M} ${Y} ${hms} GMT`;
    case 16:
      return `${Y}-${pad(d.getUTCMonth() + 1)}-${pad(D)}T${hms}Z`; // ISO, not a cookie date
    default:
      return `${day}, ${pad(D)} ${M} ${pick(rng, ['10000', '9999', '2038', '1969'])} ${hms} GMT`;
  }
}

function maxAgeValue(rng: Rng): string {
  return pick(rng, [
    '3600',
    '60',
    '0',
    '-1',
    '+0',
    '+60',
    '01',
    '-0',
    'abc',
    '',
    '9999999999',
    '1',
    ' 60',
    '60s',
  ]);
}

function domainValue(rng: Rng, host: string): string {
  const reg = REGISTRABLE[host] ?? host;
  return pick(rng, [
    reg,
    reg,
    `.${reg}`,
    reg.toUpperCase(),
    host,
    `${reg}.`,
    'other.org',
    'co.uk',
    'com',
    '.',
    '',
    '..example.com',
    '127.0.0.1',
    octets('bücher.de'),
    'xn--bcher-kva.de',
    `www.${reg}`,
    'example',
  ]);
}

function pathValue(rng: Rng): string {
  return pick(rng, ['/', '/', '/a', '/a/', '/a/b', 'a', '', '/%61', '/A', '/shop', '/a b', '/a;b']);
}

function nameValue(rng: Rng): string {
  return pick(rng, [
    'a',
    'b',
    'sid',
    'id',
    'x',
    'theme',
    '__Host-h',
    '__Secure-s',
    '__host-l',
    '__SECURE-u',
    'n\tm',
    '',
    ' sp ',
    'na me',
    octets('é'),
    'a"b',
    '$x',
    'n\x01',
    'n\x7f',
  ]);
}

function valueValue(rng: Rng): string {
  return pick(rng, [
    '1',
    'v',
    'v2',
    '',
    'a=b',
    'a\tb',
    '\tv',
    'v\t',
    '"q"',
    '"',
    octets('ä'),
    octets('日本'),
    '\xff\xfe',
    '\xc3',
    '%20x',
    ' padded ',
    'a,b',
    'v\x01',
    'x'.repeat(int(rng, 4080, 4100)),
  ]);
}

/** A random attribute: every one the RFC and Chromium know, in odd spellings too. */
function attribute(rng: Rng, host: string, now: number): string {
  switch (int(rng, 0, 13)) {
    case 0:
      return `Expires=${expiresValue(rng, now)}`;
    case 1:
      return `${pick(rng, ['Max-Age', 'max-age', 'MAX-AGE'])}=${maxAgeValue(rng)}`;
    case 2:
      return `${pick(rng, ['Domain', 'domain', 'DOMAIN'])}=${domainValue(rng, host)}`;
    case 3:
      return `${pick(rng, ['Path', 'path'])}=${pathValue(rng)}`;
    case 4:
    case 5:
      return pick(rng, ['Secure', 'secure', ' Secure ', 'Secure=no']);
    case 6:
      return pick(rng, ['HttpOnly', 'httponly']);
    case 7:
    case 8:
      return `SameSite=${pick(rng, ['Strict', 'Lax', 'None', 'lax', 'NONE', 'bogus', ''])}`;
    case 9:
      return pick(rng, ['Partitioned', 'partitioned']);
    case 10:
      return `Priority=${pick(rng, ['High', 'Low', 'Medium', 'high', 'bogus'])}`;
    case 11:
      return pick(rng, ['Version=1', 'Comment=x', 'foo', '=bar']);
    case 12:
      return `Path=/${'p'.repeat(int(rng, 1, 3))}`;
    default:
      return `Max-Age=${pick(rng, ['600', '86400'])}`;
  }
}

/** A random Set-Cookie line (octets). */
function randomLine(rng: Rng, host: string, now: number): string {
  const name = nameValue(rng);
  const value = valueValue(rng);
  let line: string;
  const shape = rng();
  if (shape < 0.05)
    line = value; // no '=' at all: a nameless cookie
  else if (shape < 0.08) line = `=${value}`;
  else if (shape < 0.1)
    line = `${pick(rng, ['', '=x'])}=${value}`; // a nameless cookie whose value holds '='
  else line = `${name}=${value}`;
  const n = int(rng, 0, 4);
  for (let i = 0; i < n; i++) line += pick(rng, ['; ', ';', ' ; ']) + attribute(rng, host, now);
  // Secure or a secure-only SameSite=None with Partitioned, often enough to exercise CHIPS.
  if (chance(rng, 0.12)) line += '; Secure; SameSite=None; Partitioned';
  return line;
}

// ---------------------------------------------------------------------------------------------------------
// Steps.

const CONTEXTS: readonly Context[] = [
  'navigate',
  'navigate',
  'navigate',
  'navigate',
  'navigate',
  'fetch',
  'fetch',
  'script',
  'subresource',
  'subresource',
  'post',
  'post',
];

function request(rng: Rng, lines: string[], over: Partial<RequestStep> = {}): RequestStep {
  const scheme: Scheme = over.scheme ?? (chance(rng, 0.55) ? 'https' : 'http');
  const host = over.host ?? pick(rng, HOSTS);
  const context = over.context ?? pick(rng, CONTEXTS);
  const step: RequestStep = {
    kind: 'request',
    scheme,
    host,
    path: over.path ?? pick(rng, PATHS),
    method: context === 'post' ? 'POST' : context === 'fetch' && chance(rng, 0.3) ? 'POST' : 'GET',
    context,
    lines,
  };
  if (context === 'subresource' || context === 'post') {
    // The page is on any host, often another site; an https page never calls http (mixed content).
    let pageScheme: Scheme = chance(rng, 0.5) ? 'https' : 'http';
    if (pageScheme === 'https' && scheme === 'http') pageScheme = 'http';
    step.page = over.page ?? { scheme: pageScheme, host: pick(rng, HOSTS) };
  }
  return step;
}

function randomScenario(rng: Rng, now: number): Step[] {
  const steps: Step[] = [];
  const n = int(rng, 2, 7);
  let restarted = false;
  for (let i = 0; i < n; i++) {
    if (!restarted && i > 0 && chance(rng, 0.03)) {
      steps.push({ kind: 'restart' });
      restarted = true;
      continue;
    }
    const host = pick(rng, HOSTS);
    const count = chance(rng, 0.25) ? 0 : int(rng, 1, 4);
    const lines: string[] = [];
    for (let j = 0; j < count; j++) lines.push(randomLine(rng, host, now));
    steps.push(request(rng, lines, { host }));
  }
  // A closing read from each host written to, so what was stored is also seen.
  steps.push(request(rng, [], { context: 'navigate' }));
  return steps;
}

/** Realistic flows: login, analytics, a cart, a consent banner, a logout. */
function flowScenario(rng: Rng, now: number): Step[] {
  const host = pick(rng, [
    'example.com',
    'www.example.com',
    'shop.example.co.uk',
    'www.other.org',
    'site.test',
  ]);
  const reg = REGISTRABLE[host]!;
  const scheme: Scheme = chance(rng, 0.8) ? 'https' : 'http';
  const sec = scheme === 'https' ? '; Secure' : '';
  const steps: Step[] = [];
  const ga = `GA1.2.${int(rng, 1e8, 1e9)}.${Math.floor(now / 1000)}`;
  steps.push(
    request(
      rng,
      [
        `_ga=${ga}; Domain=${reg}; Path=/; Max-Age=63072000; SameSite=Lax`,
        `_gid=GA1.2.${int(rng, 1, 1e6)}; Path=/; Max-Age=86400`,
      ],
      {
        scheme,
        host,
        path: '/',
        context: 'navigate',
      },
    ),
  );
  if (chance(rng, 0.6)) {
    steps.push(
      request(
        rng,
        [`consent=${pick(rng, ['all', 'necessary'])}; Path=/; Max-Age=31536000; SameSite=Lax${sec}`],
        {
          scheme,
          host,
          path: '/',
          context: 'fetch',
        },
      ),
    );
  }
  const sid = `s${int(rng, 1e6, 1e7)}`;
  steps.push(
    request(
      rng,
      [
        `${scheme === 'https' && chance(rng, 0.5) ? '__Host-sid' : 'sid'}=${sid}; Path=/; HttpOnly; SameSite=Lax${sec}`,
      ],
      {
        scheme,
        host,
        path: pick(rng, ['/login', '/']),
        context: chance(rng, 0.5) ? 'post' : 'fetch',
        page: { scheme, host },
      },
    ),
  );
  steps.push(
    request(rng, [`cart=${int(rng, 1, 99)}; Path=/shop; Max-Age=3600`], {
      scheme,
      host,
      path: '/shop',
      context: 'navigate',
    }),
  );
  steps.push(
    request(rng, [], {
      scheme,
      host,
      path: '/shop/cart',
      context: pick(rng, ['navigate', 'fetch', 'script']),
    }),
  );
  // A third-party embed of the site from another site.
  steps.push(
    request(rng, [], {
      scheme: 'https',
      host,
      path: '/',
      context: pick(rng, ['subresource', 'post']),
      page: { scheme: 'https', host: host.endsWith('other.org') ? 'example.com' : 'other.org' },
    }),
  );
  if (chance(rng, 0.25)) steps.push({ kind: 'restart' });
  if (chance(rng, 0.5)) {
    steps.push(
      request(
        rng,
        [`sid=; Path=/; Max-Age=0${sec}`, 'cart=; Path=/shop; Expires=Thu, 01 Jan 1970 00:00:00 GMT'],
        {
          scheme,
          host,
          path: '/logout',
          context: 'fetch',
        },
      ),
    );
  }
  steps.push(request(rng, [], { scheme, host, path: '/shop/cart', context: 'navigate' }));
  return steps;
}

/** Overwrites, deletions and shadowing: the same name set again with another value, path, domain or security. */
function overwriteScenario(rng: Rng, now: number): Step[] {
  const host = pick(rng, [
    'example.com',
    'www.example.com',
    'a.example.com',
    'example.co.uk',
    '127.0.0.1',
    'site.test',
  ]);
  const reg = REGISTRABLE[host]!;
  const name = pick(rng, ['a', 'sid', 'pref']);
  const steps: Step[] = [];
  const variants = [
    () => `${name}=v${int(rng, 1, 9)}`,
    () => `${name}=v${int(rng, 1, 9)}; Path=/`,
    () => `${name}=w${int(rng, 1, 9)}; Path=/a`,
    () => `${name}=d${int(rng, 1, 9)}; Domain=${reg}`,
    () => `${name}=s${int(rng, 1, 9)}; Secure`,
    () => `${name}=s${int(rng, 1, 9)}; Secure; Domain=${reg}`,
    () => `${name}=p${int(rng, 1, 9)}; Max-Age=600`,
    () => `${name}=; Max-Age=0`,
    () => `${name}=; Path=/a; Max-Age=0`,
    () => `${name}=; Domain=${reg}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`,
    () => `${name}=h${int(rng, 1, 9)}; HttpOnly`,
    () => `other${int(rng, 1, 3)}=o`,
    () => `${name}=x; Expires=${expiresValue(rng, now)}`,
  ];
  const n = int(rng, 3, 7);
  for (let i = 0; i < n; i++) {
    const lines: string[] = [];
    const k = int(rng, 1, 3);
    for (let j = 0; j < k; j++) lines.push(pick(rng, variants)());
    const stepHost = chance(rng, 0.7)
      ? host
      : pick(
          rng,
          HOSTS.filter((h) => REGISTRABLE[h] === reg),
        );
    steps.push(
      request(rng, lines, {
        host: stepHost,
        path: pick(rng, ['/', '/a', '/a/b']),
        context: pick(rng, ['navigate', 'navigate', 'fetch', 'script']),
      }),
    );
    if (chance(rng, 0.5))
      steps.push(request(rng, [], { host: stepHost, path: pick(rng, ['/', '/a/b']), context: 'navigate' }));
  }
  if (chance(rng, 0.1)) steps.push({ kind: 'restart' });
  steps.push(request(rng, [], { host, path: '/a/b', context: 'navigate' }));
  return steps;
}

/** More than 180 cookies on one registrable domain, over its hosts, with priorities and Secure mixed. */
function limitScenario(rng: Rng): Step[] {
  const reg = pick(rng, ['example.com', 'example.co.uk']);
  const hosts = HOSTS.filter((h) => REGISTRABLE[h] === reg);
  const steps: Step[] = [];
  const total = int(rng, 170, 230);
  let made = 0;
  while (made < total) {
    const lines: string[] = [];
    const k = Math.min(total - made, int(rng, 20, 60));
    const host = pick(rng, hosts);
    const scheme: Scheme = chance(rng, 0.5) ? 'https' : 'http';
    for (let j = 0; j < k; j++, made++) {
      let line = `c${made}=${made}`;
      if (chance(rng, 0.5)) line += `; Priority=${pick(rng, ['High', 'Low', 'Medium'])}`;
      if (scheme === 'https' && chance(rng, 0.3)) line += '; Secure';
      if (chance(rng, 0.5)) line += `; Domain=${reg}`;
      if (chance(rng, 0.3)) line += '; Max-Age=3600';
      lines.push(line);
    }
    steps.push(request(rng, lines, { scheme, host, path: '/', context: 'navigate' }));
    if (chance(rng, 0.3))
      steps.push(request(rng, [], { scheme, host: pick(rng, hosts), path: '/', context: 'navigate' }));
  }
  for (const host of hosts)
    steps.push(request(rng, [], { scheme: 'https', host, path: '/', context: 'navigate' }));
  return steps;
}

/** More than 3,400 cookies over 25 sites (150 each, under the per-domain limits). */
function totalLimitScenario(): Step[] {
  const steps: Step[] = [];
  for (let s = 0; s < 25; s++) {
    const host = `site${s}.test`;
    const lines: string[] = [];
    for (let j = 0; j < 150; j++) lines.push(`t${j}=${s}; Max-Age=3600`);
    steps.push({
      kind: 'request',
      scheme: 'http',
      host,
      path: '/',
      method: 'GET',
      context: 'navigate',
      lines,
    });
  }
  steps.push({
    kind: 'request',
    scheme: 'http',
    host: 'site0.test',
    path: '/',
    method: 'GET',
    context: 'navigate',
    lines: [],
  });
  steps.push({
    kind: 'request',
    scheme: 'http',
    host: 'site24.test',
    path: '/',
    method: 'GET',
    context: 'navigate',
    lines: [],
  });
  return steps;
}

/** Scenario `id` of the run seeded `seed`: its own PRNG, so any scenario is reproduced alone. */
export function generateScenario(seed: number, id: number, options: GenerateOptions): Scenario {
  const rng = mulberry32((seed * 0x9e3779b1) ^ (id * 0x85ebca6b));
  const r = rng();
  if (options.totalLimit === true && r < 0.0004)
    return { id, kind: 'total-limit', steps: totalLimitScenario() };
  if (r < 0.02) return { id, kind: 'limit', steps: limitScenario(rng) };
  if (r < 0.17) return { id, kind: 'flow', steps: flowScenario(rng, options.now) };
  if (r < 0.32) return { id, kind: 'overwrite', steps: overwriteScenario(rng, options.now) };
  return { id, kind: 'random', steps: randomScenario(rng, options.now) };
}
