/**
 * `npm start`: a small Teller app on node:http with the embedded SQLite store (until the full demo
 * lands): log in / log out with CSRF-checked forms ("remember me" gives a persistent cookie), a visit
 * counter once logged in, "log out everywhere", and the session as the server holds it. Imports Teller
 * by its package name.
 *
 * PORT (default 3000), HOST (default 127.0.0.1), TELLER_DB (default .data/teller.db).
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { createSessionManager } from 'teller';
import { createNodeSessions } from 'teller/adapters/node';
import { createSqliteStore } from 'teller/stores/sqlite';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const filename = resolve(process.env.TELLER_DB ?? '.data/teller.db');
mkdirSync(dirname(filename), { recursive: true });

const manager = createSessionManager({
  store: createSqliteStore({ filename }),
  cookie: { secure: 'auto' },
  idleTimeout: 30 * 60_000,
  absoluteTimeout: 12 * 3600_000,
  rememberMe: 30 * 24 * 3600_000,
});
const sessions = createNodeSessions(manager);

const escapeHtml = (s) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function send(res, status, html) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(html);
}

function redirect(res, location) {
  res.writeHead(303, { Location: location });
  res.end();
}

async function page(req, res) {
  const session = req.session;
  const user = session.userId;
  // Only a logged-in session counts visits: an anonymous page view writes nothing, so cookie-less requests
  // (crawlers, floods) store nothing. Its CSRF token is a cookie of its own, not a stored record.
  const visits = user ? session.update('visits', (n = 0) => n + 1) : undefined;
  const [notice] = session.flash('notice') ?? [];
  const list = user ? await manager.listSessions(user) : [];
  const csrf = escapeHtml(session.csrfToken);
  send(
    res,
    200,
    `<!doctype html><meta charset="utf-8"><title>Teller</title>
<style>body{font:16px system-ui;margin:2rem auto;max-width:40rem}code{background:#eee;padding:0 .2rem}</style>
<h1>Teller</h1>
${notice ? `<p><strong>${escapeHtml(notice)}</strong></p>` : ''}
${visits === undefined ? '' : `<p>Visits since you logged in: <strong id="visits">${visits}</strong></p>`}
${
  user
    ? `<p>Logged in as <strong id="user">${escapeHtml(user)}</strong> (${session.persistent ? 'remembered' : 'until the browser closes'}).</p>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${csrf}"><button>Log out</button></form>
<form method="post" action="/logout-everywhere"><input type="hidden" name="csrf" value="${csrf}"><button>Log out everywhere else</button></form>
<h2>Your sessions</h2><ul>${list
        .map(
          (s) =>
            `<li>${s.handle === session.handle ? '<em>this one</em> — ' : ''}created ${new Date(s.createdAt).toISOString()}, last seen ${new Date(s.lastSeenAt).toISOString()}, ${escapeHtml(s.userAgent ?? '?')} from ${escapeHtml(s.ip ?? '?')}</li>`,
        )
        .join('')}</ul>`
    : `<form method="post" action="/login"><input type="hidden" name="csrf" value="${csrf}">
<label>User <input name="user" required maxlength="40"></label>
<label><input type="checkbox" name="remember"> Remember me</label> <button>Log in</button></form>`
}
<h2>The session on the server</h2><pre id="session">${escapeHtml(JSON.stringify(session, null, 2))}</pre>`,
  );
}

async function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/') return page(req, res);
  if (req.method === 'POST') {
    const form = await readForm(req);
    if (!req.session.verifyCsrfToken(form.get('csrf'))) return send(res, 403, 'Bad CSRF token');
    if (url.pathname === '/login') {
      const user = (form.get('user') ?? '').trim();
      if (user === '') return redirect(res, '/');
      req.session.login(user, { remember: form.has('remember') });
      req.session.flash('notice', `Welcome, ${user}.`);
      return redirect(res, '/');
    }
    if (url.pathname === '/logout') {
      req.session.logout();
      return redirect(res, '/');
    }
    if (url.pathname === '/logout-everywhere' && req.session.userId) {
      const ended = await manager.revokeSessions(req.session.userId, { except: req.session });
      req.session.flash('notice', `Ended ${ended} other session(s).`);
      return redirect(res, '/');
    }
  }
  send(res, 404, 'Not found');
}

const server = createServer(sessions.wrap(handle));
server.listen(port, host, () => {
  console.log(`Teller example on http://${host}:${port}/ (SQLite store: ${filename})`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close();
    manager.close().finally(() => process.exit(0));
  });
}
