import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeSessions, type SessionRequest } from '../../src/adapters/node.js';
import { createSessionManager } from '../../src/index.js';
import { SessionConflictError } from '../../src/session/errors.js';
import { DEFAULTS } from '../../src/session/options.js';
import type { Session } from '../../src/session/session.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import {
  adapterScenarios,
  httpCall as call,
  httpCaller as caller,
  close,
  expectAnswerPersistingNothing,
  FOREIGN_COOKIE,
  forwardedClientScenario,
  listen,
  type ProbeStore,
  probeStore,
  slowSiblingScenario,
  TinyJar,
} from './helpers.js';

/** The test app: one route per behaviour, written the way a node:http app would be. */
function app(req: SessionRequest<Session>, res: import('node:http').ServerResponse): void | Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const session = req.session;
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  // `/passive` and `/passive/add` are `/` and `/add` served by a listener wrapped with `{ passive: true }`.
  switch (url.pathname.replace(/^\/passive(?=\/|$)/, '') || '/') {
    case '/':
      return send(200, { user: session.userId ?? null, n: session.get('n') ?? 0, data: session.data() });
    case '/static':
      return send(200, { static: true });
    case '/login':
      session.login(url.searchParams.get('user') ?? 'alice');
      res.writeHead(303, { Location: '/' }).end();
      return;
    case '/add':
      session.set(url.searchParams.get('key') ?? 'k', true);
      return send(200, { ok: true });
    case '/incr':
      session.update('n', (n) => (typeof n === 'number' ? n : 0) + 1);
      return send(200, { ok: true });
    case '/logout':
      session.logout();
      res.writeHead(303, { Location: '/' }).end();
      return;
    case '/cached':
      res.setHeader('Cache-Control', 'public, max-age=60');
      res.setHeader('Vary', 'Accept-Encoding');
      session.set('c', 1);
      res.end('cached?');
      return;
    case '/own-cookie':
      session.set('o', 1);
      res.writeHead(200, { 'Set-Cookie': 'theme=dark; Path=/', 'Content-Type': 'text/plain' });
      res.end('two cookies');
      return;
    case '/status-message':
      session.set('m', 1);
      res.writeHead(201, 'Made It', { 'X-A': '1' }).end('made');
      return;
    case '/raw-headers':
      session.set('r', 1);
      res.writeHead(200, ['X-B', '2', 'Set-Cookie', 'a=1; Path=/', 'Set-Cookie', 'b=2; Path=/']);
      res.end('raw');
      return;
    case '/stream':
      session.set('s', 1);
      res.flushHeaders();
      res.write('a');
      res.write('b');
      res.end('c');
      return;
    case '/later':
      // Answers from a callback, after the listener returned.
      session.set('later', 1);
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          res.statusCode = 302;
          res.setHeader('Location', '/');
          res.end();
          resolve();
        }, 20),
      );
    case '/hang':
      // Reads the session (holding its lock) and never answers.
      session.get('n');
      return;
    case '/slow': {
      // Reads the session, takes its time, then writes what it read plus one.
      const n = (session.get('n') as number | undefined) ?? 0;
      return new Promise<void>((resolve) =>
        setTimeout(
          () => {
            session.update('n', (current) => (typeof current === 'number' ? current : n) + 1);
            send(200, { ok: true });
            resolve();
          },
          Number(url.searchParams.get('ms') ?? 0),
        ),
      );
    }
    case '/fail-after-write':
      session.set('lost', 1);
      res.statusCode = 500;
      res.end('failed on purpose');
      return;
    case '/throw-midway':
      session.get('n');
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('partial');
      return new Promise((_, reject) => setTimeout(() => reject(new Error('failed mid-stream')), 20));
    case '/conflict':
      session.set('lost', 3);
      throw new SessionConflictError('[teller] [test] someone else changed the cart');
    case '/throw':
      session.set('lost', 2);
      throw new Error('boom: internal detail that must not reach the client');
    default:
      return send(404, { error: 'not found' });
  }
}

// The shared scenarios (first visit to replay, store down, a handler that throws), on the app above.
adapterScenarios('node:http adapter', async (manager, onError) => {
  const sessions = createNodeSessions(manager, { onError });
  const ordinary = sessions.wrap(app);
  const passive = sessions.wrap(app, { passive: true });
  const server = createServer((req, res) => (req.url?.startsWith('/passive') ? passive : ordinary)(req, res));
  return { port: await listen(server), close: () => close(server) };
});

