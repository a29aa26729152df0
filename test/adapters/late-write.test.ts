/**
 * A write after the response was sent, over real HTTP, in an Express 4 style app: the node adapter's
 * middleware, then an async route handler whose promise nobody awaits (Express 4 drops it, so a rejection
 * is unhandled and ends the process). The late write is reported and dropped; the handler's promise
 * resolves and the server goes on serving.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createNodeSessions, type SessionRequest } from '../../src/adapters/node.js';
import { createSessionManager, type Session, type SessionEvent } from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { close, listen, TinyJar } from './helpers.js';

type Data = { views: number; afterSend: number };

const store = createMemoryStore();
const events: SessionEvent[] = [];
const warnings: string[] = [];
const manager = createSessionManager<Data>({
  store,
  onEvent: (event) => events.push(event),
  logger: { warn: (message) => warnings.push(message) },
});
const sessions = createNodeSessions(manager);
/** How each route handler's promise settled: 'resolved', or the error it rejected with. */
const settled: unknown[] = [];
let handlerDone: Promise<void> = Promise.resolve();

async function route(req: SessionRequest<Session<Data>>, res: ServerResponse): Promise<void> {
  req.session.update('views', (n = 0) => n + 1);
  res.end('ok');
  // A template rendered, an audit written...: the response is gone, then the handler writes.
  await new Promise((resolve) => setTimeout(resolve, 20));
  req.session.set('afterSend', 1);
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  sessions.middleware(req, res, () => {
    // Express 4 calls the route and drops what it returns.
    const dropped = route(req as SessionRequest<Session<Data>>, res);
    handlerDone = dropped.then(
      () => void settled.push('resolved'),
      (error: unknown) => void settled.push(error),
    );
  });
});

async function get(port: number, jar: TinyJar): Promise<number> {
  const cookie = jar.header();
  const response = await fetch(`http://127.0.0.1:${port}/`, cookie ? { headers: { cookie } } : {});
  jar.apply(response.headers.getSetCookie());
  await response.text();
  await handlerDone;
  return response.status;
}

describe('node adapter, Express 4 style: a write after the response was sent', () => {
  it('is reported and dropped; the handler does not reject, the server keeps serving', async () => {
    const port = await listen(server);
    const jar = new TinyJar();
    try {
      expect(await get(port, jar)).toBe(200);
      expect(await get(port, jar)).toBe(200);
    } finally {
      await close(server);
    }
    expect(settled).toEqual(['resolved', 'resolved']);
    expect(events.filter((e) => e.type === 'late-write').map((e) => e.detail)).toEqual([
      'set("afterSend")',
      'set("afterSend")',
    ]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/set\("afterSend"\).*response was already sent.*dropped/);
    // What was written before the answer was saved; the late write was not.
    const session = await manager.load(jar.header(), { secure: false, host: '127.0.0.1' });
    expect(session.data()).toEqual({ views: 2 });
    await manager.commit(session);
    await manager.close();
  });
});
