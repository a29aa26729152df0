/**
 * `npm start`: the Teller demo and inspector, on node:http. Imports Teller by its package name (the built
 * package: `npm run build` first, which `npm start` does).
 *
 * Routes: `/` (home), `/login`, `/logout`, `/cart`, `/bank`, `/sessions`, `/inspector`, `/style.css`.
 *
 * Environment: TELLER_STORE (default `sqlite:.data/teller.db`; `redis://…`, `postgres://…`, `memory:`),
 * PORT (default 3000), HOST (default 127.0.0.1), TELLER_SECRET (at least 32 bytes: signs the login form's
 * CSRF cookie; default a random one per process, so set it when several processes share a store),
 * TELLER_FRESH_MS (how recent a login "log out all other devices" needs, default 5 minutes; the tests set 0).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createSessionManager } from 'teller';
import { createNodeSessions } from 'teller/adapters/node';
import {
  MIN_SECRET_BYTES,
  parseCookie,
  parseSetCookie,
  serializeSetCookie,
  sign,
  unsign,
} from 'teller/cookie';
import { openStore, StoreUrlError } from 'teller/stores/url';
import { createBank, createPasswordCheck, WITHDRAWAL } from './bank.js';
import {
  bankPage,
  cartPage,
  errorPage,
  homePage,
  loginPage,
  logoutPage,
  PRODUCTS,
  sessionsPage,
} from './html.js';
import { inspectorPage } from './inspector.js';

const DEFAULT_STORE = 'sqlite:.data/teller.db';
const storeUrl = process.env.TELLER_STORE || DEFAULT_STORE;
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST || '127.0.0.1';
const secret = process.env.TELLER_SECRET || randomBytes(32).toString('base64url');
/** How recent a login "log out all other devices" needs (ms). */
const freshMs = Number(process.env.TELLER_FRESH_MS || 5 * 60_000);
const STYLE = readFileSync(new URL('./style.css', import.meta.url));

/** The login form's double-submit cookie (anonymous forms: no session needs to be stored to protect them). */
const LOGIN_CSRF = '__Host-login-csrf';

/** Every response: a CSP without 'unsafe-inline' (no inline script or style anywhere), no framing, no sniffing. */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

