/**
 * Bun and Deno (issue 9): Teller's fetch adapter with the memory store, served by each runtime
 * (`Bun.serve`, `Deno.serve`) over real HTTP on loopback from the BUILT package
 * (test/fixtures/runtimes/server.mjs; `npm test` builds first), and a client here in Node going through the
 * shared scenarios of ./helpers.ts: a guest's cart kept through login, 50 parallel writes and 20 parallel
 * updates of one session with none lost, logout clearing the cookie and ending the session (the old cookie
 * replayed is an empty anonymous session), "log out my other devices", the cookie's attributes, and a
 * handler that throws (a plain 500, nothing kept). Each app of APPS runs on each runtime. Then the README's
 * app for Bun and Deno runs as pasted into a project that installed Teller, started as the README says.
 *
 * How each runtime is started (Deno may listen on 127.0.0.1, and nothing else: no other network, no reads):
 * test/support/runtimes.ts. A runtime that does not run here skips its suites with a warning; under CI (`CI`
 * set) the file fails instead.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppProcess, stopApps } from '../support/app-server.js';
import { freePort } from '../support/net.js';
import { readmeBlock } from '../support/readme.js';
import { ROOT, RUNTIME_ENV, runtimeBin, runtimeHere, startRuntimeApp } from '../support/runtimes.js';
import {
  httpCaller,
  type SharedApp,
  sharedCartThroughLogin,
  sharedConcurrentWrites,
  sharedCookieAndThrow,
  sharedLogout,
  sharedRevokeOthers,
} from './helpers.js';

const RUNTIMES = ['bun', 'deno'] as const;
/**
 * The smoke apps: the modules of test/fixtures/runtimes/apps (each also listed in server.mjs's APPS, which
 * loads it). Another framework's app is one more module there and one more line in server.mjs.
 */
const APPS = readdirSync(join(ROOT, 'test/fixtures/runtimes/apps'))
  .filter((file) => file.endsWith('.mjs'))
  .map((file) => file.slice(0, -'.mjs'.length))
  .sort();
/** A server still running this long after it started exits by itself (a test process that lost it). */
const LIFETIME_MS = 120_000;

/** Whether each runtime runs here (under CI, one that does not fails the file). */
const here = { bun: await runtimeHere('bun'), deno: await runtimeHere('deno') };

for (const runtime of RUNTIMES) {
  for (const name of APPS) {
    describe.skipIf(!here[runtime])(
      `the ${name} app on ${runtime}, memory store, over HTTP on loopback`,
      () => {
        let server: AppProcess | undefined;
        beforeAll(async () => {
          server = await startRuntimeApp(runtime, name, LIFETIME_MS);
        });
        afterAll(async () => {
          if (server === undefined) return;
          // A clean shutdown: SIGTERM stopped the server and the manager, and the process exited 0.
          expect(await stopApps([server])).toEqual([0]);
        });
        const app = (): SharedApp => {
          const call = httpCaller(() => server?.port ?? 0);
          return { processes: [call], call };
        };
        const tag = `${runtime}-${name}`;

        it('a guest cart kept through login; 50 parallel adds and 20 withdrawals, none lost; logout ends it', async () => {
          const jar = await sharedCartThroughLogin(app(), `alice-${tag}`);
          await sharedConcurrentWrites(app(), jar);
          await sharedLogout(app(), jar);
        });

        it('"log out my other devices" ends the other session and keeps this one', async () => {
          await sharedRevokeOthers(app(), `bob-${tag}`);
        });

        it('the cookie is sid, HttpOnly, SameSite=Lax, Path=/, not Secure over http; a throw is a plain 500', async () => {
          await sharedCookieAndThrow(app());
        });

        it('the app is alive and logged its one error in one line, without a stack trace', () => {
          expect(server?.alive()).toBe(true);
          const log = server?.stderr() ?? '';
          expect(log).not.toMatch(/^\s+at\s/m);
          // The app's own lines (Deno adds a notice of its own about request.signal: see the README).
          expect(log.split('\n').filter((line) => line.startsWith('runtime-server:'))).toEqual([
            'runtime-server: Error: boom: an internal detail that must not reach the client',
          ]);
        });
      },
    );
  }
}

/** How the README's app is started on each runtime (as its first line says), on `port`. */
const README_COMMANDS = {
  bun: (port: number) => ({ args: ['app.js'], env: { PORT: String(port) } }),
  deno: (port: number) => ({
    args: ['serve', '--host', '127.0.0.1', '--port', String(port), 'app.js'],
    env: {},
  }),
};

for (const runtime of RUNTIMES) {
  describe.skipIf(!here[runtime])(`the README's app on ${runtime}, pasted into a project`, () => {
    const dir = mkdtempSync(join(tmpdir(), `teller-${runtime}-readme-`));
    let child: ChildProcess | undefined;
    let base = '';
    let output = '';

    beforeAll(async () => {
      const code = readmeBlock('js', (block) => block.includes('export default {'), 'for Bun and Deno');
      // The project: a package.json, Teller installed (this repository, built), the README's code as app.js.
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(ROOT, join(dir, 'node_modules', 'teller'));
      writeFileSync(join(dir, 'app.js'), code);
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      const { args, env } = README_COMMANDS[runtime](port);
      child = spawn(runtimeBin(runtime), args, {
        cwd: dir,
        env: { ...process.env, ...RUNTIME_ENV, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      process.once('exit', () => child?.kill('SIGKILL'));
      child.stdout?.on('data', (chunk) => (output += chunk));
      child.stderr?.on('data', (chunk) => (output += chunk));
      for (let tries = 0; ; tries++) {
        try {
          await fetch(`${base}/favicon.ico`, { method: 'HEAD' });
          return;
        } catch (error) {
          if (tries === 200 || child.exitCode !== null)
            throw new Error(`app.js did not start on ${runtime}: ${output}`, { cause: error });
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    });
    afterAll(() => {
      child?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('counts the visits of one browser in its session, and starts anew without the cookie', async () => {
      const first = await fetch(base);
      expect(await first.text()).toBe('visit 1\n');
      const setCookie = first.headers.getSetCookie();
      expect(setCookie).toHaveLength(1);
      const cookie = setCookie[0]!.split(';')[0]!;
      expect(cookie).toMatch(/^sid=[A-Za-z0-9_-]{43}$/);
      const second = await fetch(base, { headers: { cookie } });
      expect(await second.text()).toBe('visit 2\n');
      expect(second.headers.getSetCookie()).toEqual([]);
      expect(await (await fetch(base)).text()).toBe('visit 1\n');
    });
  });
}
