/**
 * The jar against external conformance data (../shared/conformance, see its README): the IETF
 * http-state parser cases with the RFC 6265bis deltas applied, and the three web-platform-tests files.
 * Every case runs on a fresh jar with the fixed clock 2026-01-01T00:00:00Z. A case that fails must be
 * listed in test/support/conformance.ts with the RFC 6265bis section that justifies Teller's different
 * answer; the suite fails when a listed case passes or an unlisted one fails.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CookieJar } from '../../src/jar/index.js';
import {
  type ExpectedFailures,
  WPT_CASES_EXPECTED_FAILURES,
  WPT_HTTP_STATE_EXPECTED_FAILURES,
} from '../support/conformance.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const CONFORMANCE = path.resolve(process.cwd(), '../shared/conformance');

function load<T>(file: string): T {
  return JSON.parse(readFileSync(path.join(CONFORMANCE, file), 'utf8')) as T;
}

/**
 * Compares outcomes with the expected-failure list and prints `label: passed/total`. Fails when a
 * listed case passes or an unlisted case fails.
 */
function judge(label: string, outcomes: Map<string, string | undefined>, expected: ExpectedFailures): void {
  const failing = [...outcomes].filter(([, failure]) => failure !== undefined);
  const passed = outcomes.size - failing.length;
  const listed = Object.keys(expected).length;
  console.log(
    `${label}: ${passed}/${outcomes.size}` +
      (listed > 0 ? ` (${listed} expected failures, each justified by RFC 6265bis)` : ''),
  );
  const unexpected = failing.filter(([id]) => !(id in expected)).map(([id, why]) => `${id}: ${why}`);
  const nowPassing = Object.keys(expected).filter((id) => outcomes.get(id) === undefined);
  expect(unexpected, 'cases failing that are not in the expected-failure list').toEqual([]);
  expect(nowPassing, 'listed expected failures that pass (or no longer exist): remove them').toEqual([]);
}

function mismatch(actual: string, expected: string): string | undefined {
  return actual === expected
    ? undefined
    : `got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`;
}

interface ParserCase {
  test: string;
  received: string[];
  sent: Array<{ name: string; value: string }>;
  'sent-to'?: string;
}
interface DeltaCase extends ParserCase {
  sent6265bis: Array<{ name: string; value: string }>;
  reason: string;
}

describe('IETF http-state parser cases (ietf/parser.json with parser-6265bis-deltas.json)', () => {
  const cases = load<ParserCase[]>('ietf/parser.json');
  const deltas = new Map(
    load<{ cases: DeltaCase[] }>('ietf/parser-6265bis-deltas.json').cases.map((c) => [c.test, c]),
  );

  it('has 222 cases and 27 deltas', () => {
    expect(cases).toHaveLength(222);
    expect(deltas.size).toBe(27);
  });

  it('passes every case, following RFC 6265bis where the 2011 expectation changed', () => {
    const outcomes = new Map<string, string | undefined>();
    for (const c of cases) {
      const jar = new CookieJar();
      const from = `http://home.example.org/cookie-parser?${c.test}`;
      for (const line of c.received) jar.setCookie(line, from, { now: NOW });
      const to = new URL(c['sent-to'] ?? `/cookie-parser-result?${c.test}`, 'http://home.example.org/');
      const sent = jar.getCookies(to, { now: NOW }).map(({ name, value }) => ({ name, value }));
      const expected = deltas.get(c.test)?.sent6265bis ?? c.sent;
      const ok = JSON.stringify(sent) === JSON.stringify(expected);
      outcomes.set(
        c.test,
        ok ? undefined : `sent ${JSON.stringify(sent)}, expected ${JSON.stringify(expected)}`,
      );
    }
    judge('ietf parser', outcomes, {});
  });
});

interface WptCase {
  id: string;
  name: string;
  setCookies: string[];
  url: string;
  setApi: 'http' | 'non-http';
  readUrl: string;
  readApi: 'http' | 'non-http';
  expectedCookieHeader: string;
  notes?: string;
  conflictsWith6265bis?: boolean;
  transportDependent?: boolean;
}