async function start() {
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES)
    throw new Error(`TELLER_SECRET must be at least ${MIN_SECRET_BYTES} bytes`);
  if (!(freshMs >= 0 && Number.isFinite(freshMs)))
    throw new Error('TELLER_FRESH_MS must be a number of milliseconds (0 or more)');
  if (storeUrl === DEFAULT_STORE) mkdirSync('.data', { recursive: true });
  const opened = await openStore(storeUrl);
  const manager = createSessionManager({
    store: opened.store,
    // Secure, so the cookie is `__Host-Http-sid` (Secure, HttpOnly, Path=/, no Domain) even on plain http.
    // `secure: 'auto'` (the default) makes it `sid`, not Secure, on http, loopback included, because Safari
    // keeps no Secure cookie from http://localhost. Chromium and Firefox treat http://127.0.0.1 and
    // http://localhost as potentially trustworthy and store Secure and prefixed cookies from them, so the demo
    // (loopback only by default, and tested in Chromium) shows the cookie a production site over HTTPS would
    // set. On Safari, or on a non-loopback http host, serve it over HTTPS.
    cookie: { secure: true },
    idleTimeout: 30 * 60_000,
    absoluteTimeout: 12 * 3600_000,
    rememberMe: 30 * 24 * 3600_000,
  });
  const sessions = createNodeSessions(manager);
  const bank = createBank(opened.store);
  const checkPassword = await createPasswordCheck();
  const history = createHistory();
  const sessionCookie = manager.cookieName({ secure: true });

  /** The CSRF token of this request's forms: the session's own once logged in, else the login cookie's nonce. */
  function formToken(req, res) {
    if (req.session.userId) return req.session.csrfToken;
    const carried = loginNonce(req);
    if (carried) return carried;
    const nonce = randomBytes(32).toString('base64url');
    res.appendHeader(
      'Set-Cookie',
      serializeSetCookie({
        name: LOGIN_CSRF,
        value: sign(nonce, secret),
        path: '/',
        secure: true,
        httpOnly: true,
        sameSite: 'Strict',
      }),
    );
    return nonce;
  }

  function loginNonce(req) {
    const value = parseCookie(req.headers.cookie ?? '')[LOGIN_CSRF];
    const nonce = value === undefined ? false : unsign(value, secret);
    return nonce || undefined;
  }

  /** Why a POST is refused (cross-site, or no valid CSRF token), or undefined. */
  function csrfRefusal(req, form) {
    const origin = req.headers.origin;
    if (
      origin !== undefined &&
      origin !== `http://${req.headers.host}` &&
      origin !== `https://${req.headers.host}`
    )
      return 'This form was sent from another site (Origin).';
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return 'This form was sent from another site (Sec-Fetch-Site).';
    const token = form.get('csrf');
    if (req.session.userId) {
      return req.session.verifyCsrfToken(token) ? undefined : 'The form’s CSRF token is missing or wrong.';
    }
    const nonce = loginNonce(req);
    const given = Buffer.from(typeof token === 'string' ? token : '');
    const ok =
      nonce !== undefined && given.length === nonce.length && timingSafeEqual(given, Buffer.from(nonce));
    return ok ? undefined : 'The form’s CSRF token is missing or wrong (reload the page and try again).';
  }

  const viewOf = (req, res, path) => ({
    path,
    user: req.session.userId,
    persistent: req.session.userId ? req.session.persistent : false,
    token: formToken(req, res),
  });

  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://demo.invalid');
    const path = url.pathname;
    const session = req.session;
    const loadedKey = session.isNew ? undefined : session.handle;
    res.once('finish', () => history.record(req, res, loadedKey, path, sessionCookie));
    const html = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(body);
    };
    const redirect = (location) => {
      res.writeHead(303, { Location: location });
      res.end();
    };
    const routes = ['/', '/login', '/logout', '/cart', '/bank', '/sessions', '/inspector'];
    if (!routes.includes(path))
      return html(404, errorPage(viewOf(req, res, path), 'Not found', 'No such page.'));

    let form;
    if (req.method === 'POST') {
      form = await readForm(req);
      if (form === undefined)
        return html(413, errorPage(viewOf(req, res, path), 'Too large', 'The form is too large.'));
      const refusal = csrfRefusal(req, form);
      if (refusal) return html(403, errorPage(viewOf(req, res, path), 'Refused', refusal));
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, POST');
      return html(405, errorPage(viewOf(req, res, path), 'Method not allowed', 'Use GET or POST.'));
    } else if (path === '/inspector') {
      return inspect(req, res, []);
    }

    const user = session.userId;
    switch (path) {
      case '/':
        if (form) break;
        return html(200, homePage(viewOf(req, res, path), (session.get('cart') ?? []).length));
      case '/login': {
        if (!form) return html(200, loginPage(viewOf(req, res, path)));
        const name = String(form.get('user') ?? '').trim();
        const id = await checkPassword(name, form.get('password') ?? '');
        if (id === undefined) return html(401, loginPage(viewOf(req, res, path), 'Wrong user or password.'));
        session.login(id, { remember: form.get('remember') === '1' });
        return redirect('/');
      }
      case '/logout':
        if (!form) return html(200, logoutPage(viewOf(req, res, path)));
        session.logout();
        return redirect('/');
      case '/cart': {
        if (!form) return html(200, cartPage(viewOf(req, res, path), session.get('cart') ?? []));
        if (form.get('action') === 'empty') session.delete('cart');
        else {
          const item = form.get('item');
          if (!PRODUCTS.some((p) => p.id === item))
            return html(400, errorPage(viewOf(req, res, path), 'Unknown product', 'No such product.'));
          session.update('cart', (cart = []) => [...cart, item]);
        }
        return redirect('/cart');
      }
      case '/bank': {
        if (!form) {
          const balance = user ? await bank.balance(user) : 0;
          return html(200, bankPage(viewOf(req, res, path), balance, url.searchParams.get('notice')));
        }
        if (!user) return redirect('/login');
        const left = await bank.withdraw(user, WITHDRAWAL);
        return redirect(left === undefined ? '/bank?notice=refused' : '/bank?notice=withdrew');
      }
      case '/sessions': {
        // "Log out all other devices" is a sensitive action: it needs a recent login (step-up freshness).
        const fresh = user !== undefined && session.isFresh(freshMs);
        if (!user || !form) {
          const list = user ? await manager.listSessions(user) : [];
          const ended = url.searchParams.get('ended');
          const notice = ended === null ? undefined : `Ended ${Number(ended) || 0} session(s).`;
          return html(
            200,
            sessionsPage(viewOf(req, res, path), list, user && session.handle, { notice, fresh }),
          );
        }
        let ended = 0;
        if (form.get('action') === 'others') {
          if (!fresh) {
            // The password again, then the same user's login: the re-authentication, a new login time.
            if ((await checkPassword(user, form.get('password') ?? '')) !== user) {
              const list = await manager.listSessions(user);
              const error = 'Wrong password: no device was logged out.';
              return html(401, sessionsPage(viewOf(req, res, path), list, session.handle, { error, fresh }));
            }
            session.login(user, { remember: session.persistent });
          }
          // Before the commit, `except: session` keeps the record this request loaded (a login's commit
          // moves it to its new id afterwards).
          ended = await manager.revokeSessions(user, { except: session });
        } else {
          // One device: only a session of this user, and not this one (that is "Log out").
          const handle = form.get('handle');
          const list = await manager.listSessions(user);
          if (handle !== session.handle && list.some((s) => s.handle === handle)) {
            await opened.store.delete(handle);
            ended = 1;
          }
        }
        return redirect(`/sessions?ended=${ended}`);
      }
      case '/inspector':
        session.update('inspections', (n = 0) => n + 1);
        return inspect(req, res, ['inspections (+1)']);
    }
    return html(405, errorPage(viewOf(req, res, path), 'Method not allowed', 'This page takes no form.'));
  }

  /**
   * The inspector commits early: it sends the headers and the page's first bytes, which makes the adapter
   * commit the session and add its Set-Cookie lines, then reads those lines and the stored record.
   */
  async function inspect(req, res, changed) {
    const session = req.session;
    const view = viewOf(req, res, '/inspector');
    const loaded = { isNew: session.isNew, userId: session.userId };
    const before = loaded.isNew ? undefined : (await opened.store.get(session.handle))?.version;
    const sent = Object.entries(parseCookie(req.headers.cookie ?? ''));
    const carried = sent.find(([name]) => name === sessionCookie)?.[1];
    const earlier = history.of(loaded.isNew ? undefined : session.handle);
    // The page is rendered after the commit; its token must be read before it (a read may write).
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    const committed = await new Promise((resolve) => {
      res.once('close', () => resolve(false));
      res.write('', () => resolve(true));
    });
    if (!committed) return;
    const raw = res.getHeader('set-cookie') ?? [];
    const setCookie = Array.isArray(raw) ? raw : [String(raw)];
    const own = setCookie.map((line) => parseSetCookie(line)).find((c) => c?.name === sessionCookie);
    const stored = own === undefined ? !loaded.isNew : own.maxAge !== 0;
    const key = stored ? session.handle : undefined;
    const record = key === undefined ? null : await opened.store.get(key);
    res.end(
      inspectorPage({
        view,
        host: req.headers.host ?? host,
        sent,
        sessionCookie,
        carried,
        loaded,
        changed,
        setCookie,
        before,
        after: record?.version,
        record,
        key,
        history: earlier,
      }),
    );
  }

  const listener = sessions.wrap(handle);
  const server = createServer((req, res) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    // The stylesheet needs no session: it is answered before the session is loaded (no store read).
    if (req.url === '/style.css') {
      res.writeHead(200, {
        'Content-Type': 'text/css; charset=utf-8',
        'Cache-Control': 'public, max-age=300',
      });
      return res.end(STYLE);
    }
    if (req.url === '/favicon.ico') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      return res.end('Not found');
    }
    return listener(req, res);
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  console.log(`Teller demo listening on http://${host}:${actual}/ (store: ${opened.label})`);

  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      server.close();
      server.closeAllConnections();
      Promise.allSettled([manager.close()])
        .then(() => opened.close())
        .finally(() => process.exit(0));
    });
  }
}

