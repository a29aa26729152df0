/**
 * The demo over plain HTTP (fetch, no browser): the security headers and CSP of every page, the CSRF
 * refusals (no token, a wrong one, a cross-site Origin or Sec-Fetch-Site), one-line start-up errors for a
 * bad or unreachable TELLER_STORE, and a login + withdrawal on Redis and PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopApps } from '../support/app-server.js';
import {
  available,
  DEMO_PASSWORDS,
  type Demo,
  demoClient,
  PAGES,
  runDemoToExit,
  startDemo,
  tokenOf,
} from '../support/demo.js';
import { freePort, reachable } from '../support/net.js';

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = randomBytes(4).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'teller-demo-http-'));

let demo: Demo;
beforeAll(async () => {
  demo = await startDemo({ TELLER_STORE: `sqlite:${join(dir, 'demo.db')}` });
});
afterAll(async () => {
  if (demo) await stopApps([demo]);
  rmSync(dir, { recursive: true, force: true });
});

describe('security headers', () => {
  it('every page (and the stylesheet, a 404, a redirect) has a CSP without unsafe-inline and the other headers', async () => {
    const client = demoClient(demo.base);
    await client.login('chuck', DEMO_PASSWORDS.chuck);
    const answers = await Promise.all(
      [...PAGES, '/style.css', '/nope'].map(async (path) => [path, await client.get(path)] as const),
    );
    answers.push(['POST /logout', await client.post('/logout', { csrf: 'x' })]);
    for (const [path, { headers, html }] of answers) {
      const csp = headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("style-src 'self'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("form-action 'self'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(csp, path).not.toContain('script-src');
      expect(headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(headers.get('referrer-policy'), path).toBe('same-origin');
      expect(headers.get('x-frame-options'), path).toBe('DENY');
      if (headers.get('content-type')?.startsWith('text/html')) {
        // Nothing the CSP would block: no script, no inline style.
        expect(html, path).not.toMatch(/<script|<style|\sstyle=|\son[a-z]+=/i);
        expect(headers.get('cache-control'), path).toBe('no-store');
      }
    }
  });

  it('serves its styles as text/css', async () => {
    const { status, headers, html } = await demoClient(demo.base).get('/style.css');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^text\/css/);
    expect(headers.get('set-cookie')).toBeNull();
    expect(html).toContain('main {');
  });
});

describe('CSRF', () => {
  it('refuses the login form without a token, with a wrong one, and from another site; accepts a good one', async () => {
    const client = demoClient(demo.base);
    const csrf = tokenOf((await client.get('/login')).html);
    const fields = { user: 'chuck', password: DEMO_PASSWORDS.chuck };
    expect((await client.post('/login', fields)).status).toBe(403);
    expect((await client.post('/login', { ...fields, csrf: `${csrf.slice(0, -2)}xx` })).status).toBe(403);
    // As long in characters, longer in bytes: still a plain refusal.
    expect((await client.post('/login', { ...fields, csrf: `${csrf.slice(0, -1)}é` })).status).toBe(403);
    const crossOrigin = await client.post('/login', { ...fields, csrf }, { Origin: 'http://evil.example' });
    expect(crossOrigin.status).toBe(403);
    expect(crossOrigin.html).toContain('another site (Origin)');
    const crossSite = await client.post('/login', { ...fields, csrf }, { 'Sec-Fetch-Site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.html).toContain('another site (Sec-Fetch-Site)');
    // Refusals stored nothing: no session cookie yet.
    expect(client.jar.getAllCookies().map((c) => c.name)).toEqual(['__Host-login-csrf']);
    const ok = await client.post(
      '/login',
      { ...fields, csrf },
      { Origin: demo.base, 'Sec-Fetch-Site': 'same-origin' },
    );
    expect(ok.status).toBe(303);
    expect(ok.headers.get('set-cookie')).toMatch(/^__Host-Http-sid=/);
  });

  it("a login token sent without its cookie (another browser's) is refused", async () => {
    const csrf = tokenOf((await demoClient(demo.base).get('/login')).html);
    const other = demoClient(demo.base);
    await other.get('/login');
    const answer = await other.post('/login', { csrf, user: 'jan', password: DEMO_PASSWORDS.jan });
    expect(answer.status).toBe(403);
  });

  it("a logged-in session's forms need its own token: none, a wrong one, or a login token are refused", async () => {
    const client = demoClient(demo.base);
    expect((await client.login('jan', DEMO_PASSWORDS.jan)).status).toBe(303);
    const before = await client.balance();
    const loginToken = tokenOf((await demoClient(demo.base).get('/login')).html);
    expect((await client.post('/bank', {})).status).toBe(403);
    expect((await client.post('/bank', { csrf: 'A'.repeat(86) })).status).toBe(403);
    expect((await client.post('/bank', { csrf: loginToken })).status).toBe(403);
    const csrf = tokenOf((await client.get('/bank')).html);
    expect((await client.post('/bank', { csrf }, { 'Sec-Fetch-Site': 'same-site' })).status).toBe(403);
    expect(await client.balance()).toBe(before);
    expect((await client.post('/bank', { csrf })).status).toBe(303);
    expect(await client.balance()).toBe(before - 100);
  });
});

describe('the inspector', () => {
  it("lists its own response's Set-Cookie lines, decoded, and the record it committed", async () => {
    const client = demoClient(demo.base);
    await client.login('chuck', DEMO_PASSWORDS.chuck, true);
    const csrf = tokenOf((await client.get('/inspector')).html);
    const { headers, html } = await client.post('/inspector', { csrf });
    const sent = headers.getSetCookie().map((line) => line.slice(0, line.indexOf('=')));
    // A write to a remembered session sends its persistent cookie again.
    expect(sent).toContain('__Host-Http-sid');
    const table = /<table id="set-cookie">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
    const listed = [...table.matchAll(/<tr><th scope="row">([^<]+)<\/th>/g)].map((m) => m[1]);
    expect(listed).toEqual(sent);
    expect(table).toMatch(
      /__Host-Http-sid<\/th><td>•+ \(43 characters, hidden\)<\/td><td>127\.0\.0\.1:\d+ \(host-only\)<\/td><td>\/<\/td><td>Max-Age=2592000/,
    );
    expect(html).toContain('Changed: inspections (+1).');
    expect(html).toMatch(/Committed: record written \(version \d+ → \d+\)/);
    expect(html).toMatch(/<pre id="record-data">[^<]*&quot;inspections&quot;: 1/);
  });

  it('no page shows the session id, a cookie value or the CSRF secret', async () => {
    const client = demoClient(demo.base);
    await client.get('/login');
    await client.login('jan', DEMO_PASSWORDS.jan);
    const pages = await Promise.all(PAGES.map((path) => client.get(path)));
    const secrets = client.jar.getAllCookies().map((c) => c.value);
    expect(secrets.length).toBe(2); // __Host-Http-sid and __Host-login-csrf
    for (const [i, { html }] of pages.entries()) {
      for (const secret of secrets) expect(html, PAGES[i]).not.toContain(secret);
      expect(html, PAGES[i]).not.toContain('teller:csrf&quot;:');
    }
  });
});

/** Whether the client's session is logged in as `user` (the home page says so). */
async function loggedInAs(client: ReturnType<typeof demoClient>, user: string): Promise<boolean> {
  return (await client.get('/')).html.includes(`<strong id="user">${user}</strong>`);
}

