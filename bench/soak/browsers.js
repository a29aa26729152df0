/**
 * The soak's simulated browsers (bench/soak.js) and the ledger they keep of what the apps acknowledged.
 *
 * Each browser has its own cookie jar (Teller's CookieJar, for 127.0.0.1: cookies ignore the port, so the
 * three app processes on their ports are one site behind a round-robin balancer) and a closed loop: an action,
 * then a random think time. Actions: a first visit (GET /session), cart adds (items named after the browser, so
 * a session that shows another browser's item is caught), a login as the browser's user (several browsers per
 * user), bursts of concurrent withdrawals from the user's account (POST /bank/withdraw, 100 each), checks
 * (GET /session, compared with the ledger) and a logout (after a check), sometimes followed by a new visitor.
 *
 * The ledger, per browser: the user it is logged in as, the cart items answered 200 (each must be there at every
 * later check), and the failed writes by when they were sent: a write sent while the store was down (from the
 * end of its stop to the grace after it came back) and answered with an error is `refused` and must never show
 * up; one in flight while the store was stopping (a stopping server still finishes some work, and an answer in
 * a killed server's socket buffer is lost), or answered after the apps' store timeout (a timed-out call is not
 * cancelled), is `maybe` and may show up or not. A login or logout that is `maybe` leaves the browser unsure
 * of its state until its next check, which accepts either outcome and adopts it; a login that landed but whose
 * answer was lost leaves the browser's acknowledged cart items under the new id it never got, so those are
 * looked for in the store itself at the end. Per user: the withdrawals answered 200, `refused` and `maybe`,
 * compared at the end with the balance the store holds.
 */
import { Agent, request as httpRequest } from 'node:http';
import { CookieJar } from 'teller/jar';

const ORIGIN = 'http://127.0.0.1/';
const REQUEST_TIMEOUT_MS = 10_000;
export const WITHDRAWAL = 100;
const MAX_CART = 40;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The run's counters and records, filled by every request. */
export function createStats() {
  return {
    requests: 0,
    latencies: [],
    /** Every error answer: { kind, started, ended } (kind: the status, or the client error's code). */
    errors: [],
    writes: {
      cart: { acked: 0, verified: 0, refused: 0, maybe: 0, landed: 0 },
      login: { acked: 0, verified: 0, refused: 0, maybe: 0 },
      logout: { acked: 0, verified: 0, refused: 0, maybe: 0 },
      withdrawal: { acked: 0, verified: 0, refused: 0, maybe: 0 },
    },
    /** Violations by kind: { count, examples[] }. */
    violations: new Map(),
  };
}

export function violate(stats, kind, example) {
  let entry = stats.violations.get(kind);
  if (entry === undefined) {
    entry = { count: 0, examples: [] };
    stats.violations.set(kind, entry);
  }
  entry.count++;
  if (entry.examples.length < 5) entry.examples.push(example);
}

/**
 * The traffic of one run: `apps` (their ports), `outages` (filled by the caller while it runs: { start, down,
 * end } in performance.now() ms: the stop began, the stop was over, the store was up again; undefined until
 * then), `graceMs` after each.
 */
