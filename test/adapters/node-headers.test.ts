/**
 * The node:http adapter's header merging, path by path: the headers a handler gives `writeHead` are kept
 * as its own object when nothing was set before, moved onto the response otherwise (after `setHeader`, a
 * flat array, one name in two spellings); either way the session's Set-Cookie joins the handler's, Vary
 * gains Cookie once, and Cache-Control becomes no-store. Also: two managers on one response, a bad header
 * thrown to the handler, and a response left untouched when the session was not used.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeSessions, type SessionRequest } from '../../src/adapters/node.js';
import { createSessionManager } from '../../src/index.js';
import type { Session } from '../../src/session/session.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { close, listen } from './helpers.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  setCookie: string[];
  body: string;
}

function get(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          setCookie: res.headers['set-cookie'] ?? [],
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const names = (lines: string[]) => lines.map((line) => line.slice(0, line.indexOf('=')));

function routes(req: SessionRequest<Session>, res: ServerResponse): void {
  const session = req.session;
  switch (req.url) {
    case '/lower-case':
      session.set('a', 1);
      res.writeHead(200, {
        vary: 'Accept-Encoding',
        'cache-control': 'public, max-age=60',
        'set-cookie': ['x=1; Path=/', 'y=2; Path=/'],
        'x-skipped': undefined,
        'content-type': 'text/plain',
      });
      res.end('lower');
      return;
    case '/after-set-header':
      session.set('b', 1);
      res.setHeader('Set-Cookie', 'early=1; Path=/');
      res.setHeader('X-Early', 'yes');
      res.writeHead(200, { 'Set-Cookie': 'late=1; Path=/', 'X-Late': 'yes', Vary: 'Origin' });
      res.end('merged');
      return;
    case '/two-spellings':
      session.set('c', 1);
      res.writeHead(200, { 'Set-Cookie': 'p=1; Path=/', 'set-cookie': 'q=2; Path=/' });
      res.end('spelled twice');
      return;
    case '/vary-star':
      session.get('n');
      res.writeHead(200, { Vary: '*' });
      res.end('star');
      return;
    case '/vary-cookie-read':
      session.get('n');
      res.writeHead(200, { Vary: 'accept, COOKIE' });
      res.end('cookie already');
      return;
    case '/read-only':
      session.get('n');
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('read');
      return;
    case '/untouched':
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'public, max-age=60' });
      res.end('untouched');
      return;
    case '/bad-header':
      session.set('lost', 1);
      res.writeHead(200, { 'X-Bad': 'one\r\ntwo' });
      res.end('never');
      return;
    case '/bad-header-name':
      session.set('lost', 1);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X Bad': 'name', 'Content-Length': 5 });
      res.end('never');
      return;
    case '/end-with-callback':
      session.set('d', 1);
      res.statusCode = 202;
      res.end('called back', () => {
        res.emit('ended-by-callback');
      });
      return;
    default:
      res.writeHead(404).end();
  }
}

describe('node:http adapter: merging the session headers with the handler headers', () => {
  const store = createMemoryStore({ cleanupInterval: 0 });
  const manager = createSessionManager({ store });
  const errors: unknown[] = [];
  const server = createServer(createNodeSessions(manager, { onError: (e) => errors.push(e) }).wrap(routes));
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
    await manager.close?.();
  });

  it('writeHead headers in lower case: Vary joined, Cache-Control replaced, cookies appended, undefined skipped', async () => {
    const answer = await get(port, '/lower-case');
    expect(answer.status).toBe(200);
    expect(answer.headers.vary).toBe('Accept-Encoding, Cookie');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(names(answer.setCookie)).toEqual(['x', 'y', 'sid']);
    expect(answer.headers['content-type']).toBe('text/plain');
    expect(answer.headers).not.toHaveProperty('x-skipped');
    expect(answer.body).toBe('lower');
  });

  it('setHeader before writeHead: both sets of headers go out, every Set-Cookie kept', async () => {
    const answer = await get(port, '/after-set-header');
    expect(answer.headers['x-early']).toBe('yes');
    expect(answer.headers['x-late']).toBe('yes');
    expect(answer.headers.vary).toBe('Origin, Cookie');
    expect(names(answer.setCookie)).toEqual(['early', 'late', 'sid']);
    expect(answer.body).toBe('merged');
  });

  it('Set-Cookie given in two spellings: both kept, then the session cookie', async () => {
    const answer = await get(port, '/two-spellings');
    expect(names(answer.setCookie)).toEqual(['p', 'q', 'sid']);
    expect(answer.headers.vary).toBe('Cookie');
  });

  it('Vary: * and a Vary already naming Cookie (any case) are left as they are', async () => {
    expect((await get(port, '/vary-star')).headers.vary).toBe('*');
    expect((await get(port, '/vary-cookie-read')).headers.vary).toBe('accept, COOKIE');
  });

  it('a read without a write: Vary: Cookie, no cookie, no Cache-Control', async () => {
    const answer = await get(port, '/read-only');
    expect(answer.headers.vary).toBe('Cookie');
    expect(answer.setCookie).toEqual([]);
    expect(answer.headers['cache-control']).toBeUndefined();
  });

  it('a session never used: the handler headers go out unchanged', async () => {
    const answer = await get(port, '/untouched');
    expect(answer.headers.vary).toBeUndefined();
    expect(answer.headers['cache-control']).toBe('public, max-age=60');
    expect(answer.setCookie).toEqual([]);
  });

  it('an invalid header value throws to the handler, as node does: a plain 500 and nothing stored', async () => {
    errors.length = 0;
    const before = await store.count();
    const answer = await get(port, '/bad-header');
    expect(answer.status).toBe(500);
    expect(answer.body).toBe('Internal Server Error\n');
    expect(answer.setCookie).toEqual([]);
    expect(await store.count()).toBe(before);
    expect(errors).toHaveLength(1);
    expect((errors[0] as { code?: string }).code).toBe('ERR_INVALID_CHAR');
  });

  it('an invalid header name throws to the handler every time (the names found valid are remembered, not it)', async () => {
    const before = await store.count();
    for (let round = 0; round < 2; round++) {
      errors.length = 0;
      const answer = await get(port, '/bad-header-name');
      expect(answer.status).toBe(500);
      expect(answer.body).toBe('Internal Server Error\n');
      expect(answer.setCookie).toEqual([]);
      expect(errors).toHaveLength(1);
      expect((errors[0] as { code?: string }).code).toBe('ERR_INVALID_HTTP_TOKEN');
    }
    expect(await store.count()).toBe(before);
  });

  it('end(chunk, callback) after the commit: the status, the cookie and the callback all arrive', async () => {
    const called = new Promise<boolean>((resolve) => {
      server.once('request', (_req, res: ServerResponse) => {
        res.once('ended-by-callback', () => resolve(true));
      });
    });
    const answer = await get(port, '/end-with-callback');
    expect(answer.status).toBe(202);
    expect(answer.body).toBe('called back');
    expect(names(answer.setCookie)).toEqual(['sid']);
    expect(await called).toBe(true);
  });
});

describe('node:http adapter: two managers on one response', () => {
  const first = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  const second = createSessionManager({
    store: createMemoryStore({ cleanupInterval: 0 }),
    cookie: { name: 'other', secure: false },
  });
  const outer = createNodeSessions(first, { onError: () => {} });
  const inner = createNodeSessions(second, { onError: () => {} });
  let secondSession: Session | undefined;
  const server = createServer(
    outer.wrap((req, res) => {
      req.session.set('one', 1);
      return inner.wrap((innerReq, innerRes) => {
        secondSession = innerReq.session as Session;
        secondSession.set('two', 2);
        innerRes.writeHead(200, { 'Content-Type': 'text/plain' });
        innerRes.end('both');
      })(req, res);
    }),
  );
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
  });

  it("each manager's cookie goes out, the inner one first", async () => {
    const answer = await get(port, '/');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('both');
    expect(names(answer.setCookie)).toEqual(['other', 'sid']);
    expect(secondSession?.isNew).toBe(true);
    expect(answer.headers.vary).toBe('Cookie');
  });
});
