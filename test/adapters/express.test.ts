/**
 * `teller/adapters/express` on Express 5, over real HTTP on 127.0.0.1: the shared adapter scenarios, then
 * what is Express's own: the cookie with res.redirect/res.json/a stream, `next(err)` for a store that is
 * down (503, `expose: false`) and Express's default answer to it without a stack trace (NODE_ENV unset, and
 * production), `trust proxy` deciding HTTPS.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expressSessions, SessionHttpError } from '../../src/adapters/express.js';
import { createSessionManager } from '../../src/index.js';
import { SessionStoreError } from '../../src/session/errors.js';
import type { SessionManager } from '../../src/session/manager.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import {
  adapterScenarios,
  httpCall as call,
  close,
  expectNoDetail,
  expectPlainError,
  FOREIGN_COOKIE,
  listen,
  probeStore,
  type ScenarioServer,
  TinyJar,
} from './helpers.js';

/** The scenario routes (helpers.ts, ScenarioApp), written the way an Express app is. */
function scenarioApp(
  manager: SessionManager,
  onError: (error: unknown) => void,
  framework: typeof express = express,
): Express {
  const app = framework();
  const read = (req: Request, res: Response) => {
    res.json({ user: req.session.userId ?? null, n: req.session.get('n') ?? 0, data: req.session.data() });
  };
  const add = (req: Request, res: Response) => {
    req.session.set(String(req.query.key ?? 'k'), true);
    res.json({ ok: true });
  };
  // The passive routes: a middleware of their own, before the app-wide one (which they never reach).
  const passive = expressSessions(manager, { onError, passive: true });
  app.get('/passive', passive, read);
  app.post('/passive/add', passive, add);
  app.use(expressSessions(manager, { onError }));
  app.get('/', read);
  app.post('/login', (req, res) => {
    req.session.login(String(req.query.user ?? 'alice'));
    res.redirect(303, '/');
  });
  app.post('/add', add);
  app.post('/incr', (req, res) => {
    req.session.update('n', (n) => (typeof n === 'number' ? n : 0) + 1);
    res.json({ ok: true });
  });
  app.post('/logout', (req, res) => {
    req.session.logout();
    res.redirect(303, '/');
  });
  app.get('/throw', (req) => {
    req.session.set('lost', 2);
    throw new Error('boom: internal detail that must not reach the client');
  });
  app.get('/stream', (req, res) => {
    req.session.set('s', 1);
    res.type('text/plain');
    res.write('a');
    res.write('b');
    res.end('c');
  });
  app.get('/slow-stream', (req, res) => {
    // The head goes out with the first write; the answer ends later.
    req.session.set('s', 2);
    res.type('text/plain');
    res.write('a');
    setTimeout(() => res.end('b'), 50);
  });
  return app;
}

async function serve(app: Express): Promise<ScenarioServer> {
  const server = createServer(app);
  const port = await listen(server);
  return { port, close: () => close(server) };
}

/** Express's own error page (finalhandler) for `status`, as it answers a `next(err)`. */
const expressPage =
  (reason: string) => (answer: { body: string; header(name: string): string | undefined }) => {
    expect(answer.header('content-type')).toMatch(/^text\/html/);
    expect(answer.body).toContain(`<pre>${reason}</pre>`);
  };

adapterScenarios('Express adapter', async (manager, onError) => serve(scenarioApp(manager, onError)), {
  // A read fails at load, a write at commit once the handler ended its answer: next(err) both, Express's page.
  unavailable: expressPage('Service Unavailable'),
  thrown: (answer) => expect(answer.header('content-type')).toMatch(/^text\/html/),
  limited: expressPage('Too Many Requests'),
});

// Express 4 (installed as the dev dependency `express4`, an alias of express@4): the same scenarios, the same
// answers (its error page is finalhandler's too).
const express4 = createRequire(import.meta.url)('express4') as typeof express;
adapterScenarios(
  'Express 4 adapter',
  async (manager, onError) => serve(scenarioApp(manager, onError, express4)),
  {
    unavailable: expressPage('Service Unavailable'),
    thrown: (answer) => expect(answer.header('content-type')).toMatch(/^text\/html/),
    limited: expressPage('Too Many Requests'),
  },
);

it('the Express 4 under test is Express 4', () => {
  const { version } = createRequire(import.meta.url)('express4/package.json') as { version: string };
  expect(version).toMatch(/^4\./);
});

