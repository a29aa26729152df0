/**
 * `Clear-Site-Data: "cookies", "storage"` when a session ends, in a real browser: Debian's Chromium
 * (/usr/bin/chromium) driven by playwright-core, against a node:http app of the node adapter on 127.0.0.1 (a
 * secure context, where browsers honour the header). A page stores a value in localStorage and a cookie of its
 * own beside the session cookie; `destroy()` (the header on by default) leaves the browser with neither,
 * while `logout()` (off by default) leaves both but the session cookie. Skipped with a printed line when
 * Chromium is missing, except under CI.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeSessions, type SessionRequest } from '../../src/adapters/node.js';
import { createSessionManager } from '../../src/session/manager.js';
import type { Session } from '../../src/session/session.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { close, listen } from '../adapters/helpers.js';
import { available } from '../support/demo.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH = { executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking'] };
const hasChromium = available(`Chromium at ${CHROMIUM}`, existsSync(CHROMIUM));

const PAGE = `<!doctype html><html lang="en"><title>t</title>
<form method="post" action="/destroy"><button>Destroy</button></form>
<form method="post" action="/logout"><button>Log out</button></form>
<p id="user"></p>`;

describe.runIf(hasChromium)('Clear-Site-Data in Chromium', () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  let server: Server;
  let browser: Browser;
  let base = '';

  beforeAll(async () => {
    const sessions = createNodeSessions(manager, { onError: () => {} });
    server = createServer(
      sessions.wrap((req, res) => {
        const session = (req as SessionRequest<Session>).session;
        if (req.method === 'POST' && (req.url === '/destroy' || req.url === '/logout')) {
          if (req.url === '/destroy') session.destroy();
          else session.logout();
          res.writeHead(303, { Location: '/' }).end();
          return;
        }
        if (req.url === '/login') session.login('alice');
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(PAGE);
      }),
    );
    [base, browser] = await Promise.all([
      listen(server).then((port) => `http://127.0.0.1:${port}`),
      chromium.launch(LAUNCH),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    if (server) await close(server);
    await manager.close();
  });

  /** A page logged in, with a localStorage value and a script-set cookie beside the session cookie. */
  async function storedPage(): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.evaluate(() => {
      localStorage.setItem('draft', 'secret notes');
      // biome-ignore lint/suspicious/noDocumentCookie: a page's own script cookie is what is under test
      document.cookie = 'theme=dark; Path=/';
    });
    const names = (await context.cookies()).map((c) => c.name).sort();
    expect(names).toEqual(['sid', 'theme']);
    return page;
  }

  it('destroy() answers with Clear-Site-Data, and the browser drops the cookies and localStorage', async () => {
    const page = await storedPage();
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/destroy')),
      page.getByRole('button', { name: 'Destroy' }).click(),
    ]);
    expect(await answer.headerValue('clear-site-data')).toBe('"cookies", "storage"');
    await page.waitForURL(`${base}/`);
    expect(await page.context().cookies()).toEqual([]);
    expect(await page.evaluate(() => localStorage.getItem('draft'))).toBeNull();
    await page.context().close();
  });

  it('logout() sends none by default: only the session cookie goes, the rest stays', async () => {
    const page = await storedPage();
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/logout')),
      page.getByRole('button', { name: 'Log out' }).click(),
    ]);
    expect(await answer.headerValue('clear-site-data')).toBeNull();
    await page.waitForURL(`${base}/`);
    expect((await page.context().cookies()).map((c) => c.name)).toEqual(['theme']);
    expect(await page.evaluate(() => localStorage.getItem('draft'))).toBe('secret notes');
    await page.context().close();
  });
});
