/**
 * What the README and the docs it links to tell a new user to type or paste works as written: the environment
 * `npm start` reads is documented, and the node:http server for the fetch handler (docs/adapters.md) and the
 * Redis examples (docs/stores.md) run as pasted (in a project that installed Teller), over real HTTP or against
 * the real server. Runs after `npm run build` (as `npm test` does). The README's quick starts:
 * readme-quick-starts.test.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.js';
import {
  type PastedServer,
  pastedProject,
  readme,
  readmeBlock,
  section,
  startPasted,
} from '../support/readme.js';
import {
  cli,
  type OwnRedisCluster,
  redisClusterToolsInstalled,
  startRedisCluster,
} from '../support/redis-cluster.js';

const root = process.cwd();

it('documents every environment variable npm start reads, in "Set up"', () => {
  const start = readFileSync(path.join(root, 'examples/demo/server.js'), 'utf8');
  const names = [...new Set([...start.matchAll(/process\.env\.([A-Z_]+)/g)].map((m) => m[1]!))];
  expect(names).toEqual(expect.arrayContaining(['PORT', 'HOST', 'TELLER_STORE']));
  const setUp = section(readme, '## Set up');
  for (const name of names) expect(setUp, name).toContain(`\`${name}\``);
});

/** One raw HTTP/1.1 exchange, for requests fetch() would refuse to send; resolves with the status line. */
const rawRequest = (port: number, text: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = createConnection(port, '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });

describe("docs/adapters.md's node:http server for the fetch handler, pasted into a project", () => {
  let project: ReturnType<typeof pastedProject>;
  let server: PastedServer;
  let base: string;

  beforeAll(async () => {
    const code = readmeBlock(
      'js',
      (block) => block.includes('withSession') && block.includes('createServer'),
      'serving withSession with node:http',
      'docs/adapters.md',
    );
    // The project: Teller installed (this repository, built), the code as server.mjs.
    project = pastedProject({ 'server.mjs': code });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = await startPasted(project.dir, 'server.mjs', base, { PORT: String(port), HOST: '127.0.0.1' });
  });
  afterAll(() => {
    server?.stop();
    project?.remove();
  });

  it('keeps a session across requests with its cookie, with bodies streamed in, and stores the socket address', async () => {
    const first = await fetch(`${base}/`);
    expect(first.status).toBe(200);
    expect(await first.text()).toMatch(/1/);
    const setCookie = first.headers.getSetCookie();
    expect(setCookie).toHaveLength(1);
    const cookie = setCookie[0]!.split(';')[0]!;

    const second = await fetch(`${base}/`, { headers: { cookie } });
    expect(second.status).toBe(200);
    expect(await second.text()).toMatch(/2/);
    const post = await fetch(`${base}/form`, {
      method: 'POST',
      headers: { cookie },
      body: 'a=1'.repeat(50_000),
    });
    expect(post.status).toBe(200);
    expect(await post.text()).toMatch(/3/);

    // clientIp gave Teller the socket's address: it is stored with the session (listSessions shows it).
    const db = new Database(path.join(project.dir, 'sessions.db'), { readonly: true, fileMustExist: true });
    try {
      const metas = (db.prepare('SELECT meta FROM teller_sessions').all() as Array<{ meta: string }>).map(
        (row) => (JSON.parse(row.meta) as { meta?: { ip?: string } }).meta,
      );
      // One row per session: this test's, and the one of the request that found the server up.
      expect(metas.length).toBeGreaterThan(0);
      for (const meta of metas) expect(meta?.ip).toBe('127.0.0.1');
    } finally {
      db.close();
    }
  });

  it('answers a request it cannot turn into a Request with a 500, and keeps serving', async () => {
    expect(
      await rawRequest(
        Number(new URL(base).port),
        'GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n',
      ),
    ).toBe('HTTP/1.1 500 Internal Server Error');
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });
});

/**
 * Runs a README Redis example (with `prefix` for its 'myapp:') as app.mjs in a project that installed Teller,
 * redis and ioredis: it writes a session, reads it back and prints its `n` (41). Resolves with the output.
 */
async function runRedisExample(code: string, prefix: string, env: Record<string, string>): Promise<string> {
  const { dir, remove } = pastedProject(
    {
      'app.mjs': `${code.replace("prefix: 'myapp:'", `prefix: ${JSON.stringify(prefix)}`)}
const first = await manager.load(undefined);
first.set('n', 41);
const { setCookie } = await manager.commit(first);
const again = await manager.load(setCookie[0].split(';')[0]);
console.log(JSON.stringify(again.get('n')));
await manager.commit(again);
await manager.close();
await client.quit();
`,
    },
    ['redis', 'ioredis', '@redis'],
  );
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['app.mjs'], {
        cwd: dir,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 20_000,
      });
      let text = '';
      child.stdout?.on('data', (chunk) => (text += chunk));
      child.stderr?.on('data', (chunk) => (text += chunk));
      child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(text))));
    });
  } finally {
    remove();
  }
}

