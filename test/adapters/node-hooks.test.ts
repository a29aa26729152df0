/**
 * The node:http adapter's method hooks where something else also replaces the response's methods: a
 * wrapper installed before the adapter, a wrapper between two managers on one response, and two managers
 * on one response whose client goes away (both sessions' locks end at once).
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeSessions, type NodeHandler } from '../../src/adapters/node.js';
import { createSessionManager } from '../../src/index.js';
import type { Session } from '../../src/session/session.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { close, listen, TinyJar } from './helpers.js';

interface Answer {
  status: number;
  header: (name: string) => string | string[] | undefined;
  setCookie: string[];
  body: string;
  elapsed: number;
}

function get(port: number, path: string, jar?: TinyJar): Promise<Answer> {
  const started = performance.now();
  const cookie = jar?.header();
  const headers = cookie === undefined ? {} : { cookie };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const setCookie = res.headers['set-cookie'] ?? [];
        jar?.apply(setCookie);
        resolve({
          status: res.statusCode ?? 0,
          header: (name) => res.headers[name],
          setCookie,
          body: Buffer.concat(chunks).toString('utf8'),
          elapsed: performance.now() - started,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const names = (lines: string[]) => lines.map((line) => line.slice(0, line.indexOf('=')));

/**
 * Replaces `writeHead` and `end` the way on-headers or a logger does: an own property that sets a header
 * (once) or counts the call, then calls the method it replaced.
 */
function wrapResponse(res: ServerResponse, label: string, ends: string[]): void {
  const writeHead = res.writeHead;
  const end = res.end;
  let marked = false;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!marked && !this.headersSent) {
      marked = true;
      this.setHeader(`X-${label}`, 'yes');
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    ends.push(label);
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['end'];
}

/** Streams `/stream` (flushHeaders, then `abc` in three writes); answers anything else with `body`. */
function respond(req: IncomingMessage, res: ServerResponse, body: string): void {
  if (req.url === '/stream') {
    res.flushHeaders();
    res.write('a');
    res.write('b');
    res.end('c');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(body);
}

function twoManagers(lockTimeout?: number) {
  const first = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }), lockTimeout });
  const second = createSessionManager({
    store: createMemoryStore({ cleanupInterval: 0 }),
    cookie: { name: 'other', secure: false },
    lockTimeout,
  });
  return {
    first,
    second,
    outer: createNodeSessions(first, { onError: () => {} }),
    inner: createNodeSessions(second, { onError: () => {} }),
  };
}

function session(req: IncomingMessage): Session {
  return (req as IncomingMessage & { session: Session }).session;
}

describe('node:http adapter: a response whose methods were replaced before the adapter', () => {
  const manager = createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) });
  const sessions = createNodeSessions(manager, { onError: () => {} });
  const ends: string[] = [];
  const listener = sessions.wrap((req, res) => {
    req.session.set('a', 1);
    respond(req, res, 'wrapped');
  });
  const server = createServer((req, res) => {
    wrapResponse(res, 'Before', ends);
    return listener(req, res);
  });
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
    await manager.close();
  });

  it("the wrapper runs once, its header and the session's go out together", async () => {
    ends.length = 0;
    const answer = await get(port, '/');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('wrapped');
    expect(answer.header('x-before')).toBe('yes');
    expect(names(answer.setCookie)).toEqual(['sid']);
    expect(answer.header('cache-control')).toBe('no-store');
    expect(ends).toEqual(['Before']);
  });

  it('flushHeaders, write and end pass through the wrapper in order', async () => {
    const answer = await get(port, '/stream');
    expect(answer.body).toBe('abc');
    expect(names(answer.setCookie)).toEqual(['sid']);
  });
});

describe('node:http adapter: two managers on one response with a wrapper between them', () => {
  const { first, second, outer, inner } = twoManagers();
  const ends: string[] = [];
  const handler: NodeHandler<Session> = (req, res) => {
    session(req).set('two', 2);
    respond(req, res, 'both');
  };
  const server = createServer(
    outer.wrap((req, res) => {
      req.session.set('one', 1);
      wrapResponse(res, 'Between', ends);
      return inner.wrap(handler)(req, res);
    }),
  );
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
    await first.close();
    await second.close();
  });

  it("each manager's cookie goes out, the inner one first, and the wrapper runs once", async () => {
    ends.length = 0;
    const answer = await get(port, '/');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('both');
    expect(names(answer.setCookie)).toEqual(['other', 'sid']);
    expect(answer.header('x-between')).toBe('yes');
    expect(answer.header('vary')).toBe('Cookie');
    expect(ends).toEqual(['Between']);
  });

  it('a streamed answer passes through both managers and the wrapper in order', async () => {
    const answer = await get(port, '/stream');
    expect(answer.body).toBe('abc');
    expect(names(answer.setCookie)).toEqual(['other', 'sid']);
  });
});

describe('node:http adapter: two managers on one response, the client gone before the answer', () => {
  const { first, second, outer, inner } = twoManagers(3_000);
  const server = createServer(
    outer.wrap((req, res) => {
      const outerSession = req.session; // req.session becomes the inner manager's session below
      return inner.wrap((innerReq, innerRes) => {
        if (innerReq.url === '/hang') return; // holds both sessions' locks and never answers
        if (innerReq.url === '/login') {
          outerSession.login('erin');
          session(innerReq).login('erin');
        }
        innerRes.writeHead(200, { 'Content-Type': 'text/plain' });
        innerRes.end(`${outerSession.userId}/${session(innerReq).userId}`);
      })(req, res);
    }),
  );
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await close(server);
    await first.close();
    await second.close();
  });

  it("ends both sessions' locks at once, not at the lock timeout", async () => {
    const jar = new TinyJar();
    await get(port, '/login', jar);
    expect([...jar.cookies.keys()].sort()).toEqual(['other', 'sid']);
    const cookie = jar.header() as string;
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/hang', headers: { cookie } });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 100);
    });
    const next = await get(port, '/', jar);
    expect(next.status).toBe(200);
    expect(next.body).toBe('erin/erin');
    expect(next.elapsed).toBeLessThan(1_000);
  });
});
