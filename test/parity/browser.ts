/**
 * The differential test's browser side: Debian's Chromium driven by playwright-core, one persistent profile
 * for the whole run (a restart step closes it and launches it again on the same directory: persistent
 * cookies stay, session cookies go), every host name mapped to the loopback server by
 * `--host-resolver-rules`, certificate errors ignored. Cookies are cleared between scenarios.
 *
 * Third-party cookies: this Chromium blocks them by default in a fresh profile (a `SameSite=None; Secure`
 * cookie set by a cross-site fetch is refused, a `Partitioned` one kept), a user setting rather than a cookie
 * rule; the jar has no such setting, so the profile is written with `cookie_controls_mode: 0` (allow), the
 * setting of a browser that has not opted into blocking.
 *
 * A run of a scenario gives a trace: each request the scenario made (the page loads it needed too), with the
 * jar options that describe its context, the Set-Cookie lines served and the Cookie header Chromium sent,
 * `document.cookie` reads, restarts, and Chromium's whole store at the end (`Storage.getCookies`).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core';
import { getDomain } from 'tldts';
import type { RequestStep, Scenario, Scheme } from './generator.js';
import type { ParityServer } from './server.js';

export const CHROMIUM = '/usr/bin/chromium';

/** The jar options a browser would give for a request (the agreed interface of issue 18). */
export interface JarContext {
  sameSiteContext: 'same-site' | 'cross-site';
  topLevelNavigation: boolean;
  method: string;
  /** The top-level document's origin, for a subresource (the partition key's source). */
  topLevelSite?: string;
}

export interface TracedRequest {
  type: 'request';
  /** The index of the scenario step it belongs to. */
  step: number;
  /** A page load the step needed (no lines), or the step's own request. */
  role: 'page' | 'target';
  url: string;
  context: JarContext;
  lines: readonly string[];
  /** The Cookie header Chromium sent, octets; undefined when the request never reached the server. */
  cookie: string | undefined;
  at: number;
  /** The response was delivered (the navigation or fetch finished without an error). */
  delivered: boolean;
}

export interface TracedScript {
  type: 'script';
  step: number;
  url: string;
  /** What `document.cookie` returned. */
  value: string;
  at: number;
}

export interface TracedRestart {
  type: 'restart';
  step: number;
  at: number;
}

export type TraceEvent = TracedRequest | TracedScript | TracedRestart;

/** A cookie of Chromium's store, as `Storage.getCookies` reports it. */
export interface ChromiumCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  /** Seconds since the epoch; -1 for a session cookie. */
  expires: number;
  session: boolean;
  secure: boolean;
  httpOnly: boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
  priority?: string;
  partitionKey?: { topLevelSite: string; hasCrossSiteAncestor: boolean } | string;
}

export interface Trace {
  scenario: Scenario;
  events: TraceEvent[];
  store: ChromiumCookie[];
  storeAt: number;
  errors: string[];
}

/** The site of an origin (schemeful: scheme plus registrable domain, or the host without one). */
export function siteOf(scheme: Scheme, host: string): string {
  return `${scheme}://${getDomain(host) ?? host}`;
}

const STEP_TIMEOUT = 15_000;

export class ParityBrowser {
  readonly #server: ParityServer;
  readonly #dir: string;
  #context: BrowserContext | undefined;
  #page: Page | undefined;
  #cdp: CDPSession | undefined;
  launches = 0;

