/**
 * The differential test's jar side: a recorded Chromium trace replayed offline through `new CookieJar({ profile })`
 * (the same lines, in the same order, at the times they arrived, with the options a browser gives), compared
 * per request (the Cookie header: set-equal as multisets of pairs, order-equal as sequences) and at the end
 * (the whole store), each difference given a class from what differs and the Set-Cookie line behind it.
 */
import { CookieJar, type CookieJarOptions, type StoredCookie } from '../../src/jar/index.js';
import type { ChromiumCookie, Trace, TracedRequest } from './browser.js';
import type { Scenario } from './generator.js';

export type Profile = 'rfc' | 'chromium';

/** One difference, with what is needed to print it as an example. */
export interface Difference {
  class: string;
  scenario: Scenario;
  /** A scenario's size: its lines and steps, to pick the smallest example of a class. */
  size: number;
  detail: string;
  /** The size of the example this one was shrunk from (test/parity/shrink.ts), if it was. */
  shrunkFrom?: number;
}

export interface Tally {
  scenarios: number;
  requests: number;
  setEqual: number;
  /** Requests where Chromium or the jar sent two or more cookies. */
  orderEligible: number;
  orderEqual: number;
  stores: number;
  storesEqual: number;
  /** Requests that never reached the server (not compared). */
  missing: number;
  /** Chromium sent a cookie in the plain cases: a cookie set by a same-site navigation to a host is sent back. */
  differences: Map<string, { count: number; example: Difference }>;
}

export function emptyTally(): Tally {
  return {
    scenarios: 0,
    requests: 0,
    setEqual: 0,
    orderEligible: 0,
    orderEqual: 0,
    stores: 0,
    storesEqual: 0,
    missing: 0,
    differences: new Map(),
  };
}

/** The `name=value` pairs of a Cookie header (or `document.cookie`), in order. */
export function pairs(header: string): string[] {
  return header === '' ? [] : header.split('; ');
}

function sameMultiset(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}

/** Items of `a` not matched in `b` (multiset difference). */
function minus(a: string[], b: string[]): string[] {
  const left = [...b];
  const out: string[] = [];
  for (const v of a) {
    const i = left.indexOf(v);
    if (i === -1) out.push(v);
    else left.splice(i, 1);
  }
  return out;
}

/** The pair a Set-Cookie line makes, split as a user agent does (5.6 steps 2-4), whether or not it is kept. */
function pairOf(line: string): { name: string; value: string; pair: string } {
  const semi = line.indexOf(';');
  const nv = semi === -1 ? line : line.slice(0, semi);
  const eq = nv.indexOf('=');
  const trim = (s: string) => s.replace(/^[ \t]+|[ \t]+$/g, '');
  const name = eq === -1 ? '' : trim(nv.slice(0, eq));
  const value = eq === -1 ? trim(nv) : trim(nv.slice(eq + 1));
  return { name, value, pair: name === '' ? value : `${name}=${value}` };
}

function attrs(line: string): { key: string; value: string }[] {
  return line
    .split(';')
    .slice(1)
    .map((a) => {
      const eq = a.indexOf('=');
      return eq === -1
        ? { key: a.trim().toLowerCase(), value: '' }
        : { key: a.slice(0, eq).trim().toLowerCase(), value: a.slice(eq + 1).trim() };
    });
}