export function createTraffic({
  apps,
  browsers,
  users,
  outages,
  graceMs,
  thinkMs,
  storeTimeoutMs,
  stats,
  t0,
}) {
  // One keep-alive agent per app process, shared by the browsers as a balancer's pool would be; a free socket
  // is dropped after 4 s, before the server's 5 s keep-alive timeout could close it under a request.
  const agents = apps.map(
    () => new Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000, scheduling: 'fifo' }),
  );
  let turn = 0;

  function send(browser, method, path) {
    const index = turn++ % apps.length;
    const cookie = browser.jar.getCookieHeader(ORIGIN);
    const headers = method === 'POST' ? { 'content-length': '0' } : {};
    if (cookie !== '') headers.cookie = cookie;
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const done = (status, body, kind) => {
        if (settled) return;
        settled = true;
        const ended = performance.now();
        stats.requests++;
        stats.latencies.push(ended - started);
        if (status !== 200) stats.errors.push({ kind: kind ?? status, started, ended, method, path });
        browser.history.push(
          `${((started - t0) / 1000).toFixed(2)}-${((ended - t0) / 1000).toFixed(2)} s ${method} ${path} ${kind ?? status}`,
        );
        if (browser.history.length > 12) browser.history.shift();
        resolve({ status, body, started, ended });
      };
      const req = httpRequest(
        { host: '127.0.0.1', port: apps[index].port, method, path, headers, agent: agents[index] },
        (res) => {
          for (const line of res.headers['set-cookie'] ?? []) browser.jar.setCookie(line, ORIGIN);
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => {
            let body;
            try {
              body = JSON.parse(text);
            } catch {
              body = undefined;
            }
            done(res.statusCode ?? 0, body);
          });
          res.on('error', (error) => done(0, undefined, error.code ?? 'response error'));
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () =>
        req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })),
      );
      req.on('error', (error) => done(0, undefined, error.code ?? 'request error'));
      req.end();
    });
  }

  /** How a failed write counts: `refused` (sent while the store was down) or `maybe` (it may have landed). */
  function failure(answer) {
    // An error answered after the apps' storeTimeout may be a timed-out call, which is not cancelled.
    if (answer.ended - answer.started >= storeTimeoutMs) return 'maybe';
    // Sent once the stop was over (not while it ran: a server that is stopping still finishes some work).
    for (const { down, end } of outages) {
      if (
        down !== undefined &&
        answer.started >= down &&
        answer.started <= (end ?? Number.POSITIVE_INFINITY) + graceMs
      )
        return 'refused';
    }
    return 'maybe';
  }

  /** Acknowledged cart items held only by a session whose id the browser never got (see verify). */
  const orphans = [];
  const accounts = Array.from({ length: users }, () => ({ acked: 0, refused: 0, maybe: 0 }));

  function newBrowser(i) {
    return {
      i,
      marker: `b${i}`,
      userId: `u${i % users}`,
      account: accounts[i % users],
      jar: new CookieJar(),
      visited: false,
      user: null,
      seq: 0,
      /** Cart items answered 200, each: whether a check saw it yet. */
      acked: new Map(),
      maybe: new Set(),
      refused: new Set(),
      unsure: undefined,
      pending: { login: 0, logout: 0 },
      /** The next action is a check (after a login or logout, to see it). */
      checkNext: false,
      /** Its last requests, for the examples of a violation. */
      history: [],
    };
  }

  /** Compares a 200 GET /session with the ledger; adopts the outcome of an unsure login or logout. */
  function verify(b, body) {
    const fault = (kind, example) => violate(stats, kind, `${example} [${b.history.join(' | ')}]`);
    const cart = new Set(body.cart);
    const foreign = body.cart.filter((item) => !String(item).startsWith(`${b.marker}.`));
    if (foreign.length > 0) fault('a session shows another browser’s cart', `${b.marker}: ${foreign[0]}`);
    if (b.unsure !== undefined) {
      const { kind, from, to } = b.unsure;
      const allowed = kind === 'login' ? [from, to] : [from, null];
      if (!allowed.includes(body.user))
        fault('a session shows the wrong user', `${b.marker}: ${body.user} after a ${kind} of ${from}`);
      if (kind === 'logout' && body.user === null && from !== null) {
        b.acked.clear();
        b.maybe.clear();
      }
      // A login that landed but whose answer was lost: the old id was retired and its data lives on under the
      // new one, which the browser never got. Its acknowledged items must still be in the store (checked there
      // at the end).
      if (kind === 'login' && body.user === from && body.cart.length === 0 && b.acked.size > 0) {
        for (const [item, seen] of b.acked) orphans.push({ item, seen });
        b.acked.clear();
        b.maybe.clear();
      }
      b.user = body.user;
      b.unsure = undefined;
    } else if (body.user !== b.user) {
      fault('a session shows the wrong user', `${b.marker}: ${body.user}, expected ${b.user}`);
      b.user = body.user;
    } else {
      const kind = b.user === null ? 'logout' : 'login';
      stats.writes[kind].verified += b.pending[kind];
      b.pending[kind] = 0;
    }
    for (const [item, seen] of b.acked) {
      if (!cart.has(item)) {
        fault('an acknowledged cart write is missing', `${b.marker}: ${item}`);
        b.acked.delete(item);
      } else if (!seen) {
        b.acked.set(item, true);
        stats.writes.cart.verified++;
      }
    }
    for (const item of cart) {
      if (b.acked.has(item) || foreign.includes(item)) continue;
      if (b.maybe.delete(item)) {
        b.acked.set(item, true);
        stats.writes.cart.landed++;
      } else if (b.refused.has(item))
        fault('a cart write answered with an error landed', `${b.marker}: ${item}`);
      else fault('a cart item nobody sent', `${b.marker}: ${item}`);
    }
  }

  async function check(b) {
    const answer = await send(b, 'GET', '/session');
    if (answer.status !== 200 || answer.body === undefined) return false;
    verify(b, answer.body);
    return true;
  }

  async function addToCart(b) {
    const item = `${b.marker}.${++b.seq}`;
    const answer = await send(b, 'POST', `/cart?item=${encodeURIComponent(item)}`);
    if (answer.status === 200) {
      b.acked.set(item, false);
      stats.writes.cart.acked++;
      return;
    }
    const how = failure(answer);
    stats.writes.cart[how]++;
    (how === 'refused' ? b.refused : b.maybe).add(item);
  }

  async function login(b) {
    const answer = await send(b, 'POST', `/login?user=${b.userId}`);
    if (answer.status === 200) {
      b.user = b.userId;
      stats.writes.login.acked++;
      b.pending.login++;
      b.checkNext = true;
      return;
    }
    const how = failure(answer);
    stats.writes.login[how]++;
    if (how === 'maybe') b.unsure = { kind: 'login', from: b.user, to: b.userId };
  }

  async function logout(b) {
    // The cart is checked first: the logout ends it.
    if (!(await check(b)) || b.unsure !== undefined) return;
    const answer = await send(b, 'POST', '/logout');
    if (answer.status === 200) {
      b.user = null;
      b.acked.clear();
      b.maybe.clear();
      stats.writes.logout.acked++;
      b.pending.logout++;
      b.checkNext = true;
      // Half the time a new visitor takes the browser's place: a first visit without a cookie next.
      if (Math.random() < 0.5) {
        b.jar.clear();
        b.visited = false;
      }
      return;
    }
    const how = failure(answer);
    stats.writes.logout[how]++;
    if (how === 'maybe') b.unsure = { kind: 'logout', from: b.user };
  }

  async function withdraw(b) {
    const burst = 2 + Math.floor(Math.random() * 3);
    const answers = await Promise.all(Array.from({ length: burst }, () => send(b, 'POST', '/bank/withdraw')));
    for (const answer of answers) {
      if (answer.status === 200) {
        b.account.acked++;
        stats.writes.withdrawal.acked++;
      } else if (answer.status === 401) {
        violate(stats, 'a logged-in session lost its user', `${b.marker}: expected ${b.user}`);
      } else {
        const how = failure(answer);
        b.account[how]++;
        stats.writes.withdrawal[how]++;
      }
    }
  }

  /** One action of a browser, by its state. */
  async function step(b) {
    if (!b.visited) {
      if (await check(b)) b.visited = true;
      return;
    }
    if (b.unsure !== undefined || b.checkNext) {
      if (await check(b)) b.checkNext = false;
      return;
    }
    const r = Math.random();
    if (b.user === null) {
      if (b.acked.size >= MAX_CART || r < 0.4) return login(b);
      if (r < 0.8) return addToCart(b);
      return void (await check(b));
    }
    if (b.acked.size >= MAX_CART || r < 0.15) return logout(b);
    if (r < 0.45) return addToCart(b);
    if (r < 0.7) return withdraw(b);
    return void (await check(b));
  }

  const all = Array.from({ length: browsers }, (_, i) => newBrowser(i));

  /** Runs every browser until `until` (performance.now() ms); they start spread over the first seconds. */
  async function run(until) {
    const think = () => thinkMs * (0.2 + 1.6 * Math.random());
    await Promise.all(
      all.map(async (b) => {
        await sleep(Math.random() * Math.min(5_000, thinkMs * 2));
        while (performance.now() < until) {
          await step(b);
          await sleep(think());
        }
      }),
    );
  }

  /**
   * The final pass, once the store is up: each browser checks its session until a check is answered 200
   * (bounded), then every acknowledged item must have been seen.
   */
  async function finalChecks(deadline) {
    let next = 0;
    const worker = async () => {
      while (next < all.length) {
        const b = all[next++];
        while (!(await check(b))) {
          if (performance.now() > deadline) {
            violate(stats, 'a final check was never answered 200', b.marker);
            break;
          }
          await sleep(200);
        }
        for (const [item, seen] of b.acked)
          if (!seen) violate(stats, 'an acknowledged cart write was never seen', `${b.marker}: ${item}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
  }

  function close() {
    for (const agent of agents) agent.destroy();
  }

  return { run, finalChecks, accounts, orphans, close };
}