describe('node:http adapter, end to end on 127.0.0.1', () => {
  const inner = createMemoryStore({ cleanupInterval: 0 });
  const store: ProbeStore = probeStore(inner);
  const manager = createSessionManager({ store });
  const errors: unknown[] = [];
  const sessions = createNodeSessions(manager, { onError: (e) => errors.push(e) });
  const server = createServer(sessions.wrap(app));
  let port = 0;
  const client = caller(() => port);

  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
    await manager.close?.();
  });

  it('a 7 s handler and a hanging one never hold up the fast requests of their session', async () => {
    await slowSiblingScenario({ call: client, errors }, DEFAULTS.lockTimeout);
  }, 15_000);

  it('a route that never touches the session gets neither Vary nor Set-Cookie', async () => {
    const answer = await call(port, 'GET', '/static');
    expect(answer.headers.vary).toBeUndefined();
    expect(answer.setCookie).toEqual([]);
  });

  it('Set-Cookie forces Cache-Control: no-store and Cookie joins an existing Vary', async () => {
    const answer = await call(port, 'GET', '/cached');
    expect(answer.setCookie).toHaveLength(1);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers.vary).toBe('Accept-Encoding, Cookie');
  });

  it('keeps the Set-Cookie a handler passes to writeHead next to the session cookie', async () => {
    const answer = await call(port, 'GET', '/own-cookie');
    expect(answer.setCookie).toHaveLength(2);
    expect(answer.setCookie[0]).toBe('theme=dark; Path=/');
    expect(answer.setCookie[1]).toMatch(/^sid=/);
    expect(answer.body).toBe('two cookies');
  });

  it('writeHead with a status message and headers, or a flat header array, keeps them all', async () => {
    const made = await call(port, 'POST', '/status-message');
    expect(made.status).toBe(201);
    expect(made.headers['x-a']).toBe('1');
    expect(made.setCookie).toHaveLength(1);
    expect(made.body).toBe('made');
    const raw = await call(port, 'POST', '/raw-headers');
    expect(raw.headers['x-b']).toBe('2');
    expect(raw.setCookie.map((line) => line.split('=')[0])).toEqual(['a', 'b', 'sid']);
  });

  it('streams: flushHeaders then writes, in order, with the cookie in the head', async () => {
    const answer = await call(port, 'GET', '/stream');
    expect(answer.body).toBe('abc');
    expect(answer.setCookie).toHaveLength(1);
  });

  it('an answer sent from a callback after the listener returned still carries the cookie', async () => {
    const answer = await call(port, 'GET', '/later');
    expect(answer.status).toBe(302);
    expect(answer.setCookie).toHaveLength(1);
    expect(await inner.count()).toBeGreaterThan(0);
  });

  it('a 5xx answer persists nothing and sets no cookie', async () => {
    await expectAnswerPersistingNothing(
      { call: client, inner },
      '/fail-after-write',
      500,
      'failed on purpose',
    );
  });

  it('a handler that throws gets a plain 500 without stack or message, persists nothing, and the server lives on', async () => {
    errors.length = 0;
    await expectAnswerPersistingNothing({ call: client, inner }, '/throw', 500, 'Internal Server Error\n');
    expect(errors).toHaveLength(1);
    expect((await call(port, 'GET', '/static')).status).toBe(200);
  });

  it('a handler that fails after its headers went out has its connection cut, not left hanging', async () => {
    const outcome = await call(port, 'GET', '/throw-midway').then(
      () => 'completed',
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(outcome).toBe('ECONNRESET');
    expect((await call(port, 'GET', '/static')).status).toBe(200);
  });

  it('a session error thrown by the handler answers its status (409) in plain text and persists nothing', async () => {
    await expectAnswerPersistingNothing({ call: client, inner }, '/conflict', 409, 'Conflict\n');
  });

  it('HTTPS is judged from the socket: plain HTTP on a non-loopback host gets a plain `sid` cookie', async () => {
    const answer = await call(port, 'GET', '/add', {
      headers: { host: 'shop.example', 'x-forwarded-proto': 'https' },
    });
    expect(answer.setCookie[0]).toMatch(/^sid=/);
    expect(answer.setCookie[0]).not.toMatch(/;\s*Secure/i);
  });
});

