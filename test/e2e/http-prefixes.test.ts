/**
 * The `__Http-` and `__Host-Http-` cookie prefixes (layered cookies 4.1.3.3-4) in a real browser: Debian's
 * Chromium (/usr/bin/chromium) driven by playwright-core, against a node:http server on 127.0.0.1 (a secure
 * context for Chromium, which keeps Secure cookies from http://127.0.0.1). It records what Chromium does with
 * (a) such a cookie set by a Set-Cookie header with Secure and HttpOnly, (b) one written by a script through
 * `document.cookie`, (c) one set by a Set-Cookie header without HttpOnly, beside unprefixed and `__Host-`
 * controls, and checks that Teller's jar (`teller/jar`) and codec give the same verdict on each. Issue 18 made
 * the session cookie's rename to `__Host-Http-sid` conditional on (a), (b) and (c). Skipped with a printed line
 * when Chromium is missing, except under CI.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSetCookie, serializeSetCookie } from '../../src/cookie/index.js';
import { CookieJar } from '../../src/jar/index.js';
import { close, listen } from '../adapters/helpers.js';
import { available } from '../support/demo.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH = { executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking'] };
const hasChromium = available(`Chromium at ${CHROMIUM}`, existsSync(CHROMIUM));

/** Set-Cookie lines the server answers `/set` with; each cookie's name says what it is. */
const HEADER_LINES = [
  // (a) Secure and HttpOnly: both prefixes satisfied.
  '__Host-Http-a=1; Secure; HttpOnly; Path=/',
  '__Http-a=1; Secure; HttpOnly; Path=/',
  '__http-lower=1; Secure; HttpOnly; Path=/',
  // (c) Without HttpOnly.
  '__Host-Http-c=1; Secure; Path=/',
  '__Http-c=1; Secure; Path=/',
  '__host-http-lower-c=1; Secure; Path=/',
  '__HTTP-upper-c=1; Secure; Path=/',
  // Without Secure (HttpOnly alone), and __Host-Http- with a Domain or without Path=/.
  '__Http-nosecure=1; HttpOnly; Path=/',
  '__Host-Http-nosecure=1; HttpOnly; Path=/',
  '__Host-Http-path=1; Secure; HttpOnly; Path=/set',
  // A Domain attribute naming the IP address itself: Chromium makes such a cookie host-only and keeps it,
  // with either __Host- prefix (RFC 6265bis 5.7 step 21.2 and the jar refuse it: see below).
  '__Host-Http-domain=1; Secure; HttpOnly; Path=/; Domain=127.0.0.1',
  '__Host-domain=1; Secure; Path=/; Domain=127.0.0.1',
  // Controls: the older prefix and an unprefixed cookie, with and without HttpOnly.
  '__Host-ctl=1; Secure; Path=/',
  'plain-ctl=1; Secure; HttpOnly; Path=/',
];

/** What the page's script writes through `document.cookie`. */
const SCRIPT_LINES = [
  // (b) A script cannot write a cookie HttpOnly; the prefixes say it was not written by one.
  '__Host-Http-b=1; Secure; Path=/',
  '__Http-b=1; Secure; Path=/',
  '__host-http-lower-b=1; Secure; Path=/',
  '__Host-Http-bh=1; Secure; HttpOnly; Path=/',
  // Controls: the older prefix and an unprefixed cookie from the same script.
  '__Host-script-ctl=1; Secure; Path=/',
  'script-ctl=1; Secure; Path=/',
];

/** The lines on which the jar (RFC 6265bis) and Chromium differ: a Domain attribute that is the IP address. */
const DIFFERENT = new Set(['__Host-Http-domain', '__Host-domain']);

function nameOf(line: string): string {
  return line.slice(0, line.indexOf('='));
}