  constructor(server: ParityServer) {
    this.#server = server;
    this.#dir = mkdtempSync(join(tmpdir(), 'teller-parity-profile-'));
    mkdirSync(join(this.#dir, 'Default'), { recursive: true });
    writeFileSync(
      join(this.#dir, 'Default', 'Preferences'),
      JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }),
    );
  }

  async launch(): Promise<void> {
    this.launches++;
    this.#context = await chromium.launchPersistentContext(this.#dir, {
      executablePath: CHROMIUM,
      headless: true,
      ignoreHTTPSErrors: true,
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--host-resolver-rules=MAP * 127.0.0.1',
        '--ignore-certificate-errors',
      ],
    });
    this.#page = this.#context.pages()[0] ?? (await this.#context.newPage());
    this.#page.setDefaultTimeout(STEP_TIMEOUT);
    this.#cdp = await this.#context.newCDPSession(this.#page);
  }

  async close(): Promise<void> {
    await this.#context?.close().catch(() => {});
    this.#context = undefined;
  }

  async dispose(): Promise<void> {
    await this.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #origin(scheme: Scheme, host: string): string {
    return `${scheme}://${host}:${scheme === 'https' ? this.#server.httpsPort : this.#server.httpPort}`;
  }

  /** Runs a scenario from an empty store; the trace of what Chromium did. */
  async run(scenario: Scenario): Promise<Trace> {
    if (this.#context === undefined) await this.launch();
    await this.#context!.clearCookies();
    const events: TraceEvent[] = [];
    const errors: string[] = [];
    const tokens: string[] = [];
    for (let i = 0; i < scenario.steps.length; i++) {
      const step = scenario.steps[i]!;
      if (step.kind === 'restart') {
        await this.close();
        events.push({ type: 'restart', step: i, at: Date.now() });
        await this.launch();
        continue;
      }
      try {
        await this.#request(step, i, events, tokens);
      } catch (error) {
        errors.push(`step ${i}: ${String(error).split('\n')[0]}`);
        if (this.#context === undefined || this.#page?.isClosed()) await this.launch();
        // Whatever was half done (a navigation to an error page) must not interrupt the next step.
        else await this.#page?.goto('about:blank').catch(() => {});
      }
    }
    // Arrival data: the Cookie header each request carried.
    for (const e of events) {
      if (e.type !== 'request') continue;
      const token = /[?&]__t=([a-z0-9]+)/.exec(e.url)![1]!;
      const arrived = this.#server.arrivals(token);
      if (arrived.length > 0) {
        e.cookie = arrived[0]!.cookie;
        e.at = arrived[0]!.at;
      }
      if (arrived.length > 1) errors.push(`step ${e.step}: ${arrived.length} arrivals of one request`);
    }
    this.#server.forget(tokens);
    const storeAt = Date.now();
    const { cookies } = (await this.#cdp!.send('Storage.getCookies' as 'Network.getAllCookies')) as {
      cookies: ChromiumCookie[];
    };
    return { scenario, events, store: cookies, storeAt, errors };
  }

  async #request(step: RequestStep, index: number, events: TraceEvent[], tokens: string[]): Promise<void> {
    const page = this.#page!;
    const origin = this.#origin(step.scheme, step.host);
    const trace = (role: 'page' | 'target', url: string, lines: readonly string[], context: JarContext) => {
      const event: TracedRequest = {
        type: 'request',
        step: index,
        role,
        url,
        context,
        lines,
        cookie: undefined,
        at: Date.now(),
        delivered: false,
      };
      events.push(event);
      return event;
    };
    const url = (o: string, path: string, lines: readonly string[]) => {
      const token = this.#server.register({ lines });
      tokens.push(token);
      return `${o}${path}?__t=${token}`;
    };
    const nav: JarContext = { sameSiteContext: 'same-site', topLevelNavigation: true, method: 'GET' };

    if (step.context === 'navigate' || step.context === 'script') {
      const target = url(origin, step.path, step.lines);
      const event = trace('target', target, step.lines, nav);
      await page.goto(target, { waitUntil: step.context === 'script' ? 'domcontentloaded' : 'commit' });
      event.delivered = true;
      if (step.context === 'script') {
        const value = await page.evaluate(() => document.cookie);
        events.push({ type: 'script', step: index, url: target, value, at: Date.now() });
      }
      return;
    }
    if (step.context === 'fetch') {
      const pageUrl = url(origin, step.path, []);
      const pageEvent = trace('page', pageUrl, [], nav);
      await page.goto(pageUrl, { waitUntil: 'domcontentloaded' });
      pageEvent.delivered = true;
      const target = url(origin, step.path, step.lines);
      const event = trace('target', target, step.lines, {
        sameSiteContext: 'same-site',
        topLevelNavigation: false,
        method: step.method,
        topLevelSite: origin,
      });
      await page.evaluate(
        async ([u, method]) => {
          await (await fetch(u!, { method, credentials: 'same-origin' })).text();
        },
        [target, step.method],
      );
      event.delivered = true;
      return;
    }
    // A page on another origin (often another site) calls the URL.
    const from = step.page!;
    const pageOrigin = this.#origin(from.scheme, from.host);
    const pageUrl = url(pageOrigin, '/', []);
    const pageEvent = trace('page', pageUrl, [], nav);
    await page.goto(pageUrl, { waitUntil: 'domcontentloaded' });
    pageEvent.delivered = true;
    const sameSite = siteOf(from.scheme, from.host) === siteOf(step.scheme, step.host);
    const sameSiteContext = sameSite ? 'same-site' : 'cross-site';
    const target = url(origin, step.path, step.lines);
    if (step.context === 'subresource') {
      const event = trace('target', target, step.lines, {
        sameSiteContext,
        topLevelNavigation: false,
        method: 'GET',
        topLevelSite: pageOrigin,
      });
      await page.evaluate(async (u) => {
        await (await fetch(u, { credentials: 'include', mode: 'no-cors' })).text();
      }, target);
      event.delivered = true;
      return;
    }
    const event = trace('target', target, step.lines, {
      sameSiteContext,
      topLevelNavigation: true,
      method: 'POST',
    });
    const token = target.slice(target.indexOf('__t=') + 4);
    await Promise.all([
      page.waitForURL((u) => u.searchParams.get('__t') === token, { waitUntil: 'load' }),
      page.evaluate((u) => {
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = u;
        const field = document.createElement('input');
        field.name = 'f';
        field.value = '1';
        form.append(field);
        document.body.append(form);
        form.submit();
      }, target),
    ]);
    event.delivered = true;
  }
}