describe('web-platform-tests cookies/ (wpt/wpt-cookies-cases.json)', () => {
  const data = load<{ total: number; cases: WptCase[] }>('wpt/wpt-cookies-cases.json');

  it('lists as expected failures exactly the cases where RFC 6265bis answers differently', () => {
    expect(data.cases).toHaveLength(data.total);
    const outcomes = new Map<string, string | undefined>();
    for (const c of data.cases) {
      const jar = new CookieJar();
      for (const raw of c.setCookies) {
        // Over HTTP a raw LF ends the header line: a header-level jar receives only what precedes it
        // (the case's notes say so; without this, 5.6 step 1 ignores the whole line).
        const line = c.transportDependent && c.setApi === 'http' ? raw.split('\n')[0]! : raw;
        jar.setCookie(line, c.url, { now: NOW, http: c.setApi === 'http' });
      }
      const header = jar.getCookieHeader(c.readUrl, { now: NOW, http: c.readApi === 'http' });
      outcomes.set(c.id, mismatch(header, c.expectedCookieHeader));
    }
    for (const id of Object.keys(WPT_CASES_EXPECTED_FAILURES)) {
      expect(data.cases.find((c) => c.id === id)?.conflictsWith6265bis, id).toBe(true);
    }
    judge('wpt cookies', outcomes, WPT_CASES_EXPECTED_FAILURES);
  });
});

interface RecentStep {
  setCookie?: string;
  url?: string;
  api?: 'http' | 'non-http';
  check?: { url: string; api: 'http' | 'non-http'; expected: string };
}

/*
 * wpt-recent-cases.json has no expected failures. Its two `__Host-` cases with an empty or valueless
 * Path attribute (prefix/__host.explicit-path.https.window.js#5 and #6) follow the successor draft
 * (layered cookies): RFC 6265bis 5.7 step 21.3 would accept them, as the attribute is present and the
 * default-path is "/". The codec reports such a Path as absent, so the jar refuses them, the stricter
 * answer that browsers give too (see checkPrefixes in src/jar/storage.ts).
 */
describe('web-platform-tests, recent files (wpt/wpt-recent-cases.json)', () => {
  const data = load<{ total: number; cases: Array<{ id: string; steps: RecentStep[] }> }>(
    'wpt/wpt-recent-cases.json',
  );

  it('runs every step of every case', () => {
    expect(data.cases).toHaveLength(data.total);
    const outcomes = new Map<string, string | undefined>();
    for (const c of data.cases) {
      const jar = new CookieJar();
      let failure: string | undefined;
      let checks = 0;
      for (const step of c.steps) {
        if (step.check !== undefined) {
          checks++;
          const header = jar.getCookieHeader(step.check.url, { now: NOW, http: step.check.api === 'http' });
          failure ??= mismatch(header, step.check.expected);
        } else if (step.setCookie !== undefined && step.url !== undefined) {
          jar.setCookie(step.setCookie, step.url, { now: NOW, http: step.api === 'http' });
        }
      }
      outcomes.set(c.id, checks === 0 ? 'no check step' : failure);
    }
    judge('wpt recent', outcomes, {});
  });
});

describe('web-platform-tests http-state copy (wpt/wpt-http-state-2021.json)', () => {
  const data = load<{
    count: number;
    cases: Array<{ test: string; received: string[]; expectedCookieHeader: string; location?: string }>;
  }>('wpt/wpt-http-state-2021.json');

  it('passes every case', () => {
    expect(data.cases).toHaveLength(data.count);
    const outcomes = new Map<string, string | undefined>();
    for (const c of data.cases) {
      const jar = new CookieJar();
      const from = `http://home.example.org:8888/cookie-parser?${c.test}`;
      for (const line of c.received) jar.setCookie(line, from, { now: NOW });
      const to = new URL(c.location ?? `/cookie-parser-result?${c.test}`, 'http://home.example.org:8888/');
      outcomes.set(c.test, mismatch(jar.getCookieHeader(to, { now: NOW }), c.expectedCookieHeader));
    }
    judge('wpt http-state', outcomes, WPT_HTTP_STATE_EXPECTED_FAILURES);
  });
});