describe.runIf(hasChromium)('the __Http- and __Host-Http- prefixes in Chromium', () => {
  let server: Server;
  let browser: Browser;
  let base = '';
  let context: BrowserContext;
  /** Cookie headers the server saw on `/echo`. */
  let echoed = '';
  /** What the browser kept, by name, once the header and the script both ran. */
  let kept: Map<string, { httpOnly: boolean; secure: boolean }>;
  /** `document.cookie` after both. */
  let scriptView = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/set') {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Set-Cookie': HEADER_LINES }).end('set');
        return;
      }
      if (req.url === '/echo') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(req.headers.cookie ?? '');
        return;
      }
      res
        .writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
        .end('<!doctype html><html lang="en"><title>t</title><p>prefixes</p>');
    });
    [base, browser] = await Promise.all([
      listen(server).then((port) => `http://127.0.0.1:${port}`),
      chromium.launch(LAUNCH),
    ]);
    context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/`);
    expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
    await page.goto(`${base}/set`);
    await page.goto(`${base}/`);
    await page.evaluate((lines) => {
      // biome-ignore lint/suspicious/noDocumentCookie: a script's cookie write is what is under test
      for (const line of lines) document.cookie = line;
    }, SCRIPT_LINES);
    scriptView = await page.evaluate(() => document.cookie);
    await page.goto(`${base}/echo`);
    echoed = (await page.textContent('body')) ?? '';
    kept = new Map(
      (await context.cookies()).map((c) => [c.name, { httpOnly: c.httpOnly, secure: c.secure }]),
    );
    console.info(
      `[http-prefixes] ${browser.version()}: kept ${[...kept.keys()].sort().join(', ')}; sent "${echoed}"`,
    );
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    if (server) await close(server);
  });

  const sent = (name: string) => echoed.split('; ').some((pair) => pair.startsWith(`${name}=`));

  it('(a) keeps and sends a __Host-Http- or __Http- cookie of a Set-Cookie header with Secure and HttpOnly', () => {
    for (const name of ['__Host-Http-a', '__Http-a', '__http-lower']) {
      expect(kept.get(name), name).toEqual({ httpOnly: true, secure: true });
      expect(sent(name), name).toBe(true);
      // HttpOnly: never shown to the script.
      expect(scriptView).not.toContain(`${name}=`);
    }
  });

  it("(b) refuses a script's document.cookie write of a __Host-Http- or __Http- cookie", () => {
    for (const name of ['__Host-Http-b', '__Http-b', '__host-http-lower-b', '__Host-Http-bh']) {
      expect(kept.has(name), name).toBe(false);
      expect(sent(name), name).toBe(false);
    }
    // The same script's other Secure cookies were kept: it is the prefix that refused them.
    expect(kept.get('__Host-script-ctl')).toEqual({ httpOnly: false, secure: true });
    expect(kept.get('script-ctl')).toEqual({ httpOnly: false, secure: true });
    expect(scriptView).toContain('__Host-script-ctl=1');
  });

  it('(c) refuses a Set-Cookie header of such a cookie without HttpOnly, case-insensitively', () => {
    for (const name of ['__Host-Http-c', '__Http-c', '__host-http-lower-c', '__HTTP-upper-c']) {
      expect(kept.has(name), name).toBe(false);
      expect(sent(name), name).toBe(false);
    }
    // ...and without Secure, or without Path=/ for __Host-Http-.
    for (const name of ['__Http-nosecure', '__Host-Http-nosecure', '__Host-Http-path']) {
      expect(kept.has(name), name).toBe(false);
    }
    // The same response's controls were kept.
    expect(kept.get('__Host-ctl')).toEqual({ httpOnly: false, secure: true });
    expect(kept.get('plain-ctl')).toEqual({ httpOnly: true, secure: true });
  });

  it('keeps a __Host- or __Host-Http- cookie whose Domain attribute is the IP address itself', () => {
    // Chromium makes it host-only; RFC 6265bis 5.7 step 21.2 (and the jar, and the codec) refuse any Domain
    // attribute on a __Host- cookie. A difference of the __Host- part, not of the HttpOnly part.
    expect(kept.get('__Host-Http-domain')).toEqual({ httpOnly: true, secure: true });
    expect(kept.get('__Host-domain')).toEqual({ httpOnly: false, secure: true });
  });

  it("gives the same verdict on every other line as Teller's jar (and the codec would write only those kept)", () => {
    // Chromium takes http://127.0.0.1 as a secure origin; the jar is told so with https.
    const url = 'https://127.0.0.1/';
    const now = Date.UTC(2026, 0, 1);
    const jar = new CookieJar();
    for (const [lines, http] of [
      [HEADER_LINES, true],
      [SCRIPT_LINES, false],
    ] as const) {
      for (const line of lines) {
        if (DIFFERENT.has(nameOf(line))) {
          expect(jar.setCookie(line, url, { now, http }), line).toBeUndefined();
          continue;
        }
        const stored = jar.setCookie(line, url, { now, http }) !== undefined;
        expect(stored, line).toBe(kept.has(nameOf(line)));
        if (!http) continue;
        // A server's own cookie: the codec writes it only when Chromium keeps it.
        const p = parseSetCookie(line, { now })!;
        const write = () =>
          serializeSetCookie({
            name: p.name,
            value: p.value,
            path: p.path,
            domain: p.domain,
            secure: p.secure,
            httpOnly: p.httpOnly,
          });
        if (kept.has(p.name)) expect(write, line).not.toThrow();
        else expect(write, line).toThrow(TypeError);
      }
    }
  });
});
