/**
 * The README's quick starts run as pasted: each block of "Quick start" is written as server.mjs into a project
 * that installed Teller (this repository, built) and the packages its first line names, started with
 * `node server.mjs`, and walked over HTTP the way the section says: visits counted in the session, a login
 * that gives a new id, the old cookie replayed, a logout that clears the cookie. The Bun and Deno block runs in
 * test/adapters/runtimes.test.ts. Runs after `npm run build` (as `npm test` does).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.js';
import {
  codeBlocks,
  type PastedServer,
  pastedProject,
  readme,
  section,
  startPasted,
} from '../support/readme.js';

interface QuickStart {
  /** The `###` heading of the block in "Quick start". */
  title: string;
  /** What the project installs beside Teller (the block's first line names them). */
  packages: string[];
  /** What the first visit after login shows: Teller keeps the data at login, express-session's regenerate drops it. */
  afterLogin: string;
  env?: Record<string, string>;
}

const QUICK_STARTS: QuickStart[] = [
  { title: 'node:http', packages: [], afterLogin: 'visit 3, user alice' },
  { title: 'Express', packages: ['express'], afterLogin: 'visit 3, user alice' },
  { title: 'Fastify', packages: ['fastify'], afterLogin: 'visit 3, user alice' },
  { title: 'Hono', packages: ['hono', '@hono/node-server'], afterLogin: 'visit 3, user alice' },
  {
    title: 'express-session drop-in',
    packages: ['express'],
    afterLogin: 'visit 1, user alice',
    env: { SESSION_SECRET: randomBytes(32).toString('base64url') },
  },
];
/** Quick starts run by another test file. */
const ELSEWHERE = ['fetch: Bun and Deno'];

const quickStart = section(readme, '## Quick start');

it('every quick start of the README is run by a test', () => {
  const titles = [...quickStart.matchAll(/^### (.+)$/gm)].map((m) => m[1]);
  expect(titles.sort()).toEqual([...QUICK_STARTS.map((q) => q.title), ...ELSEWHERE].sort());
});

/** The value a Set-Cookie line gives its cookie, as `name=value`. */
const pair = (setCookie: string) => setCookie.split(';')[0]!;

for (const { title, packages, afterLogin, env } of QUICK_STARTS) {
  describe(`the ${title} quick start, pasted into a project`, () => {
    let project: ReturnType<typeof pastedProject>;
    let server: PastedServer;
    let base = '';

    beforeAll(async () => {
      const blocks = codeBlocks(section(quickStart, `### ${title}`), 'js');
      expect(blocks, `one js block under "### ${title}"`).toHaveLength(1);
      const code = blocks[0]!;
      for (const name of packages) expect(code.split('\n')[0], 'its first line names it').toContain(name);
      project = pastedProject({ 'server.mjs': code }, packages);
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      server = await startPasted(project.dir, 'server.mjs', base, { PORT: String(port), ...env });
    });
    afterAll(() => {
      server?.stop();
      project?.remove();
    });

    const get = async (cookie?: string) => {
      const response = await fetch(base, { headers: cookie ? { cookie } : {} });
      expect(response.status).toBe(200);
      return { text: (await response.text()).trim(), setCookie: response.headers.getSetCookie() };
    };
    const post = async (path: string, cookie: string) => {
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { cookie },
        redirect: 'manual',
      });
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/');
      return response.headers.getSetCookie();
    };

    it('counts visits in the session, rotates the id at login, and clears the cookie at logout', async () => {
      const first = await get();
      expect(first.text).toBe('visit 1, user none');
      expect(first.setCookie).toHaveLength(1);
      expect(first.setCookie[0]).toMatch(/HttpOnly/i);
      const before = pair(first.setCookie[0]!);
      expect((await get(before)).text).toBe('visit 2, user none');

      const login = await post('/login', before);
      expect(login).toHaveLength(1);
      const after = pair(login[0]!);
      expect(after.split('=')[0]).toBe(before.split('=')[0]);
      expect(after).not.toBe(before);
      expect((await get(after)).text).toBe(afterLogin);
      // The id from before the login is not the session any more: a fresh one.
      expect((await get(before)).text).toBe('visit 1, user none');

      const logout = await post('/logout', after);
      expect(logout).toHaveLength(1);
      expect(logout[0]).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/i);
      expect((await get(after)).text).toBe('visit 1, user none');
      expect(server.child.exitCode).toBeNull();
    });
  });
}
