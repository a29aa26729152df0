/**
 * `teller/adapters/hono` on Hono 4, served on Node by @hono/node-server, over real HTTP on 127.0.0.1: the
 * shared adapter scenarios, then what is Hono's own: the session typed at `c.get('session')`, a middleware on
 * some routes only, headers the handler set kept beside the session's, `app.onError` answering a handler's
 * error with nothing persisted. The module imports nothing of Node's beyond what the fetch adapter does.
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { honoSessions } from '../../src/adapters/hono.js';
import { createSessionManager } from '../../src/index.js';
import type { SessionManager } from '../../src/session/manager.js';
import type { Session } from '../../src/session/session.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import {
  adapterScenarios,
  httpCall as call,
  close,
  listen,
  type ScenarioServer,
  socketAddresses,
  TinyJar,
} from './helpers.js';

/** The scenario routes (helpers.ts, ScenarioApp), written the way a Hono app is. */
function scenarioApp(
  manager: SessionManager,
  onError: (error: unknown) => void,
  clientIp?: (request: Request) => string | undefined,
): Hono {
  const app = new Hono();
  // Per-route request options: the passive routes get a middleware made with `{ passive: true }` instead.
  const ordinary = honoSessions(manager, { onError, clientIp });
  const passive = honoSessions(manager, { onError, clientIp, passive: true });
  const perRoute: typeof ordinary = (c, next) =>
    (c.req.path.startsWith('/passive') ? passive : ordinary)(c, next);
  app.use(perRoute);
  const read = (c: Context) => {
    const session: Session = c.get('session');
    return c.json({ user: session.userId ?? null, n: session.get('n') ?? 0, data: session.data() });
  };
  const add = (c: Context) => {
    c.get('session').set(c.req.query('key') ?? 'k', true);
    return c.json({ ok: true });
  };
  app.get('/', read);
  app.get('/passive', read);
  app.post('/passive/add', add);
  app.post('/login', (c) => {
    c.get('session').login(c.req.query('user') ?? 'alice');
    return c.redirect('/', 303);
  });
  app.post('/add', add);
  app.post('/incr', (c) => {
    c.get('session').update('n', (n) => (typeof n === 'number' ? n : 0) + 1);
    return c.json({ ok: true });
  });
  app.post('/logout', (c) => {
    c.get('session').logout();
    return c.redirect('/', 303);
  });
  app.get('/throw', (c) => {
    c.get('session').set('lost', 2);
    throw new Error('boom: internal detail that must not reach the client');
  });
  app.get('/cached', (c) => {
    c.get('session').set('c', 1);
    c.header('Cache-Control', 'public, max-age=60');
    c.header('Vary', 'Accept-Encoding');
    c.header('Set-Cookie', 'theme=dark; Path=/', { append: true });
    return c.text('cached?');
  });
  app.onError((_error, c) => c.text('the app says: something went wrong', 500));
  return app;
}

async function serve(app: Hono): Promise<ScenarioServer> {
  const server = createServer(getRequestListener(app.fetch));
  return { port: await listen(server), close: () => close(server) };
}

adapterScenarios(
  'Hono adapter',
  async (manager, onError) => {
    const addresses = socketAddresses();
    const app = scenarioApp(manager, onError, addresses.clientIp);
    const server = createServer(
      getRequestListener((request, env) => {
        addresses.note(request, env);
        return app.fetch(request, env);
      }),
    );
    return { port: await listen(server), close: () => close(server) };
  },
  {
    thrown: (answer) => expect(answer.body).toBe('the app says: something went wrong'),
  },
);

describe('Hono adapter on @hono/node-server', () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  const servers: ScenarioServer[] = [];
  let port = 0;
  beforeAll(async () => {
    servers.push(await serve(scenarioApp(manager, () => {})));
    port = servers[0]!.port;
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await manager.close();
  });

  it("keeps the handler's headers and cookie beside the session's; Set-Cookie forces no-store", async () => {
    const answer = await call(port, 'GET', '/cached');
    expect(answer.body).toBe('cached?');
    expect(answer.setCookie).toHaveLength(2);
    expect(answer.setCookie[0]).toBe('theme=dark; Path=/');
    expect(answer.setCookie[1]).toMatch(/^sid=/);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers.vary).toBe('Accept-Encoding, Cookie');
  });

  it('an answer with immutable headers (Response.redirect) gets a copy carrying the session headers', async () => {
    const app = new Hono();
    app.use(honoSessions(manager));
    app.get('/away', (c) => {
      c.get('session').set('left', true);
      return Response.redirect('http://127.0.0.1/elsewhere', 302);
    });
    app.get('/plain', (c) => {
      c.get('session').set('stayed', true);
      return c.text('stayed');
    });
    const server = await serve(app);
    servers.push(server);
    const away = await call(server.port, 'GET', '/away');
    expect(away.status).toBe(302);
    expect(away.headers.location).toBe('http://127.0.0.1/elsewhere');
    expect(away.setCookie).toHaveLength(1);
    expect(away.headers['cache-control']).toBe('no-store');
    const plain = await call(server.port, 'GET', '/plain');
    expect(plain.body).toBe('stayed');
    expect(plain.setCookie).toHaveLength(1);
    expect(plain.headers.vary).toBe('Cookie');
  });

  it('on some routes only: the others have no session and get no session headers', async () => {
    const app = new Hono();
    app.use('/account/*', honoSessions(manager));
    app.get('/account/me', (c) => {
      c.get('session').set('seen', true);
      return c.json({ session: typeof c.get('session') });
    });
    app.get('/public', (c) => c.json({ session: typeof c.get('session') }));
    const server = await serve(app);
    servers.push(server);
    const jar = new TinyJar();
    const inside = await call(server.port, 'GET', '/account/me', { jar });
    expect(JSON.parse(inside.body)).toEqual({ session: 'object' });
    expect(inside.setCookie).toHaveLength(1);
    const outside = await call(server.port, 'GET', '/public', { jar });
    expect(JSON.parse(outside.body)).toEqual({ session: 'undefined' });
    expect(outside.headers.vary).toBeUndefined();
  });

  it('the module imports nothing of Node (no node: specifier) and nothing of Hono at run time', () => {
    const source = readFileSync(new URL('../../src/adapters/hono.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/^import\s+(type\s+)?.*from '([^']+)';$/gm)];
    expect(imports.length).toBeGreaterThan(0);
    for (const [line, typeOnly, from] of imports) {
      expect(from, line).not.toMatch(/^node:/);
      if (from === 'hono') expect(typeOnly, line).toBeDefined();
    }
  });
});

describe('Hono adapter: the lock of an abandoned request', () => {
  it('a client that goes away before the answer releases the session at once, not at the lock timeout', async () => {
    const manager = createSessionManager({
      store: createMemoryStore({ cleanupInterval: 0 }),
      lockTimeout: 3_000,
    });
    const app = scenarioApp(manager, () => {});
    // Reads the session (holding its lock) and answers only when its client is gone.
    app.get('/hang', (c) => {
      c.get('session').get('n');
      return new Promise<Response>((resolve) =>
        c.req.raw.signal.addEventListener('abort', () => resolve(c.text('gone'))),
      );
    });
    const server = await serve(app);
    try {
      const jar = new TinyJar();
      await call(server.port, 'POST', '/login?user=jo', { jar });
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
      expect(JSON.parse(next.body)).toMatchObject({ user: 'jo' });
      expect(next.elapsed).toBeLessThan(1_000);
    } finally {
      await server.close();
      await manager.close();
    }
  });
});
