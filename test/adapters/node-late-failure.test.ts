/**
 * A handler that throws after it started its answer (writeHead), while the commit that must precede the
 * headers is still running: the client is cut off at once, never left waiting.
 */
import { createServer, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeSessions } from '../../src/adapters/node.js';
import { createSessionManager, type SessionStore } from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { close, listen } from './helpers.js';

const inner = createMemoryStore();
/** The memory store with each write taking 50 ms, so the commit is still running when the handler throws. */
const slowStore: SessionStore = {
  get: (key) => inner.get(key),
  set: (key, record, expected, ttl) =>
    new Promise((resolve, reject) =>
      setTimeout(() => inner.set(key, record, expected, ttl).then(resolve, reject), 50),
    ),
  delete: (key) => inner.delete(key),
};
const manager = createSessionManager({ store: slowStore });
const errors: unknown[] = [];
const sessions = createNodeSessions(manager, { onError: (error) => errors.push(error) });
const server = createServer(
  sessions.wrap((req, res) => {
    req.session.set('x', 1);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    throw new Error('failed after writeHead');
  }),
);
let port = 0;

beforeAll(async () => {
  port = await listen(server);
});
afterAll(async () => {
  await close(server);
  await manager.close();
});

describe('node adapter: a handler failing after writeHead, during the commit', () => {
  it('cuts the response instead of leaving the client waiting', async () => {
    const started = Date.now();
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(`ended ${res.statusCode}`));
        res.on('error', () => resolve('cut'));
        res.on('aborted', () => resolve('cut'));
      });
      req.on('error', () => resolve('cut'));
      req.setTimeout(3000, () => {
        resolve('hung');
        req.destroy();
      });
      req.end();
    });
    expect(outcome).not.toBe('hung');
    expect(outcome).not.toMatch(/^ended 200/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(errors.some((e) => e instanceof Error && e.message === 'failed after writeHead')).toBe(true);
  });
});