describe('node:http adapter behind a trusted proxy', () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  const sessions = createNodeSessions(manager, { trustProxy: true, onError: () => {} });
  const server = createServer(sessions.wrap(app));
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
  });

  it('X-Forwarded-Proto: https makes the cookie Secure and __Host- prefixed', async () => {
    const answer = await call(port, 'GET', '/add', {
      headers: { host: 'shop.example', 'x-forwarded-proto': 'https' },
    });
    expect(answer.setCookie[0]).toMatch(/^__Host-Http-sid=/);
    expect(answer.setCookie[0]).toMatch(/;\s*Secure/i);
  });

  it('X-Forwarded-Proto: http on a public host gives a plain cookie', async () => {
    const answer = await call(port, 'GET', '/add', {
      headers: { host: 'shop.example', 'x-forwarded-proto': 'http' },
    });
    expect(answer.setCookie[0]).toMatch(/^sid=/);
  });

  it('the client address and user agent reach the record (left-most X-Forwarded-For)', async () => {
    await forwardedClientScenario(
      caller(() => port),
      manager,
    );
  });
});

describe('node:http adapter: the lock of an abandoned request', () => {
  const manager = createSessionManager({
    store: createMemoryStore({ cleanupInterval: 0 }),
    lockTimeout: 3_000,
  });
  const server = createServer(createNodeSessions(manager, { onError: () => {} }).wrap(app));
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await close(server);
  });

  it('a client that goes away before the answer releases the session at once, not at the lock timeout', async () => {
    const jar = new TinyJar();
    await call(port, 'POST', '/login?user=carol', { jar });
    const cookie = jar.header()!;
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/hang', headers: { cookie } });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 100);
    });
    const next = await call(port, 'GET', '/', { jar });
    expect(next.status).toBe(200);
    expect(JSON.parse(next.body)).toMatchObject({ user: 'carol' });
    expect(next.elapsed).toBeLessThan(1_000);
  });
});

describe('node:http adapter as Connect-style middleware (Express 5)', () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  const sessions = createNodeSessions(manager, { onError: () => {} });
  const expressApp = express();
  expressApp.use(sessions.middleware);
  expressApp.post('/login', (req, res) => {
    (req as unknown as SessionRequest<Session>).session.login('dave');
    res.redirect(303, '/');
  });
  expressApp.get('/', (req, res) => {
    res.json({ user: (req as unknown as SessionRequest<Session>).session.userId ?? null });
  });
  const server = createServer(expressApp);
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
  });

  it("res.redirect and res.json carry the session's cookie and see the login", async () => {
    const jar = new TinyJar();
    const login = await call(port, 'POST', '/login', { jar });
    expect(login.status).toBe(303);
    expect(login.setCookie).toHaveLength(1);
    expect(login.headers['cache-control']).toBe('no-store');
    const read = await call(port, 'GET', '/', { jar });
    expect(JSON.parse(read.body)).toEqual({ user: 'dave' });
    expect(read.headers.vary).toMatch(/Cookie/);
  });
});

describe('node:http adapter: per-route request options (Express 5)', () => {
  const manager = createSessionManager({
    store: createMemoryStore({ cleanupInterval: 0 }),
    lockTimeout: 2_000,
  });
  const sessions = createNodeSessions(manager, { onError: () => {} });
  const expressApp = express();
  const session = (req: unknown) => (req as SessionRequest<Session>).session;
  // A long poll that must neither wait for nor hold up the other requests of its session.
  expressApp.get('/poll', sessions.route({ lock: false }), (req, res) => {
    session(req).get('n');
    setTimeout(() => res.json({ polled: true }), 1_000);
  });
  expressApp.use(sessions.middleware);
  expressApp.post('/login', (req, res) => {
    session(req).login('erin');
    res.redirect(303, '/');
  });
  expressApp.get('/slow', (req, res) => {
    session(req).get('n');
    setTimeout(() => res.json({ slow: true }), 1_000);
  });
  expressApp.get('/', (req, res) => {
    res.json({ user: session(req).userId ?? null });
  });
  const server = createServer(expressApp);
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
  });

  it('a { lock: false } route holds no lock: the requests beside it do not wait', async () => {
    const jar = new TinyJar();
    await call(port, 'POST', '/login', { jar });
    const poll = call(port, 'GET', '/poll', { jar });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const read = await call(port, 'GET', '/', { jar });
    expect(JSON.parse(read.body)).toEqual({ user: 'erin' });
    expect(read.elapsed).toBeLessThan(500);
    expect((await poll).status).toBe(200);
  });

  it('nor does it wait for a request holding the lock (a slow one takes it, lockTimeout 2 s here)', async () => {
    const jar = new TinyJar();
    await call(port, 'POST', '/login', { jar });
    const slow = call(port, 'GET', '/slow', { jar });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    const poll = await call(port, 'GET', '/poll', { jar });
    expect(poll.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1_500); // its own 1 s, not the slow one's lock
    expect((await slow).status).toBe(200);
  });
});