/** The most telling feature of a Set-Cookie line (octets), for a difference's class. */
export function feature(line: string): string {
  const { name, value } = pairOf(line);
  const as = attrs(line);
  const has = (k: string) => as.some((a) => a.key === k);
  const last = (k: string) => as.filter((a) => a.key === k).at(-1)?.value;
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) return 'a control character in the line';
  if (/\t/.test(name) || /\t/.test(value)) return 'a tab inside the name or value';
  if (/\t/.test(line.split(';')[0]!)) return 'a tab before or after the name or value';
  if (name === '' && value.includes('=')) return "a nameless cookie whose value holds '='";
  if (name === '') return 'a nameless cookie';
  const domain = last('domain');
  if (domain === '.') return 'Domain=.';
  if (domain !== undefined && /[\x80-\xff]/.test(domain)) return 'a non-ASCII Domain';
  if (domain !== undefined && /^\d+\.\d+\.\d+\.\d+$/.test(domain)) return 'Domain= an IP address';
  if (has('partitioned') && !has('secure')) return 'Partitioned without Secure';
  if (has('partitioned')) return 'Partitioned (the partition key)';
  const maxAge = last('max-age');
  if (maxAge?.startsWith('+')) return "Max-Age with a leading '+'";
  const expires = last('expires');
  if (expires !== undefined && maxAge === undefined) {
    if (/\b(1[0-5]\d\d|1600|0\d\d\d)\b/.test(expires)) return 'Expires before 1601';
    if (/ [0-9] \d/.test(expires) && /[A-Z][a-z]{2} \d \d\d:/.test(expires))
      return 'Expires of a one-digit year';
    if (/\dth|12abc|Z$/.test(expires))
      return 'Expires with a token the RFC date grammar allows (6th, 12abc, Z)';
    return 'Expires';
  }
  if (/^__(host|secure)-/i.test(name)) return `the prefix ${name.slice(0, name.indexOf('-') + 1)}`;
  if (
    Buffer.from(name + value, 'latin1')
      .toString('utf8')
      .includes('\ufffd')
  )
    return 'invalid UTF-8 in the name or value';
  if (/[\x80-\xff]/.test(name + value)) return 'non-ASCII name or value';
  if (line.length > 4000) return 'a line near 4096 octets';
  if (maxAge !== undefined) return 'Max-Age';
  if (domain !== undefined) return 'Domain';
  return 'plain';
}

/** The last line before event `upto` of the trace whose pair is `pair`. */
function culprit(trace: Trace, upto: number, pair: string): string | undefined {
  for (let i = Math.min(upto, trace.events.length - 1); i >= 0; i--) {
    const e = trace.events[i]!;
    if (e.type !== 'request') continue;
    for (let j = e.lines.length - 1; j >= 0; j--) if (pairOf(e.lines[j]!).pair === pair) return e.lines[j];
  }
  return undefined;
}

/** The lines the scenario sets for a name (more than one: an overwrite, deletion or shadowing). */
function overwritten(trace: Trace, pair: string): boolean {
  const name = pair.includes('=') ? pair.slice(0, pair.indexOf('=')) : '';
  let n = 0;
  for (const e of trace.events)
    if (e.type === 'request') for (const l of e.lines) if (pairOf(l).name === name) n++;
  return n > 1;
}

function contextTag(e: TracedRequest): string {
  if (e.role === 'page' || e.context.topLevelNavigation) {
    if (e.context.sameSiteContext === 'cross-site') return ' [cross-site POST navigation]';
    return '';
  }
  if (e.context.sameSiteContext === 'cross-site') return ' [cross-site subresource]';
  return '';
}

function scenarioSize(s: Scenario): number {
  let n = s.steps.length;
  for (const st of s.steps) if (st.kind === 'request') n += st.lines.length * 2;
  return n;
}

function show(s: string): string {
  return JSON.stringify(s.length > 160 ? `${s.slice(0, 150)}…(${s.length})` : s);
}

