import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { afterAll, describe, expect, it } from 'vitest';
import { requestContext, withSession } from '../../src/adapters/fetch.js';
import { createSessionManager } from '../../src/index.js';
import { SessionConflictError } from '../../src/session/errors.js';
import { DEFAULTS } from '../../src/session/options.js';
import type { Session } from '../../src/session/session.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import {
  type AdapterAnswer,
  adapterScenarios,
  close,
  expectAnswerPersistingNothing,
  FOREIGN_COOKIE,
  forwardedClientScenario,
  listen,
  probeStore,
  slowSiblingScenario,
  socketAddresses,
  TinyJar,
} from './helpers.js';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

/** The test app, as a Web-standard handler. */
async function app(
  request: Request,
  { session }: { session: Session },
  env?: { tag: string },
): Promise<Response> {
  const url = new URL(request.url);
  // `/passive` and `/passive/add` are `/` and `/add` served by a handler wrapped with `{ passive: true }`.
  switch (url.pathname.replace(/^\/passive(?=\/|$)/, '') || '/') {
    case '/':
      return json({
        user: session.userId ?? null,
        n: session.get('n') ?? 0,
        data: session.data(),
        env: env?.tag,
      });
    case '/static':
      return json({ static: true });
    case '/login':
      session.login(url.searchParams.get('user') ?? 'alice');
      return Response.redirect(new URL('/', url), 303); // immutable headers: the adapter must copy
    case '/add':
      session.set(url.searchParams.get('key') ?? 'k', true);
      return json({ ok: true });
    case '/incr':
      session.update('n', (n) => (typeof n === 'number' ? n : 0) + 1);
      return json({ ok: true });
    case '/logout':
      session.logout();
      return Response.redirect(new URL('/', url), 303);
    case '/cached':
      session.set('c', 1);
      return new Response('cached?', {
        headers: {
          'Cache-Control': 'public, max-age=60',
          Vary: 'Accept-Encoding',
          'Set-Cookie': 'theme=dark; Path=/',
        },
      });
    case '/stream':
      session.set('s', 1);
      return new Response(
        new ReadableStream({
          start(controller) {
            for (const part of ['a', 'b', 'c']) controller.enqueue(new TextEncoder().encode(part));
            controller.close();
          },
        }),
      );
    case '/fail-after-write':
      session.set('lost', 1);
      return new Response('failed on purpose', { status: 500 });
    case '/slow': {
      // Reads the session, takes its time, then writes what it read plus one.
      const n = (session.get('n') as number | undefined) ?? 0;
      await new Promise((resolve) => setTimeout(resolve, Number(url.searchParams.get('ms') ?? 0)));
      session.update('n', (current) => (typeof current === 'number' ? current : n) + 1);
      return json({ ok: true });
    }
    case '/hang':
      // Reads the session and never answers (until the client gives up).
      session.get('n');
      return new Promise<Response>((_, reject) =>
        request.signal.addEventListener('abort', () => reject(new Error('client gone'))),
      );
    case '/conflict':
      session.set('lost', 3);
      throw new SessionConflictError('[teller] [test] someone else changed the cart');
    case '/throw':
      session.set('lost', 2);
      throw new Error('boom: internal detail that must not reach the client');
    default:
      return json({ error: 'not found' }, 404);
  }
}

interface Answer extends AdapterAnswer {
  headers: Headers;
}

function client(handler: (request: Request, env?: { tag: string }) => Promise<Response>) {
  return async (
    method: string,
    path: string,
    options: { jar?: TinyJar; headers?: Record<string, string>; origin?: string; signal?: AbortSignal } = {},
  ): Promise<Answer> => {
    const started = performance.now();
    const headers = new Headers(options.headers);
    const cookie = options.jar?.header();
    if (cookie !== undefined) headers.set('cookie', cookie);
    const response = await handler(
      new Request(new URL(path, options.origin ?? 'http://localhost'), {
        method,
        headers,
        signal: options.signal,
      }),
    );
    const receivedAt = performance.now();
    const setCookie = response.headers.getSetCookie();
    options.jar?.apply(setCookie);
    return {
      status: response.status,
      headers: response.headers,
      header: (name) => response.headers.get(name) ?? undefined,
      setCookie,
      body: await response.text(),
      receivedAt,
      elapsed: receivedAt - started,
    };
  };
}

