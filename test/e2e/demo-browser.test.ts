/**
 * The demo in a real browser: Debian's Chromium (/usr/bin/chromium) driven by playwright-core, against the
 * demo started as a child process with its own SQLite file. Login, cart and logout; simultaneous withdrawals
 * (two users, and one user in two tabs) all counting; a browser restart keeping the remembered login and
 * dropping the session-only one; revoking from one browser logging the other out; a tampered cookie getting
 * a fresh session; the cookie as Chromium stores it; axe on every page, and a 375 px wide screenshot of each
 * (test-results/screenshots/, git-ignored). Skipped with a printed line when Chromium is missing, except
 * under CI.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopApps } from '../support/app-server.js';
import { available, DEMO_PASSWORDS, type Demo, PAGES, startDemo, tokenOf } from '../support/demo.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH = { executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking'] };
const SCREENSHOTS = join(process.cwd(), 'test-results', 'screenshots');
const hasChromium = available(`Chromium at ${CHROMIUM}`, existsSync(CHROMIUM));

describe.runIf(hasChromium)('the demo in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'teller-demo-browser-'));
  let demo: Demo;
  let browser: Browser;

  beforeAll(async () => {
    [demo, browser] = await Promise.all([
      startDemo({ TELLER_STORE: `sqlite:${join(dir, 'demo.db')}` }),
      chromium.launch(LAUNCH),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    if (demo) await stopApps([demo]);
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (path: string) => `${demo.base}${path}`;

  async function login(page: Page, user: keyof typeof DEMO_PASSWORDS, remember = false) {
    await page.goto(url('/login'));
    await page.getByLabel('User').fill(user);
    await page.getByLabel('Password').fill(DEMO_PASSWORDS[user]);
    if (remember) await page.getByLabel(/Remember me/).check();
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(url('/'));
    expect(await page.locator('#user').textContent()).toBe(user);
  }

  /** Logs in through the login form's HTTP exchange, on the context's cookies (faster than the form's UI). */
  async function quickLogin(context: BrowserContext, user: keyof typeof DEMO_PASSWORDS, base = demo.base) {
    const csrf = tokenOf(await (await context.request.get(`${base}/login`)).text());
    const form = { csrf, user, password: DEMO_PASSWORDS[user] };
    expect((await context.request.post(`${base}/login`, { form, maxRedirects: 0 })).status()).toBe(303);
  }

  async function balance(page: Page): Promise<number> {
    await page.goto(url('/bank'));
    return Number((await page.locator('#balance').textContent())?.replace(/[$,]/g, ''));
  }

  /** Clicks "Withdraw" on every page at the same moment; resolves when each landed on its answer. */
  async function withdrawTogether(pages: Page[]) {
    await Promise.all(pages.map((page) => page.goto(url('/bank'))));
    await Promise.all(
      pages.map((page) =>
        Promise.all([
          page.waitForURL(/\/bank\?notice=withdrew$/),
          page.getByRole('button', { name: /Withdraw/ }).click(),
        ]),
      ),
    );
  }

  async function newContext(): Promise<BrowserContext> {
    return browser.newContext({ viewport: { width: 375, height: 800 } });
  }

  it('logs in and out, keeping the cart filled before login; the cookie is __Host-Http-, Secure, HttpOnly', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(url('/'));
    expect(await page.locator('#status').textContent()).toContain('not logged in');
    await page.goto(url('/cart'));
    await page.getByRole('button', { name: 'Add Green tea' }).click();
    await page.getByRole('button', { name: 'Add Mug' }).click();
    await page.waitForURL(url('/cart'));
    expect(await page.locator('#cart li').allTextContents()).toEqual(['Green tea', 'Mug']);

    await login(page, 'chuck');
    await page.goto(url('/cart'));
    expect(await page.locator('#cart li').allTextContents()).toEqual(['Green tea', 'Mug']);

    const [sid] = (await context.cookies()).filter((c) => c.name.endsWith('sid'));
    expect(sid).toMatchObject({
      name: '__Host-Http-sid',
      secure: true,
      httpOnly: true,
      path: '/',
      sameSite: 'Lax',
    });
    expect(sid?.domain).toBe('127.0.0.1');
    expect(sid?.expires).toBe(-1); // no "remember me": a session cookie

    await page.goto(url('/logout'));
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(url('/'));
    expect(await page.locator('#status').textContent()).toContain('not logged in');
    expect((await context.cookies()).some((c) => c.name === '__Host-Http-sid')).toBe(false);
    await page.goto(url('/cart'));
    expect(await page.locator('#cart-empty').count()).toBe(1);
    await context.close();
  });

  it('two users withdrawing at the same moment: each balance changes by its own withdrawal only', async () => {
    const [chuck, jan] = await Promise.all([newContext(), newContext()]);
    await Promise.all([quickLogin(chuck, 'chuck'), quickLogin(jan, 'jan')]);
    const [c, j] = await Promise.all([chuck.newPage(), jan.newPage()]);
    const [c0, j0] = [await balance(c), await balance(j)];
    await withdrawTogether([c, j]);
    expect([await balance(c), await balance(j)]).toEqual([c0 - 100, j0 - 100]);
    await Promise.all([chuck.close(), jan.close()]);
  });

  it('one user in two tabs and on a second device, withdrawing at the same moment: every withdrawal counts', async () => {
    const [laptop, phone] = await Promise.all([newContext(), newContext()]);
    await Promise.all([quickLogin(laptop, 'chuck'), quickLogin(phone, 'chuck')]);
    const [tab1, tab2, other] = await Promise.all([laptop.newPage(), laptop.newPage(), phone.newPage()]);
    const before = await balance(tab1);
    await withdrawTogether([tab1, tab2, other]);
    expect(await balance(tab2)).toBe(before - 300);
    await Promise.all([laptop.close(), phone.close()]);
  });

  it('revoking from one browser logs the other out', async () => {
    const [a, b] = await Promise.all([newContext(), newContext()]);
    await Promise.all([quickLogin(a, 'jan'), quickLogin(b, 'jan')]);
    const [pa, pb] = await Promise.all([a.newPage(), b.newPage()]);
    await pa.goto(url('/sessions'));
    expect(await pa.locator('#sessions tbody tr').count()).toBeGreaterThanOrEqual(2);
    await pa.getByRole('button', { name: 'Log out all other devices' }).click();
    await pa.waitForURL(/\/sessions\?ended=\d+$/);
    expect(await pa.locator('#notice').textContent()).toMatch(/Ended [1-9]\d* session/);
    await pb.goto(url('/'));
    expect(await pb.locator('#status').textContent()).toContain('not logged in');
    await pa.goto(url('/'));
    expect(await pa.locator('#user').textContent()).toBe('jan');
    await Promise.all([a.close(), b.close()]);
  });

  it('revoking one device by its row logs that device out', async () => {
    const [a, b] = await Promise.all([newContext(), newContext()]);
    await quickLogin(a, 'chuck');
    const pa = await a.newPage();
    // Only this device first (earlier tests left sessions of chuck), then the second one logs in.
    await pa.goto(url('/sessions'));
    await pa.getByRole('button', { name: 'Log out all other devices' }).click();
    await pa.waitForURL(/\/sessions\?ended=\d+$/);
    await quickLogin(b, 'chuck');
    await pa.goto(url('/sessions'));
    const others = pa.locator('#sessions tbody tr:not(.current)');
    expect(await others.count()).toBe(1);
    await others.getByRole('button', { name: 'Revoke' }).click();
    await pa.waitForURL(/\/sessions\?ended=1$/);
    expect(await others.count()).toBe(0);
    const pb = await b.newPage();
    await pb.goto(url('/'));
    expect(await pb.locator('#status').textContent()).toContain('not logged in');
    await Promise.all([a.close(), b.close()]);
  });

  it('a tampered cookie gets a fresh session', async () => {
    const context = await newContext();
    await quickLogin(context, 'jan');
    const page = await context.newPage();
    const sid = (await context.cookies()).find((c) => c.name === '__Host-Http-sid')!;
    const last = sid.value.at(-1) === 'A' ? 'B' : 'A';
    // Put back as the server set it: Chromium keeps a `domain` without a leading dot host-only.
    const tampered = `${sid.value.slice(0, -1)}${last}`;
    const { name, domain, path, secure, httpOnly, sameSite } = sid;
    await context.addCookies([{ name, value: tampered, domain, path, secure, httpOnly, sameSite }]);
    const stored = (await context.cookies()).filter((c) => c.name === '__Host-Http-sid');
    expect(stored.map((c) => c.value)).toEqual([tampered]);
    await page.goto(url('/inspector'));
    expect(await page.locator('#steps').textContent()).toContain('the cookie named no live session');
    await page.goto(url('/'));
    expect(await page.locator('#status').textContent()).toContain('not logged in');
    await context.close();
  });

  it('a browser restart keeps the remembered login and drops the session-only one', async () => {
    // One profile, two sites of the same server: 127.0.0.1 remembered, localhost for this browser session only.
    const profile = join(dir, 'profile');
    const other = demo.base.replace('127.0.0.1', 'localhost');
    const first = await chromium.launchPersistentContext(profile, LAUNCH);
    await login(first.pages()[0] ?? (await first.newPage()), 'chuck', true);
    await quickLogin(first, 'jan', other);
    const cookies = await first.cookies();
    const sid = (domain: string) => cookies.find((c) => c.name === '__Host-Http-sid' && c.domain === domain);
    expect(sid('127.0.0.1')?.expires).toBeGreaterThan(Date.now() / 1000 + 29 * 24 * 3600);
    expect(sid('localhost')?.expires).toBe(-1);
    await first.close();

    const again = await chromium.launchPersistentContext(profile, LAUNCH);
    const page = again.pages()[0] ?? (await again.newPage());
    await page.goto(url('/'));
    expect(await page.locator('#user').textContent()).toBe('chuck');
    await page.goto(`${other}/`);
    expect(await page.locator('#status').textContent()).toContain('not logged in');
    await again.close();
  }, 60_000);

  it('every page has no axe violations, anonymous and logged in; a 375 px screenshot of each', async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const [anonymous, chuck] = await Promise.all([newContext(), newContext()]);
    await quickLogin(chuck, 'chuck');
    const csrf = tokenOf(await (await chuck.request.get(url('/cart'))).text());
    await chuck.request.post(url('/cart'), { form: { csrf, item: 'mug' }, maxRedirects: 0 });
    /** One page: axe, then the screenshot; the pages run side by side (each in a tab of its own). */
    const check = async (context: BrowserContext, state: string, path: string) => {
      const page = await context.newPage();
      await page.goto(url(path));
      const { violations } = await new AxeBuilder({ page }).analyze();
      const name = path === '/' ? 'home' : path.slice(1);
      await page.screenshot({ path: join(SCREENSHOTS, `${state}-${name}.png`), fullPage: true });
      await page.close();
      return violations.map((v) => `${state} ${path}: ${v.id} (${v.nodes.length}) ${v.help}`);
    };
    // Anonymous, the pages that differ most (the others say "log in"); logged in with a full cart, all of them.
    const found = await Promise.all([
      ...['/', '/login'].map((path) => check(anonymous, 'anonymous', path)),
      ...PAGES.map((path) => check(chuck, 'chuck', path)),
    ]);
    expect(found.flat()).toEqual([]);
    await Promise.all([anonymous.close(), chuck.close()]);
  }, 90_000);
});