describe('step-up freshness: "log out all other devices" needs a login within TELLER_FRESH_MS', () => {
  it('just logged in (within the default 5 minutes): the plain button ends the other devices', async () => {
    const [laptop, phone] = [demoClient(demo.base), demoClient(demo.base)];
    await laptop.login('jan', DEMO_PASSWORDS.jan);
    await phone.login('jan', DEMO_PASSWORDS.jan);
    const page = (await laptop.get('/sessions')).html;
    expect(page).toContain('Log out all other devices');
    expect(page).not.toContain('id="step-up"');
    const done = await laptop.post('/sessions', { csrf: tokenOf(page), action: 'others' });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toMatch(/^\/sessions\?ended=[1-9]\d*$/);
    expect(await phone.get('/').then((a) => a.html)).toContain('not logged in');
    expect(await loggedInAs(laptop, 'jan')).toBe(true);
  });

  describe('with TELLER_FRESH_MS=0 (every earlier login is too old)', () => {
    let stale: Demo;
    beforeAll(async () => {
      stale = await startDemo({ TELLER_STORE: `sqlite:${join(dir, 'stale.db')}`, TELLER_FRESH_MS: '0' });
    });
    afterAll(async () => {
      if (stale) await stopApps([stale]);
    });

    it('asks for the password; none or a wrong one ends nothing (401); the right one logs in again and ends the others', async () => {
      const [laptop, phone] = [demoClient(stale.base), demoClient(stale.base)];
      await laptop.login('chuck', DEMO_PASSWORDS.chuck);
      await phone.login('chuck', DEMO_PASSWORDS.chuck);
      const page = (await laptop.get('/sessions')).html;
      expect(page).toContain('id="step-up"');
      expect(page).toMatch(/<input id="password" name="password" type="password"/);
      const csrf = tokenOf(page);
      for (const password of [undefined, 'wrong', DEMO_PASSWORDS.jan]) {
        const refused = await laptop.post('/sessions', {
          csrf,
          action: 'others',
          ...(password === undefined ? {} : { password }),
        });
        expect(refused.status, String(password)).toBe(401);
        expect(refused.html).toContain('Wrong password: no device was logged out.');
        expect(refused.headers.get('set-cookie')).toBeNull();
        expect(await loggedInAs(phone, 'chuck')).toBe(true);
      }
      const before = laptop.jar.getAllCookies().find((c) => c.name === '__Host-Http-sid')?.value;
      const done = await laptop.post('/sessions', { csrf, action: 'others', password: DEMO_PASSWORDS.chuck });
      expect(done.status).toBe(303);
      expect(done.headers.get('location')).toMatch(/^\/sessions\?ended=[1-9]\d*$/);
      // The re-authentication is a login: a new id for the same user.
      expect(done.headers.get('set-cookie')).toMatch(/^__Host-Http-sid=/);
      expect(laptop.jar.getAllCookies().find((c) => c.name === '__Host-Http-sid')?.value).not.toBe(before);
      expect(await loggedInAs(laptop, 'chuck')).toBe(true);
      expect(await phone.get('/').then((a) => a.html)).toContain('not logged in');
    });
  });
});