// The shared scenarios over real HTTP: the handler served on node:http by @hono/node-server's listener.
adapterScenarios(
  'fetch adapter',
  async (manager, onError) => {
    const addresses = socketAddresses();
    const handler = withSession(manager, app, { onError, clientIp: addresses.clientIp });
    const passive = withSession(manager, app, { onError, clientIp: addresses.clientIp, passive: true });
    const server = createServer(
      getRequestListener((request, env) => {
        addresses.note(request, env);
        return new URL(request.url).pathname.startsWith('/passive') ? passive(request) : handler(request);
      }),
    );
    return { port: await listen(server), close: () => close(server) };
  },
  { location: (port) => `http://127.0.0.1:${port}/` },
);

describe('fetch adapter, end to end in process', () => {
  const inner = createMemoryStore({ cleanupInterval: 0 });
  const store = probeStore(inner);
  const manager = createSessionManager({ store });
  const errors: unknown[] = [];
  const call = client(withSession(manager, app, { onError: (e) => errors.push(e) }));
  afterAll(async () => {
    await manager.close?.();
  });

  it('a 7 s handler and a hanging one never hold up the fast requests of their session', async () => {
    const quiet: unknown[] = [];
    const own = client(withSession(manager, app, { onError: (e) => quiet.push(e) }));
    await slowSiblingScenario({ call: own, errors: [] }, DEFAULTS.lockTimeout);
    // The hanging handler failed once its client went away; nothing else was reported.
    expect(quiet.map(String)).toEqual(['Error: client gone']);
  }, 15_000);

  it('a handler that never touches the session gets neither Vary nor Set-Cookie', async () => {
    const answer = await call('GET', '/static');
    expect(answer.headers.get('vary')).toBeNull();
    expect(answer.setCookie).toEqual([]);
  });

  it("Set-Cookie forces Cache-Control: no-store, Cookie joins Vary, and the handler's own cookie stays", async () => {
    const answer = await call('GET', '/cached');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('vary')).toBe('Accept-Encoding, Cookie');
    expect(answer.setCookie).toHaveLength(2);
    expect(answer.setCookie[0]).toBe('theme=dark; Path=/');
    expect(answer.setCookie[1]).toMatch(/^sid=/);
    expect(answer.body).toBe('cached?');
  });

  it('passes a streamed body through untouched', async () => {
    const answer = await call('GET', '/stream');
    expect(answer.body).toBe('abc');
    expect(answer.setCookie).toHaveLength(1);
  });

  it('passes extra arguments (a runtime env) to the handler', async () => {
    const handler = withSession(manager, app);
    const response = await handler(new Request('http://localhost/'), { tag: 'env-1' });
    expect(((await response.json()) as { env: string }).env).toBe('env-1');
  });

  it('a 5xx answer persists nothing and sets no cookie', async () => {
    await expectAnswerPersistingNothing({ call, inner }, '/fail-after-write', 500, 'failed on purpose');
  });

  it('a handler that throws gets a plain 500 without stack or message and persists nothing', async () => {
    errors.length = 0;
    await expectAnswerPersistingNothing({ call, inner }, '/throw', 500, 'Internal Server Error\n');
    expect(errors).toHaveLength(1);
  });

  it('a session error thrown by the handler answers its status (409) in plain text and persists nothing', async () => {
    await expectAnswerPersistingNothing({ call, inner }, '/conflict', 409, 'Conflict\n');
  });

  it('HTTPS is judged from the URL: http on a public host gets a plain `sid`, https a __Host- Secure one', async () => {
    const plain = await call('GET', '/add', {
      origin: 'http://shop.example',
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(plain.setCookie[0]).toMatch(/^sid=/);
    expect(plain.setCookie[0]).not.toMatch(/;\s*Secure/i);
    const tls = await call('GET', '/add', { origin: 'https://shop.example' });
    expect(tls.setCookie[0]).toMatch(/^__Host-Http-sid=.*;\s*HttpOnly;\s*Secure/i);
  });
});

describe('fetch adapter behind a trusted proxy', () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  const call = client(withSession(manager, app, { trustProxy: true, onError: () => {} }));

  it('X-Forwarded-Proto: https makes the cookie Secure and __Host- prefixed', async () => {
    const answer = await call('GET', '/add', {
      origin: 'http://shop.example',
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(answer.setCookie[0]).toMatch(/^__Host-Http-sid=.*;\s*HttpOnly;\s*Secure/i);
  });

  it('X-Forwarded-Proto: http on a public host gives a plain cookie', async () => {
    const answer = await call('GET', '/add', {
      origin: 'http://shop.example',
      headers: { 'x-forwarded-proto': 'http' },
    });
    expect(answer.setCookie[0]).toMatch(/^sid=/);
  });

  it('the client address and user agent reach the record (left-most X-Forwarded-For)', async () => {
    await forwardedClientScenario(call, manager);
  });
});

describe('fetch adapter: the lock of an abandoned request', () => {
  it('a request aborted before the answer releases the session at once, not at the lock timeout', async () => {
    const manager = createSessionManager({
      store: createMemoryStore({ cleanupInterval: 0 }),
      lockTimeout: 3_000,
    });
    const handler = withSession(
      manager,
      async (request, { session }) => {
        if (new URL(request.url).pathname === '/login') {
          session.login('carol');
          return new Response('ok');
        }
        if (new URL(request.url).pathname === '/hang') {
          session.get('n');
          return new Promise<Response>(() => {}); // never answers
        }
        return json({ user: session.userId ?? null });
      },
      { onError: () => {} },
    );
    const call = client(handler);
    const jar = new TinyJar();
    await call('POST', '/login', { jar });
    const abort = new AbortController();
    void handler(
      new Request('http://localhost/hang', { headers: { cookie: jar.header()! }, signal: abort.signal }),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    abort.abort();
    const next = await call('GET', '/', { jar });
    expect(JSON.parse(next.body)).toEqual({ user: 'carol' });
    expect(next.elapsed).toBeLessThan(1_000);
  });
});

describe('fetch adapter with a logger that throws', () => {
  it('still answers 503 and 500', async () => {
    const store = probeStore(createMemoryStore({ cleanupInterval: 0 }));
    store.mode = 'throw';
    const manager = createSessionManager({ store });
    const onError = () => {
      throw new Error('the logger is broken too');
    };
    const call = client(withSession(manager, app, { onError }));
    expect((await call('GET', '/', { headers: { cookie: FOREIGN_COOKIE } })).status).toBe(503);
    store.mode = 'up';
    expect((await call('GET', '/throw')).status).toBe(500);
  });
});

describe('fetch adapter: answers that cannot carry a cookie', () => {
  it('Response.error() (status 0) persists nothing of the request', async () => {
    const store = createMemoryStore();
    const manager = createSessionManager({ store });
    const handler = withSession(manager, (_request, { session }) => {
      session.login('alice');
      return Response.error();
    });
    const response = await handler(new Request('http://127.0.0.1/login'));
    expect(response.status).toBe(0);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(await store.count()).toBe(0);
    await manager.close();
  });
});

describe('fetch adapter: the request facts', () => {
  it('reads scheme, host and path from the request URL as the URL parser does', () => {
    const urls = [
      'http://a.example/',
      'https://a.example:8443/p/q%20r?x=1&y=/z#f',
      'http://[::1]:3000/x?',
      'http://h',
      'https://h?x=/y',
      'http://h/#f?/',
      'HTTPS://UPPER.example/Path',
      'http://h//double//slash',
    ];
    for (const url of urls) {
      const parsed = new URL(url);
      const withHost = requestContext(new Request(url, { headers: { 'user-agent': 'ua' } }));
      expect(withHost, url).toEqual({
        secure: parsed.protocol === 'https:',
        host: parsed.host,
        userAgent: 'ua',
        ip: undefined,
        route: `GET ${parsed.pathname}`,
      });
    }
    const ctx = requestContext(new Request('https://h/p', { method: 'POST', headers: { host: 'other' } }));
    expect(ctx).toMatchObject({ secure: true, host: 'other', route: 'POST /p' });
  });
});