describe("docs/stores.md's Redis store examples, pasted into a project", () => {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const { hostname, port } = new URL(redisUrl);
  const up = new Promise<boolean>((resolve) => {
    const socket = createConnection(Number(port || 6379), hostname, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });

  for (const client of ['redis', 'ioredis']) {
    it(`runs the ${client} example: a session written and read back`, async (context) => {
      if (!(await up)) {
        console.warn(`[readme.test] Redis is unreachable at ${redisUrl}: the ${client} example is not run`);
        context.skip();
      }
      const code = readmeBlock(
        'js',
        (block) => block.includes('createRedisStore') && block.includes(`from '${client}'`),
        `with createRedisStore and ${client}`,
        'docs/stores.md',
      );
      // This test's own prefix on the shared server; only its keys are deleted.
      const prefix = `teller-readme:${process.pid}:${client}:`;
      expect(code).toContain("prefix: 'myapp:'");
      try {
        expect((await runRedisExample(code, prefix, { REDIS_URL: redisUrl })).trim()).toBe('41');
      } finally {
        const keys = execFileSync('redis-cli', ['-u', redisUrl, '--scan', '--pattern', `${prefix}*`], {
          encoding: 'utf8',
        })
          .split('\n')
          .filter(Boolean);
        if (keys.length > 0) execFileSync('redis-cli', ['-u', redisUrl, 'DEL', ...keys]);
      }
    });
  }
});

describe("docs/stores.md's Redis Cluster examples, pasted into a project", () => {
  // A cluster of this test's own (3 masters on free loopback ports), stopped at the end.
  let cluster: OwnRedisCluster | undefined;
  beforeAll(async () => {
    if (await redisClusterToolsInstalled()) cluster = await startRedisCluster();
    else if (process.env.CI)
      throw new Error('redis-server and redis-cli are missing: the cluster examples must run in CI');
  }, 60_000);
  afterAll(() => cluster?.stop());

  for (const client of ['redis', 'ioredis']) {
    it(`runs the ${client} cluster example: a session written to the cluster and read back`, async (context) => {
      if (cluster === undefined) {
        console.warn(
          `[readme.test] redis-server or redis-cli is not installed: the ${client} cluster example is not run`,
        );
        return context.skip();
      }
      const code = readmeBlock(
        'js',
        (block) => block.includes(`from '${client}'`) && /createCluster\(|new Cluster\(/.test(block),
        `with a ${client} cluster client`,
        'docs/stores.md',
      );
      expect(code).toContain('process.env.REDIS_CLUSTER_URL');
      const prefix = `readme-${client}:`;
      const out = await runRedisExample(code, prefix, { REDIS_CLUSTER_URL: cluster.urls[0] as string });
      expect(out.trim()).toBe('41');
      // The session is in the cluster, on whichever master owns its key.
      const found = await Promise.all(
        cluster.ports.map((port) => cli(port, '--scan', '--pattern', `${prefix}s:*`)),
      );
      expect(found.join('').split('\n').filter(Boolean)).toHaveLength(1);
    });
  }
});
