/**
 * The inspector page: the cookies the request carried, every Set-Cookie line of this response decoded
 * with all its attributes, the session's record on the server, and the steps of this request. Session ids
 * and tokens are masked: showing one on a page would undo HttpOnly.
 */
import { parseSetCookie } from 'teller/cookie';
import { esc, form, layout, mask, scrolling, shortKey, time } from './html.js';

/** Cookie names whose values are secrets (the session id, CSRF nonces): shown masked. */
const SECRET_COOKIE = /^(__Host-Http-|__Host-|__Http-|__Secure-)?(sid|csrf|login-csrf)$/i;

const show = (name, value) => (SECRET_COOKIE.test(name) ? mask(value) : esc(value));
const yes = (flag) => (flag ? '✓' : '');

function lifetime(cookie) {
  if (cookie.maxAge !== undefined)
    return `Max-Age=${cookie.maxAge}${cookie.maxAge <= 0 ? ' (deletes the cookie)' : ` (until ${time(cookie.expiresAt)})`}`;
  if (cookie.expiresAt !== undefined) return time(cookie.expiresAt);
  return 'Session (dropped when the browser closes)';
}

function sentTable(cookies) {
  if (cookies.length === 0) return '<p id="sent-none">Your browser sent no cookies with this request.</p>';
  const rows = cookies.map(
    ([name, value]) => `<tr><th scope="row">${esc(name)}</th><td>${show(name, value)}</td></tr>`,
  );
  return scrolling(
    'Cookies your browser sent',
    `<table id="sent"><caption>name=value: a request carries nothing more</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
  );
}

function setCookieTable(lines, host, label, id) {
  if (lines.length === 0) return `<p${id ? ' id="set-none"' : ''}>This response sets no cookie.</p>`;
  const rows = lines.map((line) => {
    const c = parseSetCookie(line);
    if (c === undefined) return '<tr><td colspan="10">(a line a browser would ignore)</td></tr>';
    const size = Buffer.byteLength(c.name) + Buffer.byteLength(c.value);
    return `<tr><th scope="row">${esc(c.name)}</th><td>${show(c.name, c.value)}</td><td>${esc(c.domain ?? `${host} (host-only)`)}</td><td>${esc(c.path ?? '(default)')}</td><td>${esc(lifetime(c))}</td><td>${size}</td><td>${yes(c.httpOnly)}</td><td>${yes(c.secure)}</td><td>${esc(c.sameSite ?? '(default: Lax)')}</td><td>${yes(c.partitioned)}</td></tr>`;
  });
  return scrolling(
    label,
    `<table${id ? ` id="${id}"` : ''}><caption>Decoded with parseSetCookie from teller/cookie</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Value</th><th scope="col">Domain</th><th scope="col">Path</th><th scope="col">Expires / Max-Age</th><th scope="col">Size</th><th scope="col">HttpOnly</th><th scope="col">Secure</th><th scope="col">SameSite</th><th scope="col">Partitioned</th></tr></thead>
<tbody>${rows.join('')}</tbody></table>`,
  );
}

/** The record's data without Teller's own keys (`teller:csrf` is the secret behind the CSRF tokens). */
function visibleData(record) {
  let data;
  try {
    data = JSON.parse(record.data);
  } catch {
    return { text: '(not JSON)', hidden: [] };
  }
  const hidden = Object.keys(data).filter((k) => k.startsWith('teller:'));
  for (const k of hidden) delete data[k];
  return { text: JSON.stringify(data, null, 2), hidden };
}

function recordTable(record, key) {
  if (record === null)
    return '<p id="record-none">No record on the server: this session is not stored (yet).</p>';
  const { text, hidden } = visibleData(record);
  const rows = [
    ['Store key (SHA-256 of the id)', `<code>${esc(shortKey(key))}</code>`],
    ['Version', `<span id="record-version">${record.version}</span>`],
    ['User', esc(record.userId ?? '(anonymous)')],
    ['Created', time(record.createdAt)],
    ['Last seen', time(record.lastSeenAt)],
    ['Expires', time(record.expiresAt)],
    ['Persistent cookie', record.persistent ? 'yes (remember me)' : 'no'],
    ['User agent', esc(record.meta?.userAgent ?? '—')],
  ]
    .map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`)
    .join('');
  return `<table id="record"><caption>As stored after this request's commit</caption><tbody>${rows}</tbody></table>
<h3>Data</h3><pre id="record-data">${esc(text)}</pre>
${hidden.length ? `<p>Hidden: Teller's own keys (${hidden.map(esc).join(', ')}).</p>` : ''}`;
}

/**
 * The page. `facts`: `view`, `host`, `sent` ([name, value] pairs), `sessionCookie` (its name), `carried`
 * (the session cookie's value, if sent), `loaded` ({ isNew, userId, version }), `changed` (what this request
 * changed), `setCookie` (this response's lines), `before`/`after` (record versions), `record`, `key`.
 */
export function inspectorPage(f) {
  const steps = [
    f.carried === undefined
      ? `Cookie read: the request carried no <code>${esc(f.sessionCookie)}</code> cookie.`
      : `Cookie read: <code>${esc(f.sessionCookie)}</code> = ${mask(f.carried)}.`,
    f.loaded.isNew
      ? f.carried === undefined
        ? 'Session loaded: none to load, a fresh session (stored only at its first write).'
        : 'Session loaded: the cookie named no live session (tampered, expired, revoked or logged out): a fresh session.'
      : `Session loaded: record version ${f.before ?? '?'}${f.loaded.userId ? `, user ${esc(f.loaded.userId)}` : ', anonymous'}.`,
    f.changed.length
      ? `Changed: ${f.changed.map(esc).join(', ')}.`
      : 'Changed: nothing (this page only reads).',
    f.after === f.before
      ? `Committed: nothing to write${f.setCookie.length ? '' : ', no Set-Cookie'}.`
      : `Committed: record written (version ${f.before ?? 'none'} → ${f.after ?? 'deleted'}).`,
    `Set-Cookie: ${f.setCookie.length} line(s) sent with this page's headers.`,
  ];
  return layout(
    f.view,
    'Inspector',
    `<p>What this request carried, what this response answered, and what the server keeps. Session ids and
tokens are masked everywhere: showing one would undo HttpOnly.</p>
<h2>Steps of this request</h2>
<ol id="steps">${steps.map((s) => `<li>${s}</li>`).join('')}</ol>
${form(f.view, '/inspector', '', 'Count an inspection (a session write), then inspect')}
<h2>Cookies your browser sent</h2>
${sentTable(f.sent)}
<h2>Set-Cookie lines of this response</h2>
<p>These are the lines of this very response: the inspector commits the session before writing the page
body (the headers, and so the Set-Cookie lines, go out first), then lists them. The lines of earlier
responses (a login's, a logout's) are listed below as this server process recorded them.</p>
${setCookieTable(f.setCookie, f.host, 'Set-Cookie lines of this response', 'set-cookie')}
<h2>Set-Cookie lines of the earlier responses of this session</h2>
${
  f.history.length
    ? f.history
        .map(
          (h) =>
            `<h3>${esc(h.method)} ${esc(h.path)} → ${h.status}, ${time(h.at)}</h3>${setCookieTable(h.lines, f.host, `Set-Cookie lines of ${h.method} ${h.path}`)}`,
        )
        .join('')
    : '<p>None recorded (kept in this server process only, for the session your browser sends now).</p>'
}
<h2>The session on the server</h2>
${recordTable(f.record, f.key)}`,
  );
}
