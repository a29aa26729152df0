/**
 * Sealed sessions past 4 KB (issue 19): the node, Express and Fastify adapters refuse at setup a
 * `sealedMaxBytes` that, with 4 KB for the other headers, exceeds node's `maxHeaderSize` (node:http would
 * answer 431 to every request of a browser holding such cookies, logout included); a server created with a
 * smaller limit of its own is reported to `onError` at its first request. And what node:http does past it.
 */
import { createServer, request as httpRequest, maxHeaderSize } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { expressSessions } from '../../src/adapters/express.js';
import { fastifySessions } from '../../src/adapters/fastify.js';
import { createNodeSessions } from '../../src/adapters/node.js';
import { createSessionManager } from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { close, listen } from './helpers.js';

const seal = { secrets: ['a-sealing-secret-of-32-bytes-or-more'] };

function status(port: number, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', headers: { cookie } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sealedMaxBytes against node maxHeaderSize, at setup', () => {
  it('node:http default limit is 16 KB here (the figure the checks are made against)', () => {
    expect(maxHeaderSize).toBe(16_384);
  });

  it('node adapter: 8 KB (the default) and 12 KB fit; 12 KB + 1 does not, unless the server allows more', () => {
    expect(() => createNodeSessions(createSessionManager({ seal }))).not.toThrow();
    expect(() => createNodeSessions(createSessionManager({ seal, sealedMaxBytes: 12_288 }))).not.toThrow();
    const tooMuch = createSessionManager({ seal, sealedMaxBytes: 12_289 });
    expect(() => createNodeSessions(tooMuch)).toThrow(
      /\[teller\] \[node\] sealedMaxBytes \(12289\) with 4096 bytes for the other headers exceeds node's maxHeaderSize \(16384\): node:http would answer 431/,
    );
    expect(() => createNodeSessions(tooMuch, { maxHeaderSize: 32_768 })).not.toThrow();
    expect(() => createNodeSessions(createSessionManager({ seal }), { maxHeaderSize: 8192 })).toThrow(
      /maxHeaderSize \(8192\)/,
    );
    // Stored sessions put an id in the cookie: nothing to check.
    expect(() =>
      createNodeSessions(createSessionManager({ store: createMemoryStore({ cleanupInterval: 0 }) }), {
        maxHeaderSize: 1024,
      }),
    ).not.toThrow();
  });

  it('Express: the same check', () => {
    expect(() => expressSessions(createSessionManager({ seal }))).not.toThrow();
    expect(() => expressSessions(createSessionManager({ seal, sealedMaxBytes: 16_000 }))).toThrow(
      /\[teller\] \[express\] sealedMaxBytes \(16000\)/,
    );
    expect(() =>
      expressSessions(createSessionManager({ seal, sealedMaxBytes: 16_000 }), { maxHeaderSize: 65_536 }),
    ).not.toThrow();
  });

  it("Fastify: checked against its server's maxHeaderSize when registered", async () => {
    const app = Fastify();
    await expect(
      app
        .register(fastifySessions, { manager: createSessionManager({ seal, sealedMaxBytes: 16_000 }) })
        .ready(),
    ).rejects.toThrow(/\[teller\] \[fastify\] sealedMaxBytes \(16000\)/);
    await app.close();
    const fine = Fastify();
    await fine.register(fastifySessions, { manager: createSessionManager({ seal }) }).ready();
    await fine.close();
    const small = Fastify({ serverFactory: (handler) => createServer({ maxHeaderSize: 8192 }, handler) });
    await expect(
      small.register(fastifySessions, { manager: createSessionManager({ seal }) }).ready(),
    ).rejects.toThrow(/maxHeaderSize \(8192\)/);
    await small.close();
  });

  it('a server with its own smaller limit is reported to onError at its first request (once), and served', async () => {
    const errors: unknown[] = [];
    const sessions = createNodeSessions(createSessionManager({ seal }), { onError: (e) => errors.push(e) });
    const server = createServer(
      { maxHeaderSize: 10_000 },
      sessions.wrap((_req, res) => res.end('ok')),
    );
    const port = await listen(server);
    try {
      expect(await status(port, 'a=1')).toBe(200);
      expect(await status(port, 'a=2')).toBe(200);
      expect(errors).toHaveLength(1);
      expect(String(errors[0])).toMatch(/maxHeaderSize \(10000\)/);
      // What the check prevents: past the server's limit, node:http answers 431 before any handler runs.
      expect(await status(port, `sid=${'A'.repeat(10_500)}`)).toBe(431);
    } finally {
      await close(server);
    }
  });

  it('Express behind a server created with its own limit: reported at the first request', async () => {
    const errors: unknown[] = [];
    const app = express();
    app.use(expressSessions(createSessionManager({ seal }), { onError: (e) => errors.push(e) }));
    app.get('/', (_req, res) => {
      res.send('ok');
    });
    const server = createServer({ maxHeaderSize: 12_000 }, app);
    const port = await listen(server);
    try {
      expect(await status(port, 'a=1')).toBe(200);
      expect(errors).toHaveLength(1);
      expect(String(errors[0])).toMatch(/\[express\].*maxHeaderSize \(12000\)/);
    } finally {
      await close(server);
    }
  });
});
