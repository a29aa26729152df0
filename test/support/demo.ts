/**
 * The demo (`examples/demo/server.js`, what `npm start` runs) as a child process for the end-to-end tests: on
 * a free port with the store it is given, plus a cookie-keeping HTTP client (Teller's own jar, which treats
 * loopback http as secure, as browsers do) and the skip rule for missing services and browsers.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CookieJar, fetchWithJar } from '../../src/jar/index.js';
import { type AppProcess, startApp } from './app-server.js';
import { freePort } from './net.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEMO = fileURLToPath(new URL('../../examples/demo/server.js', import.meta.url));

/** Every page of the demo. */
export const PAGES = ['/', '/login', '/logout', '/cart', '/bank', '/sessions', '/inspector'] as const;

export interface Demo extends AppProcess {
  readonly base: string;
}

function assertBuilt(): void {
  if (!existsSync(new URL('../../dist/index.js', import.meta.url)))
    throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
}

/** Starts the demo with `env` (TELLER_STORE above all) on a free loopback port; resolves once it listens. */
export async function startDemo(env: Record<string, string>): Promise<Demo> {
  assertBuilt();
  const port = await freePort();
  const app = await startApp({ HOST: '127.0.0.1', PORT: String(port), ...env }, 15_000, [
    process.execPath,
    DEMO,
  ]);
  return { ...app, base: `http://127.0.0.1:${app.port}` };
}

/** Runs the demo expecting it to stop by itself (a bad store): its exit code and stderr. */
export function runDemoToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  assertBuilt();
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [DEMO],
      { cwd: ROOT, env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env }, timeout: 20_000 },
      (error, _stdout, stderr) => resolve({ code: child.exitCode ?? (error ? -1 : 0), stderr }),
    );
  });
}

/** The first CSRF token of a page's forms. */
export function tokenOf(html: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (token === undefined) throw new Error('the page has no form with a CSRF token');
  return token;
}

export interface Answer {
  status: number;
  headers: Headers;
  html: string;
}

/** A browser-like client: keeps cookies, does not follow redirects (their status and cookies are checked). */
export function demoClient(base: string) {
  const jar = new CookieJar();
  const fetchJar = fetchWithJar(jar);
  const send = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await fetchJar(`${base}${path}`, { redirect: 'manual', ...init });
    return { status: res.status, headers: res.headers, html: await res.text() };
  };
  return {
    jar,
    get: (path: string, headers: Record<string, string> = {}) => send(path, { headers }),
    post: (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
      send(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      }),
    /** Logs in through the login form (a fresh token first); the answer to the POST. */
    async login(user: string, password: string, remember = false): Promise<Answer> {
      const csrf = tokenOf((await send('/login')).html);
      return this.post('/login', { csrf, user, password, ...(remember ? { remember: '1' } : {}) });
    },
    async balance(): Promise<number> {
      const html = (await send('/bank')).html;
      const shown = /id="balance">\$([\d,]+)</.exec(html)?.[1];
      if (shown === undefined) throw new Error('the bank page shows no balance');
      return Number(shown.replace(/,/g, ''));
    },
  };
}

/** Whether a service (or the browser) is there; without it the suite is skipped, except under CI where that fails. */
export function available(what: string, up: boolean): boolean {
  if (up) return true;
  if (process.env.CI) throw new Error(`${what} is missing: the demo's end-to-end tests must run in CI`);
  console.warn(`[demo e2e] ${what} is missing: its tests are skipped`);
  return false;
}

export const DEMO_PASSWORDS = { chuck: 'chuck-demo-pass', jan: 'jan-demo-pass' } as const;