/** Compares one trace with the jar of `profile`; adds to `tally`. */
export function compareTrace(trace: Trace, profile: Profile, tally: Tally): void {
  const jar = new CookieJar({ profile } as CookieJarOptions);
  const kindTag = '';
  // In a limit scenario, what differs is which cookies the limits evicted, whatever the lines.
  const limits =
    trace.scenario.kind === 'limit'
      ? 'the per-domain limit (eviction)'
      : trace.scenario.kind === 'total-limit'
        ? 'the total limit (eviction)'
        : undefined;
  let restarted = false;
  const note = (cls: string, detail: string) => {
    const d: Difference = {
      class: cls,
      scenario: trace.scenario,
      size: scenarioSize(trace.scenario),
      detail,
    };
    const known = tally.differences.get(cls);
    if (known === undefined) tally.differences.set(cls, { count: 1, example: d });
    else {
      known.count++;
      if (d.size < known.example.size) known.example = d;
    }
  };
  tally.scenarios++;
  for (let i = 0; i < trace.events.length; i++) {
    const e = trace.events[i]!;
    if (e.type === 'restart') {
      jar.endSession();
      restarted = true;
      continue;
    }
    const restartTag = restarted ? ' [after a restart]' : '';
    if (e.type === 'script') {
      const mine = jar.getCookieHeader(e.url, { http: false, now: e.at });
      compareHeader(pairs(mine), pairs(e.value), 'document.cookie', i, `${kindTag}${restartTag}`, e.url);
      continue;
    }
    if (e.cookie === undefined) {
      tally.missing++;
      continue;
    }
    const options = { ...e.context, now: e.at } as Parameters<CookieJar['getCookieHeader']>[1];
    const mine = jar.getCookieHeader(e.url, { ...options, octets: true });
    compareHeader(
      pairs(mine),
      pairs(e.cookie),
      'header',
      i,
      `${contextTag(e)}${kindTag}${restartTag}`,
      e.url,
    );
    // A response Chromium did not get whole (a failed navigation) set nothing there either.
    if (e.delivered) for (const line of e.lines) jar.setCookie(line, e.url, { ...options, octets: true });
  }
  compareStore(jar.getAllCookies({ now: trace.storeAt }), trace.store);

  function compareHeader(
    mine: string[],
    theirs: string[],
    where: string,
    at: number,
    tag: string,
    url: string,
  ) {
    tally.requests++;
    const setEqual = sameMultiset(mine, theirs);
    if (setEqual) tally.setEqual++;
    const eligible = mine.length >= 2 || theirs.length >= 2;
    if (eligible) tally.orderEligible++;
    const orderEqual = setEqual && mine.every((v, k) => v === theirs[k]);
    if (eligible && orderEqual) tally.orderEqual++;
    const detail = `request ${url}\n      jar:      ${show(mine.join('; '))}\n      Chromium: ${show(theirs.join('; '))}`;
    if (!setEqual) {
      for (const [who, extra] of [
        ['jar sends, Chromium does not', minus(mine, theirs)],
        ['Chromium sends, jar does not', minus(theirs, mine)],
      ] as const) {
        for (const p of extra) {
          const line = culprit(trace, at, p) ?? lineOf(pairOf(p).name);
          const f = limits ? limits : line === undefined ? 'no line found' : feature(line);
          note(`${where}: ${who}: ${f}${tag}`, `${detail}\n      line:     ${show(line ?? '?')}`);
        }
      }
    } else if (eligible && !orderEqual) {
      const after = mine.some((p) => overwritten(trace, p)) ? 'after an overwrite' : 'other';
      note(`${where}: order differs: ${after}${tag}`, detail);
    }
  }

  function compareStore(mine: StoredCookie[], theirs: ChromiumCookie[]) {
    tally.stores++;
    const key = (name: string, domain: string, path: string, hostOnly: boolean, pk: string | undefined) =>
      `${name}\u0000${domain}\u0000${path}\u0000${hostOnly}\u0000${pk ?? ''}`;
    const a = new Map<string, string>();
    for (const c of mine) {
      const pk = (c as StoredCookie & { partitionKey?: string }).partitionKey;
      a.set(
        key(c.name, c.domain, c.path, c.hostOnly, pk),
        fields(c.value, c.secure, c.httpOnly, c.sameSite, c.expires?.getTime()),
      );
    }
    const b = new Map<string, string>();
    for (const c of theirs) {
      const hostOnly = !c.domain.startsWith('.');
      const pk = typeof c.partitionKey === 'string' ? c.partitionKey : c.partitionKey?.topLevelSite;
      b.set(
        key(c.name, hostOnly ? c.domain : c.domain.slice(1), c.path, hostOnly, pk),
        fields(
          c.value,
          c.secure,
          c.httpOnly,
          c.sameSite ?? 'Default',
          c.session ? undefined : c.expires * 1000,
        ),
      );
    }
    let equal = true;
    const values = (k: string) => k.split('\u0000');
    for (const [k, v] of a) {
      const w = b.get(k);
      const [name = '', domain = ''] = values(k);
      const line = culprit(trace, trace.events.length, name === '' ? '' : `${name}=${v.split('\u0000')[0]}`);
      const f = limits ?? (line === undefined ? lineByName(name) : feature(line));
      if (w === undefined) {
        equal = false;
        note(
          `store: the jar keeps, Chromium does not: ${f}${kindTag}`,
          `cookie ${show(`${name}@${domain}`)} ${show(v)}\n      line:     ${show(line ?? lineOf(name) ?? '?')}`,
        );
      } else if (!sameFields(v, w)) {
        equal = false;
        note(
          `store: ${differingField(v, w)} differs: ${f}${kindTag}`,
          `cookie ${show(`${name}@${domain}`)}\n      jar:      ${show(v)}\n      Chromium: ${show(w)}\n      line:     ${show(line ?? lineOf(name) ?? '?')}`,
        );
      }
    }
    for (const [k, w] of b) {
      if (a.has(k)) continue;
      equal = false;
      const [name = '', domain = ''] = values(k);
      const line = lineOf(name);
      note(
        `store: Chromium keeps, the jar does not: ${limits ?? (line === undefined ? 'no line found' : feature(line))}${kindTag}`,
        `cookie ${show(`${name}@${domain} ${k.split('\u0000')[4]}`)} ${show(w)}\n      line:     ${show(line ?? '?')}`,
      );
    }
    if (equal) tally.storesEqual++;
  }

  function lineOf(name: string): string | undefined {
    for (let i = trace.events.length - 1; i >= 0; i--) {
      const e = trace.events[i]!;
      if (e.type !== 'request') continue;
      for (let j = e.lines.length - 1; j >= 0; j--) {
        const p = pairOf(e.lines[j]!);
        // Chromium reports the text; the lines are octets.
        if (p.name === name || Buffer.from(p.name, 'latin1').toString('utf8') === name) return e.lines[j];
      }
    }
    return undefined;
  }
  function lineByName(name: string): string {
    const line = lineOf(name);
    return line === undefined ? 'no line found' : feature(line);
  }
}

