/** The jar's buckets must be found for exactly the domains a host domain-matches, by name or by tree. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainBuckets } from '../../src/jar/domains.js';
import type { Entry } from '../../src/jar/entry.js';
import { domainMatch } from '../../src/jar/host.js';

/** Few labels, so that random domains share suffixes, forks and empty labels. */
const label = fc.constantFrom('a', 'b', 'ab', 'com', 'example', '', '__proto__');
const domain = fc.array(label, { minLength: 1, maxLength: 10 }).map((labels) => labels.join('.'));

/** The host, then each parent of more than one label (an IP address: itself only), shortest first. */
function naive(domains: ReadonlySet<string>, host: string, isIp: boolean): Array<[string, boolean]> {
  const out: Array<[string, boolean]> = [];
  for (const d of domains) {
    if (d !== host && (isIp || !d.includes('.'))) continue;
    if (domainMatch(host, d, isIp)) out.push([d, d === host]);
  }
  return out.sort((x, y) => x[0].length - y[0].length);
}

function match(buckets: DomainBuckets, names: Map<Entry[], string>, host: string, isIp: boolean) {
  const out: Entry[][] = [];
  const hostIndex = buckets.match(host, isIp, out);
  return out
    .map((b, i): [string, boolean] => [names.get(b)!, i === hostIndex])
    .sort((x, y) => x[0].length - y[0].length);
}

describe('DomainBuckets', () => {
  it('finds the buckets of every domain a host domain-matches, through any adds and removals', () => {
    let found = 0;
    fc.assert(
      fc.property(
        // 0: every host goes down the tree; 3: some do; 100: none does.
        fc.constantFrom(0, 3, 100),
        fc.array(fc.tuple(fc.boolean(), domain), { maxLength: 40 }),
        fc.array(domain, { minLength: 1, maxLength: 8 }),
        (fewLabels, steps, hosts) => {
          const buckets = new DomainBuckets(fewLabels);
          const live = new Set<string>();
          const names = new Map<Entry[], string>();
          for (const [add, d] of steps) {
            if (add && !live.has(d)) {
              names.set(buckets.create(d), d);
              live.add(d);
            } else if (!add) {
              buckets.delete(d);
              live.delete(d);
            }
            expect(buckets.get(d) === undefined).toBe(!live.has(d));
            expect(buckets.nodeCount).toBeLessThanOrEqual(2 * live.size);
            // Now and then a walk, so that the tree (once built) lives through the history.
            if (d.length % 3 === 0) match(buckets, names, d, false);
          }
          for (const host of [...hosts, ...live]) {
            for (const isIp of [false, true]) {
              const expected = naive(live, host, isIp);
              found += expected.length;
              expect(match(buckets, names, host, isIp), `${host} in ${[...live].join(' ')}`).toEqual(
                expected,
              );
            }
          }
          for (const d of live) buckets.delete(d);
          expect(buckets.nodeCount).toBe(0);
          for (const host of hosts) expect(match(buckets, names, host, false)).toEqual([]);
        },
      ),
      { seed: 6265, numRuns: 3000 },
    );
    expect(found).toBeGreaterThan(5000);
  });

  it('builds its tree for the first host of many labels, a few nodes per domain however long', () => {
    const buckets = new DomainBuckets();
    const long = `${'a.'.repeat(5000)}example.com`;
    buckets.create(long);
    buckets.create('example.com');
    buckets.create('b.example.com');
    expect(buckets.nodeCount).toBe(0);
    expect(buckets.match(long, false, [])).toBe(1);
    expect(buckets.nodeCount).toBe(3);
    buckets.delete('b.example.com');
    expect(buckets.nodeCount).toBe(2);
  });
});
