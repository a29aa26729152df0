/**
 * `teller/adapters/fastify` on Fastify 5, over real HTTP on 127.0.0.1: the shared adapter scenarios, then
 * what is Fastify's own: encapsulation (registered in one context, the routes outside have no session), the
 * commit in onSend (the cookie set before the reply is sent, a stream included), store errors through
 * Fastify's error handler (503, no stack), `trustProxy` deciding HTTPS.
 */
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastifySessions, SessionHttpError } from '../../src/adapters/fastify.js';
import { createSessionManager } from '../../src/index.js';
import { SessionStoreError } from '../../src/session/errors.js';
import type { SessionManager } from '../../src/session/manager.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import {
  type AdapterAnswer,
  adapterScenarios,
  httpCall as call,
  expectNoDetail,
  FOREIGN_COOKIE,
  probeStore,
  type ScenarioServer,
  TinyJar,
} from './helpers.js';

/** The scenario routes (helpers.ts, ScenarioApp) as a Fastify plugin of their own. */
async function read(request: FastifyRequest) {
  return {
    user: request.session.userId ?? null,
    n: request.session.get('n') ?? 0,
    data: request.session.data(),
  };
}

async function add(request: FastifyRequest) {
  request.session.set(String((request.query as { key?: string }).key ?? 'k'), true);
  return { ok: true };
}

async function routes(app: FastifyInstance): Promise<void> {
  app.get('/', read);
  app.post('/login', async (request, reply) => {
    request.session.login(String((request.query as { user?: string }).user ?? 'alice'));
    return reply.redirect('/', 303);
  });
  app.post('/add', add);
  app.post('/incr', async (request) => {
    request.session.update('n', (n) => (typeof n === 'number' ? n : 0) + 1);
    return { ok: true };
  });
  app.post('/logout', async (request, reply) => {
    request.session.logout();
    return reply.redirect('/', 303);
  });
  app.get('/throw', async (request) => {
    request.session.set('lost', 2);
    throw new Error('boom: internal detail that must not reach the client');
  });
  app.get('/stream', async (request, reply) => {
    request.session.set('s', 1);
    reply.type('text/plain');
    return reply.send(Readable.from(['a', 'b', 'c']));
  });
}

async function serve(app: FastifyInstance): Promise<ScenarioServer> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, close: () => app.close() };
}

/**
 * The scenario app. Request options are per context in Fastify (the plugin's hooks belong to the context that
 * registers it): the ordinary routes (and `more`, routes a test adds) in one context, the passive routes in a
 * sibling context whose plugin has `{ passive: true }`.
 */
async function scenarioApp(
  manager: SessionManager,
  onError: (error: unknown) => void,
  trustProxy = false,
  more?: (scope: FastifyInstance) => void,
) {
  const app = Fastify({ trustProxy });
  await app.register(async (scope) => {
    await scope.register(fastifySessions, { manager, onError });
    await scope.register(routes);
    more?.(scope);
  });
  await app.register(async (scope) => {
    await scope.register(fastifySessions, { manager, onError, passive: true });
    scope.get('/passive', read);
    scope.post('/passive/add', add);
  });
  return app;
}

/** Fastify's default error answer: JSON with the status's reason, and nothing else of the error. */
const fastifyError = (status: number, reason: string) => (answer: AdapterAnswer) => {
  expect(answer.header('content-type')).toMatch(/^application\/json/);
  expect(JSON.parse(answer.body)).toMatchObject({ statusCode: status, error: reason });
};

adapterScenarios('Fastify adapter', async (manager, onError) => serve(await scenarioApp(manager, onError)), {
  unavailable: (answer) => {
    fastifyError(503, 'Service Unavailable')(answer);
    expect(JSON.parse(answer.body)).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'Service Unavailable',
    });
  },
  thrown: fastifyError(500, 'Internal Server Error'),
  limited: fastifyError(429, 'Too Many Requests'),
});

describe('Fastify adapter: encapsulation', () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  let server: ScenarioServer;
  beforeAll(async () => {
    const app = Fastify();
    await app.register(async (account) => {
      await account.register(fastifySessions, { manager });
      account.get('/account', async (request) => {
        request.session.set('seen', true);
        return { session: typeof request.session };
      });
    });
    app.get('/public', async (request) => ({ session: typeof request.session, value: request.session }));
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await manager.close();
  });

  it('registered in one encapsulated context: its routes have a session, the routes outside none', async () => {
    const inside = await call(server.port, 'GET', '/account');
    expect(JSON.parse(inside.body)).toEqual({ session: 'object' });
    expect(inside.setCookie).toHaveLength(1);
    const outside = await call(server.port, 'GET', '/public', { headers: { cookie: inside.setCookie[0]! } });
    expect(JSON.parse(outside.body)).toEqual({ session: 'undefined' });
    expect(outside.setCookie).toEqual([]);
    expect(outside.headers.vary).toBeUndefined();
  });
});

