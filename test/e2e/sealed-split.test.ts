/**
 * Sealed sessions past 4 KB (issue 19) in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
 * playwright-core, against the node adapter on 127.0.0.1 (a secure context for Chromium, so the session cookie
 * is `__Host-Http-sid`, Secure and HttpOnly, and so is each part). A session grown to two cookies is kept and
 * sent whole by Chromium (it survives a reload), and a shrink deletes the second part from Chromium's store.
 * Skipped with a printed line when Chromium is missing, except under CI.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeSessions } from '../../src/adapters/node.js';
import { createSessionManager } from '../../src/index.js';
import { close, listen } from '../adapters/helpers.js';
import { available } from '../support/demo.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH = { executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking'] };
const hasChromium = available(`Chromium at ${CHROMIUM}`, existsSync(CHROMIUM));

describe.runIf(hasChromium)('a sealed session split across cookies, in Chromium', () => {
  const manager = createSessionManager<{ blob: string }>({
    seal: { secrets: ['a-sealing-secret-of-32-bytes-or-more'] },
    cookie: { secure: true },
  });
  let server: Server;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base = '';

  beforeAll(async () => {
    const sessions = createNodeSessions(manager);
    server = createServer(
      sessions.wrap((req, res) => {
        const size = /^\/set\/(\d+)$/.exec(req.url ?? '')?.[1];
        // Random base64url: data that neither compresses nor repeats.
        if (size !== undefined)
          req.session.set('blob', randomBytes(Number(size)).toString('base64url').slice(0, Number(size)));
        const names = (req.headers.cookie ?? '').split('; ').map((pair) => pair.slice(0, pair.indexOf('=')));
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ blob: req.session.get('blob')?.length ?? 0, sent: names.sort() }));
      }),
    );
    [base, browser] = await Promise.all([
      listen(server).then((port) => `http://127.0.0.1:${port}`),
      chromium.launch(LAUNCH),
    ]);
    context = await browser.newContext();
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    if (server) await close(server);
    await manager.close();
  });

  const answer = async () =>
    JSON.parse((await page.textContent('body')) ?? '{}') as { blob: number; sent: string[] };
  const kept = async () =>
    (await context.cookies())
      .map((c) => ({
        name: c.name,
        secure: c.secure,
        httpOnly: c.httpOnly,
        size: c.name.length + c.value.length,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));

  it('keeps and sends both parts (a reload reads the whole session); a shrink deletes the second part', async () => {
    await page.goto(`${base}/set/2000`);
    expect((await kept()).map((c) => c.name)).toEqual(['__Host-Http-sid']);

    await page.goto(`${base}/set/5000`);
    const two = await kept();
    expect(two.map((c) => c.name)).toEqual(['__Host-Http-sid', '__Host-Http-sid.1']);
    for (const cookie of two) {
      expect(cookie).toMatchObject({ secure: true, httpOnly: true });
      expect(cookie.size).toBeLessThanOrEqual(4096);
    }
    await page.reload();
    expect(await answer()).toEqual({ blob: 5000, sent: ['__Host-Http-sid', '__Host-Http-sid.1'] });

    await page.goto(`${base}/set/1300`);
    expect((await kept()).map((c) => c.name)).toEqual(['__Host-Http-sid']);
    await page.goto(`${base}/`);
    expect(await answer()).toEqual({ blob: 1300, sent: ['__Host-Http-sid'] });
  });
});