describe('node:http adapter: a passive route through route({ passive: true }) (Express 5)', () => {
  let now = Date.now();
  const start = now;
  const manager = createSessionManager({
    store: createMemoryStore({ cleanupInterval: 0 }),
    clock: () => now,
  });
  const sessions = createNodeSessions(manager, { onError: () => {} });
  const expressApp = express();
  const session = (req: unknown) => (req as SessionRequest<Session>).session;
  expressApp.get('/status', sessions.route({ passive: true }), (req, res) => {
    res.json({ user: session(req).userId ?? null });
  });
  expressApp.use(sessions.middleware);
  expressApp.post('/login', (req, res) => {
    session(req).login('erin');
    res.redirect(303, '/');
  });
  expressApp.get('/', (req, res) => {
    res.json({ user: session(req).userId ?? null });
  });
  const server = createServer(expressApp);
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
    await manager.close();
  });

  it('polled every minute the session ends at its idle timeout; polled through the middleware it lives', async () => {
    for (const path of ['/status', '/']) {
      now = start;
      const jar = new TinyJar();
      await call(port, 'POST', '/login', { jar });
      for (let minute = 1; minute <= 31; minute++) {
        now = start + minute * 60_000;
        const poll = await call(port, 'GET', path, { jar });
        const alive = path === '/' || minute < 30;
        expect(JSON.parse(poll.body), `${path} at minute ${minute}`).toEqual({ user: alive ? 'erin' : null });
        if (path === '/status') expect(poll.setCookie).toEqual([]);
      }
    }
  });
});

/** A throwaway self-signed certificate for 127.0.0.1 (undefined when openssl is missing). */
function testCertificate(): { key: Buffer; cert: Buffer } | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'teller-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    return { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('node:http adapter over TLS', () => {
  const tls = testCertificate();

  it.skipIf(tls === undefined)(
    'a TLS socket makes the cookie Secure and __Host- prefixed, whatever the Host',
    async () => {
      const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
      const server = createHttpsServer(tls!, createNodeSessions(manager, { onError: () => {} }).wrap(app));
      const port = await listen(server as unknown as Server);
      try {
        const setCookie = await new Promise<string[]>((resolve, reject) => {
          const req = httpsRequest(
            {
              host: '127.0.0.1',
              port,
              path: '/add',
              headers: { host: 'shop.example' },
              rejectUnauthorized: false,
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.headers['set-cookie'] ?? []));
            },
          );
          req.on('error', reject);
          req.end();
        });
        expect(setCookie[0]).toMatch(/^__Host-Http-sid=.*;\s*HttpOnly;\s*Secure/i);
      } finally {
        await close(server);
      }
    },
  );
});

describe('node:http adapter with a logger that throws', () => {
  it('still answers 503 and keeps serving', async () => {
    const store = probeStore(createMemoryStore({ cleanupInterval: 0 }));
    store.mode = 'throw';
    const manager = createSessionManager({ store });
    const onError = () => {
      throw new Error('the logger is broken too');
    };
    const server = createServer(createNodeSessions(manager, { onError }).wrap(app));
    const port = await listen(server);
    try {
      expect((await call(port, 'GET', '/', { headers: { cookie: FOREIGN_COOKIE } })).status).toBe(503);
      expect((await call(port, 'GET', '/throw')).status).toBe(500);
      store.mode = 'up';
      expect((await call(port, 'GET', '/static')).status).toBe(200);
    } finally {
      await close(server);
    }
  });
});