function fields(
  value: string,
  secure: boolean,
  httpOnly: boolean,
  sameSite: string,
  expires: number | undefined,
): string {
  return [
    value,
    secure,
    httpOnly,
    sameSite,
    expires === undefined ? 'session' : String(Math.round(expires)),
  ].join('\u0000');
}

/**
 * DevTools reports a value holding invalid UTF-8 as '' (its JSON cannot carry the octets) where the jar holds
 * U+FFFD for each bad sequence: not a difference the store can show (the Cookie header, compared as octets, does).
 */
function unreportable(jar: string, chromium: string): boolean {
  return jar.includes('\ufffd') && (chromium === '' || chromium.includes('\ufffd'));
}

const FIELD_NAMES = ['value', 'secure', 'httpOnly', 'sameSite', 'expiry'];

function sameFields(a: string, b: string): boolean {
  const x = a.split('\u0000');
  const y = b.split('\u0000');
  for (let i = 0; i < 4; i++) if (x[i] !== y[i] && !(i === 0 && unreportable(x[0]!, y[0]!))) return false;
  if (x[4] === 'session' || y[4] === 'session') return x[4] === y[4];
  return Math.abs(Number(x[4]) - Number(y[4])) <= 2000;
}

function differingField(a: string, b: string): string {
  const x = a.split('\u0000');
  const y = b.split('\u0000');
  const out: string[] = [];
  for (let i = 0; i < 5; i++) {
    if (i === 4 && x[4] !== 'session' && y[4] !== 'session' && Math.abs(Number(x[4]) - Number(y[4])) <= 2000)
      continue;
    if (x[i] !== y[i] && !(i === 0 && unreportable(x[0]!, y[0]!))) out.push(FIELD_NAMES[i]!);
  }
  return out.join('+');
}

function pct(n: number, d: number): string {
  return d === 0 ? '-' : `${((100 * n) / d).toFixed(2)}%`;
}

/** The figures of a tally, and one example per class (largest classes first). */
export function report(profile: Profile, t: Tally, examples = true): string {
  const out: string[] = [];
  out.push(
    `profile ${profile}: ${t.scenarios} scenarios, ${t.requests} requests compared (${t.missing} never arrived): ` +
      `set-equal ${pct(t.setEqual, t.requests)}, order-equal ${pct(t.orderEqual, t.orderEligible)} of ${t.orderEligible} ` +
      `with two or more cookies, store-equal ${pct(t.storesEqual, t.stores)}`,
  );
  const classes = [...t.differences.entries()].sort((a, b) => b[1].count - a[1].count);
  for (const [cls, { count, example }] of classes) {
    out.push(`  ${String(count).padStart(6)}  ${cls}`);
    if (!examples) continue;
    out.push(
      `      e.g. scenario ${example.scenario.id} (${example.scenario.kind}, size ${example.size}` +
        `${example.shrunkFrom === undefined ? '' : `, shrunk from size ${example.shrunkFrom}`}): ${example.detail}`,
    );
    if (example.size <= 24) out.push(...describe(example.scenario).map((l) => `        ${l}`));
  }
  return out.join('\n');
}

/** A scenario, a line per step. */
export function describe(s: Scenario): string[] {
  return s.steps.map((st, i) =>
    st.kind === 'restart'
      ? `${i}. restart`
      : `${i}. ${st.context}${st.page ? ` from ${st.page.scheme}://${st.page.host}` : ''} ${st.method} ${st.scheme}://${st.host}${st.path}` +
        (st.lines.length === 0 ? '' : `  Set-Cookie: ${st.lines.map((l) => show(l)).join(' | ')}`),
  );
}
