/**
 * Memory held by many small sessions: `node --expose-gc bench/http/memory.js <teller|express> <count>`.
 * Creates `count` sessions holding `{ n: 1 }` in the library's memory store, then prints one JSON line with
 * the heap and RSS growth (after full collections) and the bytes per session; then as many again, whose growth
 * (`second*`) is the steady cost without the process's one-off growth.
 * Teller sessions are made the way the node adapter makes them: `load` with a user agent and an ip (each
 * session its own strings, as each request's headers are), `set`, `commit`; so each record also keeps its
 * creation time, last-seen time and that metadata. express-session's MemoryStore gets what express-session
 * stores: the session JSON with its cookie.
 */

import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL('.', import.meta.url));
const dist = resolve(process.env.TELLER_DIST ?? resolve(here, '../../dist'));
const teller = (path) => import(pathToFileURL(join(dist, path)).href);

const [kind, countText] = process.argv.slice(2);
const count = Number(countText);
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

function settle() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage();
}

/** The library's store and a function adding `n` more sessions to it; `size()` counts what it holds. */
async function setUp() {
  if (kind === 'teller' || kind === 'teller-bare') {
    // teller-bare: no user agent or ip, the same data express-session keeps.
    const meta = kind === 'teller';
    const { createSessionManager } = await teller('index.js');
    const { createMemoryStore } = await teller('stores/memory.js');
    const store = createMemoryStore({ cleanupInterval: 0, maxEntries: 5_000_000 });
    const manager = createSessionManager({ store });
    let made = 0;
    return {
      keep: [store, manager],
      size: () => store.count(),
      async add(n) {
        for (let k = 0; k < n; k++, made++) {
          const session = await manager.load(undefined, {
            secure: false,
            host: '127.0.0.1',
            userAgent: meta ? Buffer.from(UA).toString('latin1') : undefined,
            ip: meta
              ? Buffer.from(`10.${(made >> 16) & 255}.${(made >> 8) & 255}.${made & 255}`).toString('latin1')
              : undefined,
          });
          session.set('n', 1);
          const { setCookie } = await manager.commit(session, { status: 200 });
          if (setCookie.length !== 1) throw new Error('a new session sent no cookie');
        }
      },
    };
  }
  if (kind === 'express') {
    const session = require('express-session');
    const store = new session.MemoryStore();
    return {
      keep: [store],
      size: () => new Promise((done) => store.length((_, n) => done(n))),
      async add(n) {
        for (let k = 0; k < n; k++) {
          const id = randomBytes(24).toString('base64url');
          await new Promise((done, fail) =>
            store.set(id, { cookie: new session.Cookie(), n: 1 }, (error) => (error ? fail(error) : done())),
          );
        }
      },
    };
  }
  throw new TypeError(`unknown kind ${kind}`);
}

const used = (m) => m.heapUsed + m.external;
const target = await setUp();
const before = settle();
const start = performance.now();
await target.add(count);
const ms = performance.now() - start;
const after = settle();
const stored = await target.size();
if (stored !== count) throw new Error(`expected ${count} stored sessions, found ${stored}`);
// A second batch of the same size: its growth is the steady cost per session, without the one-off growth
// of the process (the young generation and heap reserve grow during the first burst of allocations).
await target.add(count);
const second = settle();
if ((await target.size()) !== 2 * count) throw new Error('the second batch was not all stored');
const heapDelta = used(after) - used(before);
const rssDelta = after.rss - before.rss;
process.stdout.write(
  `${JSON.stringify({
    kind,
    count,
    stored,
    ms,
    heapDelta,
    rssDelta,
    heapPerSession: heapDelta / count,
    rssPerSession: rssDelta / count,
    secondHeapDelta: used(second) - used(after),
    secondRssDelta: second.rss - after.rss,
    kept: target.keep.length,
  })}\n`,
);