describe('TELLER_STORE at start', () => {
  const oneLine = (stderr: string) => {
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[teller\] \[store-url\] /);
    expect(stderr).not.toMatch(/^\s+at /m);
    return lines[0];
  };

  it('a URL of no known kind: one line on stderr, a non-zero exit', async () => {
    const { code, stderr } = await runDemoToExit({ TELLER_STORE: 'mysql://user:pw@127.0.0.1/db' });
    expect(code).not.toBe(0);
    const line = oneLine(stderr);
    expect(line).toContain('not a store URL');
    expect(line).not.toContain(':pw@');
  });

  it('a store that does not answer (Redis and PostgreSQL on a closed port): one line, a non-zero exit', async () => {
    const port = await freePort();
    const urls = [`redis://127.0.0.1:${port}`, `postgres://postgres@127.0.0.1:${port}/test`];
    const results = await Promise.all(urls.map((url) => runDemoToExit({ TELLER_STORE: url })));
    results.forEach(({ code, stderr }, i) => {
      expect(code, urls[i]).not.toBe(0);
      expect(oneLine(stderr)).toContain(`127.0.0.1:${port}`);
    });
  });
});

/** A login and a withdrawal against the demo on `url`: the smoke test of a store kind. */
async function smoke(url: string) {
  const app = await startDemo({ TELLER_STORE: url });
  try {
    const client = demoClient(app.base);
    expect((await client.login('chuck', DEMO_PASSWORDS.chuck)).status).toBe(303);
    expect((await client.get('/')).html).toContain('id="user">chuck<');
    expect(await client.balance()).toBe(1000);
    const csrf = tokenOf((await client.get('/bank')).html);
    expect((await client.post('/bank', { csrf })).status).toBe(303);
    expect(await client.balance()).toBe(900);
  } finally {
    await stopApps([app]);
  }
}

const redisUp = available(
  `Redis at ${redisUrl.host}`,
  await reachable(redisUrl.hostname, Number(redisUrl.port || 6379)),
);
describe.runIf(redisUp)('on Redis', () => {
  const prefix = `teller-demo-${run}:`;
  afterAll(async () => {
    const client = createClient({ url: redisUrl.href });
    await client.connect();
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) keys.push(...batch);
    if (keys.length > 0) await client.del(keys);
    client.destroy();
  });

  it('logs in and withdraws', async () => {
    const url = new URL(redisUrl.href);
    url.searchParams.set('prefix', prefix);
    await smoke(url.href);
  });
});

const pgUrl = new URL(databaseUrl);
const pgUp = available(
  `PostgreSQL at ${pgUrl.host}`,
  await reachable(pgUrl.hostname, Number(pgUrl.port || 5432)),
);
describe.runIf(pgUp)('on PostgreSQL', () => {
  const table = `teller_demo_${run}`;
  afterAll(async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl });
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  it('logs in and withdraws', async () => {
    const url = new URL(databaseUrl);
    url.searchParams.set('table', table);
    await smoke(url.href);
  });
});
