/**
 * Issue 18's scenario generator and difference classes, without a browser: scenarios are reproducible from
 * (seed, id), the mix is the one measured outside the project, and every attribute and class of difference
 * listed in the issue can be produced.
 */
import { describe, expect, it } from 'vitest';
import { feature, pairs } from './compare.js';
import { generateScenario, HOSTS, type RequestStep, type Scenario } from './generator.js';

const NOW = Date.UTC(2026, 11, 2, 12);
const N = 3000;
const scenarios: Scenario[] = Array.from({ length: N }, (_, id) => generateScenario(5, id, { now: NOW }));
const requests = scenarios.flatMap((s) => s.steps.filter((st): st is RequestStep => st.kind === 'request'));
const lines = requests.flatMap((r) => r.lines);

describe('the parity generator', () => {
  it('reproduces a scenario from its seed and id alone, and differs between seeds', () => {
    expect(generateScenario(5, 17, { now: NOW })).toEqual(scenarios[17]);
    expect(generateScenario(6, 17, { now: NOW })).not.toEqual(scenarios[17]);
  });

  it('has the mix: about 70% random, 15% flows, 15% overwrites, and limit scenarios', () => {
    const share = (kind: string) => scenarios.filter((s) => s.kind === kind).length / N;
    expect(share('random')).toBeGreaterThan(0.63);
    expect(share('random')).toBeLessThan(0.73);
    expect(share('flow')).toBeGreaterThan(0.12);
    expect(share('flow')).toBeLessThan(0.18);
    expect(share('overwrite')).toBeGreaterThan(0.12);
    expect(share('overwrite')).toBeLessThan(0.18);
    expect(share('limit')).toBeGreaterThan(0.01);
    const limit = scenarios.find((s) => s.kind === 'limit')!;
    const count = limit.steps.reduce((n, st) => n + (st.kind === 'request' ? st.lines.length : 0), 0);
    expect(count).toBeGreaterThan(180);
    // The total-limit scenario only when asked (long runs).
    expect(scenarios.some((s) => s.kind === 'total-limit')).toBe(false);
    const many = Array.from({ length: 6000 }, (_, id) =>
      generateScenario(5, id, { now: NOW, totalLimit: true }),
    );
    expect(many.some((s) => s.kind === 'total-limit')).toBe(true);
  });

  it('uses every context, scheme and host, and restarts the browser', () => {
    for (const c of ['navigate', 'fetch', 'script', 'subresource', 'post'])
      expect(requests.some((r) => r.context === c)).toBe(true);
    for (const h of HOSTS) expect(requests.some((r) => r.host === h)).toBe(true);
    expect(requests.some((r) => r.scheme === 'http')).toBe(true);
    expect(requests.some((r) => r.scheme === 'https')).toBe(true);
    expect(
      requests.some(
        (r) => r.context === 'post' && r.page!.host.endsWith('other.org') && !r.host.endsWith('other.org'),
      ),
    ).toBe(true);
    expect(scenarios.some((s) => s.steps.some((st) => st.kind === 'restart'))).toBe(true);
  });

  it.each([
    ['a tab inside a name or value', /^[^;=]*=[^;]*\S\t\S/],
    ['Domain=.', /[Dd][Oo][Mm][Aa][Ii][Nn]=\.(;|$)/],
    ['Partitioned without Secure', /^(?!.*secure)(?=.*partitioned)/i],
    ['Max-Age=+0', /max-age=\+0/i],
    ['a leading + in Max-Age', /max-age=\+60/i],
    ['Expires before 1601', /Expires=.* 1[0-5]\d\d /],
    ['Expires of a one-digit year', /Expires=\w{3}, \d\d \w{3} \d \d\d:/],
    ['Expires with 6th', /Expires=.*6th/],
    ['Expires with 12abc', /Expires=.*12abc/],
    ['Expires ending in Z', /Expires=[^;]*\dZ(;|$)/],
    ['a non-ASCII Domain', /Domain=b\xc3\xbccher\.de/i],
    ['a nameless cookie whose value holds =', /^=[^;]*=/],
    ['Domain= an IP address', /Domain=127\.0\.0\.1(;|$)/i],
    ['the __Host- prefix', /^__Host-/],
    ['the __Secure- prefix', /^__Secure-/],
    ['Priority', /Priority=(High|Low)/],
    ['SameSite=Strict', /SameSite=Strict/],
    ['HttpOnly', /HttpOnly/i],
    ['a value near 4096 octets', /x{4080}/],
    ['invalid UTF-8', /\xff\xfe/],
    ['a control character', /\x01/],
  ])('produces %s', (_, pattern) => {
    expect(lines.some((l) => pattern.test(l))).toBe(true);
  });

  it('writes lines as octets, never CR, LF or NUL', () => {
    expect(lines.every((l) => !/[\0\r\n]|[^\x00-\xff]/.test(l))).toBe(true);
  });
});

describe('the parity difference classes', () => {
  it('splits a Cookie header into its pairs', () => {
    expect(pairs('')).toEqual([]);
    expect(pairs('a=1; b; c=a=b')).toEqual(['a=1', 'b', 'c=a=b']);
  });

  it.each([
    ['x=a\tb', 'a tab inside the name or value'],
    ['x=1; Domain=.', 'Domain=.'],
    ['x=1; Partitioned', 'Partitioned without Secure'],
    ['x=1; Secure; Partitioned', 'Partitioned (the partition key)'],
    ['x=1; Max-Age=+0', "Max-Age with a leading '+'"],
    ['x=1; Expires=Wed, 02 Dec 1600 20:44:26 GMT', 'Expires before 1601'],
    ['x=1; Expires=Tue, 28 Oct 5 19:44:25 GMT', 'Expires of a one-digit year'],
    [
      'x=1; Expires=Fri, 12abc Jan 2027 19:38:11 GMT',
      'Expires with a token the RFC date grammar allows (6th, 12abc, Z)',
    ],
    ['=a=b', "a nameless cookie whose value holds '='"],
    ['x=1; Domain=127.0.0.1', 'Domain= an IP address'],
    ['x=1; Domain=b\xc3\xbccher.de', 'a non-ASCII Domain'],
    ['x=\xff\xfe', 'invalid UTF-8 in the name or value'],
    ['x=1', 'plain'],
  ])('names %j: %s', (line, cls) => {
    expect(feature(line)).toBe(cls);
  });
});
