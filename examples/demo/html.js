/**
 * The demo's HTML: escaping, masking, the page layout and the pages. Plain server-rendered HTML: no script,
 * no inline style (the Content-Security-Policy allows neither), styles in /style.css.
 */
import { DEMO_USERS, WITHDRAWAL } from './bank.js';

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML content and quoted attribute values. */
export const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** A secret value (a session id, a token) as the page shows it: never the value, only its length. */
export const mask = (value) => `•••••••• (${String(value).length} characters, hidden)`;

/** A store key (the SHA-256 of an id): safe to show, shortened to be readable. */
export const shortKey = (key) => (key ? `${String(key).slice(0, 12)}…` : '—');

/** A time (epoch ms) as an ISO string, or a dash. */
export const time = (ms) =>
  typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : '—';

/** A table that may scroll sideways on a narrow screen: a labelled region, focusable to scroll by keyboard. */
export const scrolling = (label, table) =>
  `<div class="scroll" role="region" aria-label="${esc(label)}" tabindex="0">${table}</div>`;

export const dollars = (n) => `$${Number(n).toLocaleString('en-US')}`;

const NAV = [
  ['/', 'Home'],
  ['/cart', 'Cart'],
  ['/bank', 'Bank'],
  ['/sessions', 'Your sessions'],
  ['/inspector', 'Inspector'],
];

/**
 * A whole page. `view` has `path` (for the current link), `user` (logged in, or undefined) and `token`
 * (the CSRF token of the forms).
 */
export function layout(view, title, body) {
  const links = NAV.map(
    ([href, label]) =>
      `<li><a href="${href}"${href === view.path ? ' aria-current="page"' : ''}>${label}</a></li>`,
  ).join('');
  const account = view.user
    ? `<li><a href="/logout"${view.path === '/logout' ? ' aria-current="page"' : ''}>Log out (${esc(view.user)})</a></li>`
    : `<li><a href="/login"${view.path === '/login' ? ' aria-current="page"' : ''}>Log in</a></li>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Teller demo</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header>
<p class="brand">Teller demo</p>
<nav aria-label="Main"><ul>${links}${account}</ul></nav>
</header>
<main>
<h1>${esc(title)}</h1>
${body}
</main>
<footer><p>Sessions by Teller: <code>__Host-Http-</code> cookie, Secure, HttpOnly, SameSite=Lax.</p></footer>
</body>
</html>
`;
}

/** A form posting to `action` with the CSRF token and the given fields and button. */
export function form(view, action, inner, button, extraClass = '') {
  return `<form method="post" action="${action}"${extraClass ? ` class="${extraClass}"` : ''}>
<input type="hidden" name="csrf" value="${esc(view.token)}">
${inner}<button type="submit">${esc(button)}</button>
</form>`;
}

const who = (view) =>
  view.user
    ? `<p>You are logged in as <strong id="user">${esc(view.user)}</strong> (${view.persistent ? 'remembered: a persistent cookie' : 'until the browser closes: a session cookie'}).</p>`
    : '<p id="status">You have a session but are not logged in.</p>';

export function homePage(view, cartCount) {
  return layout(
    view,
    'Home',
    `${who(view)}
<p>Your cart holds <strong id="cart-count">${cartCount}</strong> item(s).</p>
<ul class="cards">
<li><a href="/cart">The cart</a>: kept in the session, before and after login.</li>
<li><a href="/bank">The bank</a>: each user's balance; simultaneous withdrawals all count.</li>
<li><a href="/sessions">Your sessions</a>: every device, with revoke.</li>
<li><a href="/inspector">The inspector</a>: the cookies, the Set-Cookie lines and the record on the server.</li>
</ul>`,
  );
}

export function loginPage(view, error) {
  const accounts = DEMO_USERS.map(
    (u) => `<tr><th scope="row">${esc(u.id)}</th><td><code>${esc(u.password)}</code></td></tr>`,
  ).join('');
  const body = view.user
    ? `${who(view)}<p>Logging in again as someone else replaces this login.</p>`
    : who(view);
  return layout(
    view,
    'Log in',
    `${body}
${error ? `<p class="error" role="alert" id="error">${esc(error)}</p>` : ''}
${form(
  view,
  '/login',
  `<p><label for="user-name">User</label> <input id="user-name" name="user" autocomplete="username" required maxlength="40"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="100"></p>
<p><input id="remember" type="checkbox" name="remember" value="1"> <label for="remember">Remember me (a persistent cookie that survives a browser restart)</label></p>
`,
  'Log in',
)}
<h2>Demo accounts</h2>
<table><caption>Passwords are stored hashed (scrypt) on the server</caption>
<thead><tr><th scope="col">User</th><th scope="col">Password</th></tr></thead><tbody>${accounts}</tbody></table>`,
  );
}