/** The form fields of a POST body (at most 10 kB), or undefined when larger. */
async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) return undefined;
  }
  return new URLSearchParams(body);
}

/**
 * The Set-Cookie lines of recent responses, per session, kept in this process for the inspector: recorded
 * when a response finishes, under the store key the browser's next request names (a login moves the list
 * to the new key). Bounded: at most 5 responses per session and 1000 sessions.
 */
function createHistory() {
  const bySession = new Map();
  return {
    record(req, res, loadedKey, path, sessionCookie) {
      const raw = res.getHeader('set-cookie');
      if (!raw) return;
      const lines = Array.isArray(raw) ? raw : [String(raw)];
      const own = lines.map((line) => parseSetCookie(line)).find((c) => c?.name === sessionCookie);
      // The key the browser's next request names: the one just set, none after a logout, else the same.
      const key = own === undefined ? loadedKey : own.maxAge === 0 ? undefined : req.session.handle;
      const list = loadedKey === undefined ? [] : (bySession.get(loadedKey) ?? []);
      if (loadedKey !== undefined) bySession.delete(loadedKey);
      if (key === undefined) return;
      list.push({ method: req.method, path, status: res.statusCode, at: Date.now(), lines });
      bySession.delete(key);
      bySession.set(key, list.slice(-5));
      if (bySession.size > 1000) bySession.delete(bySession.keys().next().value);
    },
    of(key) {
      return key === undefined ? [] : [...(bySession.get(key) ?? [])].reverse();
    },
  };
}

start().catch((error) => {
  // One line, no stack: a bad TELLER_STORE, a store that does not answer, a port in use.
  const message =
    error instanceof StoreUrlError ? error.message : `[teller] [demo] ${error?.message ?? error}`;
  console.error(message);
  process.exit(1);
});
