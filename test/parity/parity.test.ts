/**
 * Issue 18, the short differential run: `teller/jar` against Debian's Chromium (/usr/bin/chromium) on a few
 * hundred seeded scenarios (`npm run parity` is the long one). Prints each profile's agreement figures and
 * classes of difference. Asserts that the harness works (every request reached the server and was compared,
 * Chromium sent back the plain cookies the server set) and that no profile's agreement falls below a floor.
 * Skipped with a printed line when Chromium is missing, except under CI.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { available } from '../support/demo.js';
import { CHROMIUM, type Trace } from './browser.js';
import { report } from './compare.js';
import { runParity } from './harness.js';

const hasChromium = available(`Chromium at ${CHROMIUM}`, existsSync(CHROMIUM));

/** Scenarios asked for, and the time after which no new one starts (a loaded machine runs fewer). */
const SCENARIOS = 300;
const BUDGET_MS = 200_000;
/**
 * Fewer scenarios than this in the budget means the harness is broken, not slow. On the 2-core development
 * machine, shared with three other jobs (load average 10-15), 21 to 40 scenarios fit in 150 s; alone, a few
 * hundred.
 */
const MIN_SCENARIOS = 15;

/**
 * Floors of agreement, per profile, in percent: measured minus a margin, loose enough that the jar's Chromium
 * profile (issue 18, being built beside this harness) only raises them. Measured before the profile existed
 * (both profiles then behave as 'rfc'), Chromium 156: seed 18, 40 scenarios: set-equal 96.71%, order-equal
 * 84.72% (72 requests), store-equal 62.50%; 21 scenarios: 97.94%, 91.67%, 61.90%; seed 7, 200 scenarios:
 * 95.77%, 88.10%, 53.00%. The store floor is low because the partition key and the per-domain limits make
 * most stores differ until the CHIPS and profile work lands. The Chromium profile, once finished (Lax + POST,
 * invalid UTF-8 octets, `00:00:00Z`), measured 100.00% set-, order- and store-equal on seed 18 (150 scenarios,
 * 1,389 requests), seed 7 (100), seed 11 (150) and seed 23 (150): its floors guard that, with a margin of a few
 * scenarios.
 */
const FLOORS = {
  rfc: { setEqual: 90, orderEqual: 70, storeEqual: 35 },
  chromium: { setEqual: 99, orderEqual: 97, storeEqual: 95 },
} as const;

/**
 * A plain cookie (`name=value` of letters and digits, at most `Path=/` and a positive Max-Age) set by a
 * same-site top-level navigation must come back on every later same-site request to the same origin (and a
 * path it covers) until a line names it again or the browser restarts: the case where Chromium and every jar
 * agree, so a miss means the harness (server, host mapping, trace) is wrong.
 */
function plainCases(trace: Trace): { expected: number; sent: number } {
  let expected = 0;
  let sent = 0;
  if (trace.scenario.kind === 'limit' || trace.scenario.kind === 'total-limit') return { expected, sent };
  const events = trace.events;
  for (let i = 0; i < events.length; i++) {
    const set = events[i]!;
    if (set.type !== 'request' || !set.context.topLevelNavigation || !set.delivered) continue;
    if (set.context.sameSiteContext !== 'same-site') continue;
    for (const line of set.lines) {
      const m = /^([a-z_]+)=([A-Za-z0-9.]+)(; Path=\/)?(; Max-Age=[1-9]\d*)?$/.exec(line);
      if (m === null) continue;
      const name = m[1]!;
      const touches = (l: string) => l.includes(name);
      // Another line of the same response naming it could change the answer.
      if (set.lines.filter(touches).length > 1) continue;
      const origin = new URL(set.url).origin;
      const path = m[3] === undefined ? new URL(set.url).pathname : '/';
      for (let j = i + 1; j < events.length; j++) {
        const e = events[j]!;
        if (e.type === 'restart') break;
        if (e.type !== 'request') continue;
        const url = new URL(e.url);
        if (url.origin === origin && e.context.sameSiteContext === 'same-site' && url.pathname === path) {
          expected++;
          if ((e.cookie ?? '').split('; ').includes(`${name}=${m[2]}`)) sent++;
        }
        if (e.lines.some(touches)) break;
      }
    }
  }
  return { expected, sent };
}

describe.runIf(hasChromium)('teller/jar against Chromium: the short differential run (issue 18)', () => {
  it(
    `agrees with Chromium on ${SCENARIOS} generated scenarios, per profile, at least as well as measured`,
    async () => {
      let expected = 0;
      let sent = 0;
      const result = await runParity({
        scenarios: SCENARIOS,
        seed: 18,
        profiles: ['rfc', 'chromium'],
        deadline: Date.now() + BUDGET_MS,
        onTrace: (trace) => {
          const p = plainCases(trace);
          expected += p.expected;
          sent += p.sent;
        },
      });
      console.log(
        `[parity] ${result.ran} of ${SCENARIOS} scenarios (seed 18) in the time budget; ${result.errors.length} failed steps, ` +
          `${result.stray} stray requests, ${result.launches} browser launches; plain cookies sent back ${sent}/${expected}`,
      );
      for (const [profile, tally] of result.tallies) console.log(`[parity] ${report(profile, tally, false)}`);

      // The harness works.
      expect(result.ran).toBeGreaterThanOrEqual(MIN_SCENARIOS);
      expect(result.errors).toEqual([]);
      expect(result.stray).toBe(0);
      expect(result.dropped).toBe(0);
      expect(expected).toBeGreaterThanOrEqual(5);
      expect(sent).toBe(expected);
      for (const [profile, tally] of result.tallies) {
        expect(tally.scenarios).toBe(result.ran);
        expect(tally.missing).toBe(0);
        expect(tally.requests).toBeGreaterThan(result.ran);
        // The agreement floors.
        const floor = FLOORS[profile];
        expect((100 * tally.setEqual) / tally.requests).toBeGreaterThanOrEqual(floor.setEqual);
        expect((100 * tally.orderEqual) / tally.orderEligible).toBeGreaterThanOrEqual(floor.orderEqual);
        expect((100 * tally.storesEqual) / tally.stores).toBeGreaterThanOrEqual(floor.storeEqual);
      }
    },
    BUDGET_MS + 90_000,
  );
});