export function logoutPage(view) {
  return layout(
    view,
    'Log out',
    view.user
      ? `${who(view)}${form(view, '/logout', '', 'Log out')}`
      : `${who(view)}<p><a href="/login">Log in</a></p>`,
  );
}

export const PRODUCTS = [
  { id: 'tea', name: 'Green tea', price: 4 },
  { id: 'mug', name: 'Mug', price: 9 },
  { id: 'book', name: 'RFC 6265bis, printed', price: 25 },
];

export function cartPage(view, cart) {
  const items = cart.length
    ? `<ul id="cart">${cart.map((id) => `<li>${esc(PRODUCTS.find((p) => p.id === id)?.name ?? id)}</li>`).join('')}</ul>
${form(view, '/cart', '<input type="hidden" name="action" value="empty">', 'Empty the cart', 'inline')}`
    : '<p id="cart-empty">Your cart is empty.</p>';
  const products = PRODUCTS.map(
    (p) =>
      `<li>${esc(p.name)}, ${dollars(p.price)} ${form(view, '/cart', `<input type="hidden" name="item" value="${p.id}">`, `Add ${p.name}`, 'inline')}</li>`,
  ).join('');
  return layout(
    view,
    'Cart',
    `${who(view)}
<p>The cart lives in your session: add items before logging in, and they are still here after.</p>
<h2>In your cart</h2>${items}
<h2>Products</h2><ul class="products">${products}</ul>`,
  );
}

const BANK_NOTICES = {
  withdrew: `You withdrew ${dollars(WITHDRAWAL)}.`,
  refused: 'Refused: your balance is too low.',
};

export function bankPage(view, balance, notice) {
  if (!view.user)
    return layout(view, 'Bank', `${who(view)}<p><a href="/login">Log in</a> to see your account.</p>`);
  const text = BANK_NOTICES[notice];
  return layout(
    view,
    'Bank',
    `${who(view)}
${text ? `<p class="notice" role="status">${text}</p>` : ''}
<p>Your balance: <strong id="balance">${dollars(balance)}</strong></p>
${form(view, '/bank', '', `Withdraw ${dollars(WITHDRAWAL)}`)}
<p>The balance is kept per user on the server, so a withdrawal from any tab, device or process counts.</p>`,
  );
}

/**
 * "Your sessions". `fresh`: the user logged in recently enough for "log out all other devices"; otherwise
 * its form asks for the password again (which logs the user in anew). `notice` or `error`: a line above.
 */
export function sessionsPage(view, list, currentHandle, { notice, error, fresh = false } = {}) {
  if (!view.user)
    return layout(
      view,
      'Your sessions',
      `${who(view)}<p><a href="/login">Log in</a> to see your devices.</p>`,
    );
  const rows = list
    .map((s) => {
      const current = s.handle === currentHandle;
      const action = current
        ? 'This device'
        : form(
            view,
            '/sessions',
            `<input type="hidden" name="handle" value="${esc(s.handle)}">`,
            'Revoke',
            'inline',
          );
      const cells = [
        ['Device', esc(s.userAgent ?? 'unknown')],
        ['IP', esc(s.ip ?? '—')],
        ['Last seen', time(s.lastSeenAt)],
        ['Logged in', time(s.createdAt)],
        ['Cookie', s.persistent ? 'remembered' : 'session cookie'],
        ['Action', action],
      ];
      return `<tr${current ? ' class="current"' : ''}>${cells.map(([label, html]) => `<td data-label="${label}">${html}</td>`).join('')}</tr>`;
    })
    .join('');
  return layout(
    view,
    'Your sessions',
    `${who(view)}
${notice ? `<p class="notice" role="status" id="notice">${esc(notice)}</p>` : ''}
${error ? `<p class="error" role="alert" id="error">${esc(error)}</p>` : ''}
${scrolling(
  'Your sessions',
  `<table id="sessions"><caption>Every device logged in as ${esc(view.user)}</caption>
<thead><tr><th scope="col">Device (user agent)</th><th scope="col">IP</th><th scope="col">Last seen</th><th scope="col">Logged in</th><th scope="col">Cookie</th><th scope="col">Action</th></tr></thead>
<tbody>${rows}</tbody></table>`,
)}
${form(
  view,
  '/sessions',
  `<input type="hidden" name="action" value="others">${
    fresh
      ? ''
      : `<p id="step-up">Logging out your other devices needs a recent login: enter your password again.</p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="100"></p>
`
  }`,
  'Log out all other devices',
)}`,
  );
}

export function errorPage(view, title, message) {
  return layout(view, title, `<p class="error" id="error">${esc(message)}</p><p><a href="/">Home</a></p>`);
}
