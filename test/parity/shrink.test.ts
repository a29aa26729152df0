/**
 * Example shrinking (test/parity/shrink.ts) without a browser: a stand-in for Chromium that answers as the
 * jar's Chromium profile does, except that after a response carrying the line `magic=1` it also sends
 * `extra=1` (a difference of the class "Chromium sends, jar does not: no line found"). Shrinking must keep
 * what that difference needs (the step carrying the line and one request after it) and drop the rest.
 */
import { describe, expect, it } from 'vitest';
import { CookieJar } from '../../src/jar/index.js';
import type { ParityBrowser, Trace, TraceEvent } from './browser.js';
import { compareTrace, emptyTally } from './compare.js';
import type { RequestStep, Scenario } from './generator.js';
import { shrinkExample } from './shrink.js';

const NOW = Date.UTC(2026, 11, 2, 12);
const CLASS = 'header: Chromium sends, jar does not: no line found';

function fakeChromium(): { browser: ParityBrowser; runs: () => number } {
  let runs = 0;
  const browser = {
    async run(scenario: Scenario): Promise<Trace> {
      runs++;
      const jar = new CookieJar({ profile: 'chromium' });
      const events: TraceEvent[] = [];
      let magic = false;
      scenario.steps.forEach((step, i) => {
        if (step.kind !== 'request') return;
        const url = `${step.scheme}://${step.host}${step.path}?__t=t${i}`;
        const context = { sameSiteContext: 'same-site', topLevelNavigation: true, method: 'GET' } as const;
        const at = NOW + i * 1000;
        let cookie = jar.getCookieHeader(url, { ...context, now: at, octets: true });
        if (magic) cookie = cookie === '' ? 'extra=1' : `${cookie}; extra=1`;
        events.push({
          type: 'request',
          step: i,
          role: 'target',
          url,
          context,
          lines: step.lines,
          cookie,
          at,
          delivered: true,
        });
        for (const line of step.lines) {
          jar.setCookie(line, url, { ...context, now: at, octets: true });
          if (line === 'magic=1') magic = true;
        }
      });
      const store = jar.getAllCookies({ now: NOW + 100_000 }).map((c) => ({
        name: c.name,
        value: c.value,
        domain: c.hostOnly ? c.domain : `.${c.domain}`,
        path: c.path,
        expires: c.expires === undefined ? -1 : c.expires.getTime() / 1000,
        session: c.expires === undefined,
        secure: c.secure,
        httpOnly: c.httpOnly,
      }));
      return { scenario, events, store, storeAt: NOW + 100_000, errors: [] };
    },
  } as unknown as ParityBrowser;
  return { browser, runs: () => runs };
}

const nav = (path: string, lines: string[]): RequestStep => ({
  kind: 'request',
  scheme: 'https',
  host: 'www.example.com',
  path,
  method: 'GET',
  context: 'navigate',
  lines,
});

describe('parity example shrinking', () => {
  it('keeps the line and the request that show the class, drops every other step and line, within its bound', async () => {
    const scenario: Scenario = {
      id: 3,
      kind: 'random',
      steps: [
        nav('/', ['a=1', 'b=2; Path=/']),
        nav('/x', ['c=3', 'magic=1', 'd=4']),
        { kind: 'restart' },
        nav('/', []),
        nav('/y', ['e=5']),
        nav('/z', []),
      ],
    };
    const { browser, runs } = fakeChromium();
    const tally = emptyTally();
    compareTrace(await browser.run(scenario), 'chromium', tally);
    const example = tally.differences.get(CLASS)?.example;
    expect(example).toBeDefined();
    const shrunk = await shrinkExample(browser, 'chromium', CLASS, example!);
    expect(shrunk.example.scenario.steps).toEqual([nav('/x', ['magic=1']), nav('/', [])]);
    expect(shrunk.example.class).toBe(CLASS);
    expect(shrunk.runs).toBe(runs() - 1);
    expect(shrunk.runs).toBeLessThanOrEqual(30);

    // The bound holds: two runs only, then the example as far as it got.
    const bounded = await shrinkExample(browser, 'chromium', CLASS, example!, 2);
    expect(bounded.runs).toBe(2);
    expect(bounded.example.scenario.steps.length).toBe(scenario.steps.length - 2);
  });

  it('leaves a limit scenario as it is', async () => {
    const { browser, runs } = fakeChromium();
    const scenario: Scenario = { id: 1, kind: 'limit', steps: [nav('/', ['x=1'])] };
    const example = { class: CLASS, scenario, size: 3, detail: '' };
    const shrunk = await shrinkExample(browser, 'chromium', CLASS, example);
    expect(shrunk).toEqual({ example, runs: 0 });
    expect(runs()).toBe(0);
  });
});