describe('Fastify adapter: the commit in onSend', () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  let server: ScenarioServer;
  beforeAll(async () => {
    server = await serve(await scenarioApp(manager, () => {}));
  });
  afterAll(async () => {
    await server.close();
    await manager.close();
  });

  it('a redirect and a JSON reply carry the cookie and the session headers', async () => {
    const jar = new TinyJar();
    const login = await call(server.port, 'POST', '/login?user=hana', { jar });
    expect(login.status).toBe(303);
    expect(login.setCookie).toHaveLength(1);
    expect(login.headers['cache-control']).toBe('no-store');
    const read = await call(server.port, 'GET', '/', { jar });
    expect(JSON.parse(read.body)).toMatchObject({ user: 'hana' });
    expect(read.headers.vary).toBe('Cookie');
    expect(read.setCookie).toEqual([]);
  });

  it('a streamed reply: the cookie is in the head, the body whole', async () => {
    const answer = await call(server.port, 'GET', '/stream');
    expect(answer.setCookie).toHaveLength(1);
    expect(answer.body).toBe('abc');
  });
});

describe("Fastify adapter: store errors through Fastify's error handler", () => {
  const store = probeStore(createMemoryStore({ cleanupInterval: 0 }));
  const manager = createSessionManager({ store });
  const seen: unknown[] = [];
  let server: ScenarioServer;
  beforeAll(async () => {
    const app = Fastify();
    app.setErrorHandler(async (error, _request, reply) => {
      seen.push(error);
      return reply.status((error as { statusCode?: number }).statusCode ?? 500).send('handled by the app');
    });
    await app.register(fastifySessions, { manager, onError: () => {} });
    await app.register(routes);
    server = await serve(app);
  });
  afterAll(async () => {
    store.mode = 'up';
    await server.close();
    await manager.close();
  });

  it('a load and a commit that fail reach the error handler as 503, expose false, the store error as cause', async () => {
    store.mode = 'throw';
    const read = await call(server.port, 'GET', '/', { headers: { cookie: FOREIGN_COOKIE } });
    const write = await call(server.port, 'POST', '/add');
    store.mode = 'up';
    for (const answer of [read, write]) {
      expect(answer.status).toBe(503);
      expect(answer.body).toBe('handled by the app');
      expect(answer.setCookie).toEqual([]);
      expectNoDetail(answer);
    }
    expect(seen).toHaveLength(2);
    for (const error of seen) {
      expect(error).toBeInstanceOf(SessionHttpError);
      expect(error).toMatchObject({ statusCode: 503, expose: false, message: 'Service Unavailable' });
      expect((error as Error).cause).toBeInstanceOf(SessionStoreError);
    }
  });
});

describe("Fastify adapter: HTTPS as Fastify's trustProxy says", () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  const servers: ScenarioServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
    await manager.close();
  });

  it('X-Forwarded-Proto counts only with trustProxy', async () => {
    servers.push(await serve(await scenarioApp(manager, () => {})));
    servers.push(await serve(await scenarioApp(manager, () => {}, true)));
    const headers = { host: 'shop.example', 'x-forwarded-proto': 'https' };
    const untrusted = await call(servers[0]!.port, 'POST', '/add', { headers });
    expect(untrusted.setCookie[0]).toMatch(/^sid=/);
    const trusted = await call(servers[1]!.port, 'POST', '/add', { headers });
    expect(trusted.setCookie[0]).toMatch(/^__Host-Http-sid=.*;\s*HttpOnly;\s*Secure/i);
  });

  it('a plugin registered without a manager is refused at start-up', async () => {
    const app = Fastify();
    await expect(
      app.register(fastifySessions, {} as unknown as { manager: SessionManager }).ready(),
    ).rejects.toThrow(/\[teller\] \[fastify\] the `manager` option/);
  });
});

describe('Fastify adapter: the lock of an abandoned request', () => {
  const manager = createSessionManager({
    store: createMemoryStore({ cleanupInterval: 0 }),
    lockTimeout: 3_000,
  });
  let server: ScenarioServer;
  beforeAll(async () => {
    // Reads the session (holding its lock) and never answers.
    const app = await scenarioApp(
      manager,
      () => {},
      false,
      (scope) =>
        scope.get('/hang', async (request) => {
          request.session.get('n');
          return new Promise(() => {});
        }),
    );
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await manager.close();
  });

  it('a client that goes away before the reply releases the session at once, not at the lock timeout', async () => {
    const jar = new TinyJar();
    await call(server.port, 'POST', '/login?user=ines', { jar });
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: server.port,
        path: '/hang',
        headers: { cookie: jar.header()! },
      });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 100);
    });
    const next = await call(server.port, 'GET', '/', { jar });
    expect(JSON.parse(next.body)).toMatchObject({ user: 'ines' });
    expect(next.elapsed).toBeLessThan(1_000);
  });
});