describe('Express adapter: the cookie goes out with the headers', () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  let server: ScenarioServer;
  beforeAll(async () => {
    server = await serve(scenarioApp(manager, () => {}));
  });
  afterAll(async () => {
    await server.close();
    await manager.close();
  });

  it('res.redirect and res.json carry the cookie and the session headers', async () => {
    const jar = new TinyJar();
    const login = await call(server.port, 'POST', '/login?user=gina', { jar });
    expect(login.status).toBe(303);
    expect(login.setCookie).toHaveLength(1);
    expect(login.headers['cache-control']).toBe('no-store');
    const read = await call(server.port, 'GET', '/', { jar });
    expect(JSON.parse(read.body)).toMatchObject({ user: 'gina' });
    expect(read.headers.vary).toBe('Cookie');
  });

  it('res.write then res.end: the cookie is in the head, the body whole', async () => {
    const answer = await call(server.port, 'GET', '/stream');
    expect(answer.setCookie).toHaveLength(1);
    expect(answer.body).toBe('abc');
  });
});

describe('Express adapter: a store that is down goes to next(err)', () => {
  const store = probeStore(createMemoryStore({ cleanupInterval: 0 }));
  const manager = createSessionManager({ store });
  const seen: unknown[] = [];
  const reported: unknown[] = [];
  const servers: ScenarioServer[] = [];
  const saved = process.env.NODE_ENV;

  /** The scenario app created with NODE_ENV as given (Express reads it when the app is made). */
  async function appWith(nodeEnv: string | undefined, handler?: ErrorRequestHandler): Promise<number> {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
    try {
      const app = scenarioApp(manager, (error) => reported.push(error));
      if (handler) app.use(handler);
      const server = await serve(app);
      servers.push(server);
      return server.port;
    } finally {
      process.env.NODE_ENV = saved;
    }
  }

  afterAll(async () => {
    store.mode = 'up';
    for (const server of servers) await server.close();
    await manager.close();
  });

  it("the app's error handler gets an error of status 503, expose false, the store error as its cause", async () => {
    const port = await appWith('production', (error, _req, res, _next) => {
      seen.push(error);
      res.status(error.status).send('handled by the app');
    });
    store.mode = 'throw';
    reported.length = 0;
    // A load that fails, and a commit that fails once the handler ended its answer (res.json).
    const read = await call(port, 'GET', '/', { headers: { cookie: FOREIGN_COOKIE } });
    const write = await call(port, 'POST', '/add');
    store.mode = 'up';
    for (const answer of [read, write]) {
      expect(answer.status).toBe(503);
      expect(answer.body).toBe('handled by the app');
      expect(answer.setCookie).toEqual([]);
      expect(answer.headers.vary).toBeUndefined();
    }
    expect(seen).toHaveLength(2);
    for (const error of seen as SessionHttpError[]) {
      expect(error).toBeInstanceOf(SessionHttpError);
      expect(error).toMatchObject({
        status: 503,
        statusCode: 503,
        expose: false,
        message: 'Service Unavailable',
      });
      expect(error.cause).toBeInstanceOf(SessionStoreError);
    }
    expect(reported).toEqual(seen.map((error) => (error as Error).cause));
  });

  it('a streamed answer whose commit fails before it ended gets the plain 503; its later calls go nowhere', async () => {
    const port = await appWith('production');
    store.mode = 'throw';
    const answer = await call(port, 'GET', '/slow-stream');
    await new Promise((resolve) => setTimeout(resolve, 100)); // its res.end('b') came and went
    store.mode = 'up';
    expectPlainError(answer, 503);
    expect(answer.setCookie).toEqual([]);
    expect((await call(port, 'GET', '/')).status).toBe(200);
  });

  for (const nodeEnv of [undefined, 'development', 'production']) {
    it(`Express's default answer shows no stack trace (NODE_ENV ${nodeEnv ?? 'unset'})`, async () => {
      const port = await appWith(nodeEnv);
      for (const mode of ['throw', 'hang'] as const) {
        store.mode = mode;
        const answer = await call(port, 'GET', '/', { headers: { cookie: FOREIGN_COOKIE } });
        store.mode = 'up';
        expect(answer.status).toBe(503);
        expressPage('Service Unavailable')(answer);
        expectNoDetail(answer);
        expect(answer.body).not.toMatch(/SessionHttpError|Error:|\n\s+at /);
        expect(answer.setCookie).toEqual([]);
      }
      expect((await call(port, 'GET', '/')).status).toBe(200);
    });
  }
});

describe("Express adapter: HTTPS as Express's `trust proxy` says", () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  const servers: ScenarioServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
    await manager.close();
  });

  it('X-Forwarded-Proto counts only when the app trusts the proxy', async () => {
    const plain = scenarioApp(manager, () => {});
    const trusting = scenarioApp(manager, () => {});
    trusting.set('trust proxy', 'loopback');
    for (const app of [plain, trusting]) servers.push(await serve(app));
    const headers = { host: 'shop.example', 'x-forwarded-proto': 'https' };
    const untrusted = await call(servers[0]!.port, 'POST', '/add', { headers });
    expect(untrusted.setCookie[0]).toMatch(/^sid=/);
    const trusted = await call(servers[1]!.port, 'POST', '/add', { headers });
    expect(trusted.setCookie[0]).toMatch(/^__Host-Http-sid=.*;\s*HttpOnly;\s*Secure/i);
  });
});
