/**
 * Bun and Deno as the tests run them: both come from the npm registry as dev dependencies (`bun`, `deno`:
 * packages that carry their binary), so `npm ci` installs them and they run from node_modules/.bin. Every run is
 * bounded (killed after its time) and reads the BUILT package (`dist/`, from `npm run build`; `npm test` builds
 * first).
 *
 * Deno runs with the narrowest permissions that work: listening on a port of the system's choosing on
 * 127.0.0.1 and nothing else of the network (`--allow-net=127.0.0.1:0`: it cannot even connect out), reading
 * only what the run names (the conformance data; loading modules needs no permission), no environment, no
 * writes, no subprocesses; `--no-lock` (no deno.lock written beside package.json) and no prompt. Its bare
 * imports (`teller/...` by the package's own name, `tldts` from within it) resolve through package.json and
 * node_modules (`--node-modules-dir=manual`: node_modules as npm made it, nothing downloaded). Bun has no
 * permission system; `--no-install` keeps it from installing a missing package.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AppProcess, startApp } from './app-server.js';
import { commandRuns } from './redis-server.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/runtimes');

export type RuntimeName = 'node' | 'bun' | 'deno';

/** What a run may touch (Deno enforces it): the directories it reads, whether it listens on 127.0.0.1. */
export interface RunGrants {
  read?: string[];
  net?: boolean;
}

/** The binary of a runtime installed from npm. */
export const runtimeBin = (name: Exclude<RuntimeName, 'node'>) => join(ROOT, 'node_modules/.bin', name);

/** The command line that runs `script` (a file of test/fixtures/runtimes) with `args` on `runtime`. */
export function commandFor(
  runtime: RuntimeName,
  script: string,
  args: readonly string[],
  grants: RunGrants = {},
): [string, ...string[]] {
  const file = join(FIXTURES, script);
  switch (runtime) {
    case 'node':
      return [process.execPath, file, ...args];
    case 'bun':
      return [runtimeBin('bun'), '--no-install', file, ...args];
    case 'deno':
      return [
        runtimeBin('deno'),
        'run',
        '--no-prompt',
        '--no-lock',
        '--node-modules-dir=manual',
        ...(grants.read?.length ? [`--allow-read=${grants.read.join(',')}`] : []),
        ...(grants.net ? ['--allow-net=127.0.0.1:0'] : []),
        file,
        ...args,
      ];
  }
}

/** The environment of a runtime's run: no update check, no telemetry, no colour in its messages. */
export const RUNTIME_ENV: Record<string, string> = {
  DENO_NO_UPDATE_CHECK: '1',
  DO_NOT_TRACK: '1',
  NO_COLOR: '1',
};

/**
 * Whether `runtime` runs here (`--version` exits 0). When it does not, under CI (`CI` set) that is an error
 * (the smoke tests must run there: `npm ci` installs both); elsewhere a warning, and the caller skips.
 */
export async function runtimeHere(runtime: Exclude<RuntimeName, 'node'>): Promise<boolean> {
  if (await commandRuns(runtimeBin(runtime))) return true;
  const why = `${runtime} does not run from node_modules/.bin (npm ci installs it: it is a dev dependency)`;
  if (process.env.CI) throw new Error(`${why}: the ${runtime} smoke tests must run in CI`);
  console.warn(`[runtimes] ${why}: its smoke tests are skipped`);
  return false;
}

/** What a bounded run printed, and how it ended. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` on `runtime` to its end; rejects when it is not over within `timeoutMs` (it is killed), or
 * cannot start.
 */
export function runScript(
  runtime: RuntimeName,
  script: string,
  args: readonly string[],
  grants: RunGrants,
  timeoutMs: number,
): Promise<RunResult> {
  const [program, ...rest] = commandFor(runtime, script, args, grants);
  const child = spawn(program, rest, {
    cwd: ROOT,
    env: { ...process.env, ...RUNTIME_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${runtime} ${script}: not done within ${timeoutMs} ms (killed); stderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Starts the smoke app `app` (a module of test/fixtures/runtimes/apps) on `runtime`; resolves once it listens.
 * Stop it with `stopApps` (test/support/app-server.ts): SIGTERM, then SIGKILL after a bound.
 */
export function startRuntimeApp(
  runtime: Exclude<RuntimeName, 'node'>,
  app: string,
  lifetimeMs: number,
): Promise<AppProcess> {
  return startApp(
    RUNTIME_ENV,
    15_000,
    commandFor(runtime, 'server.mjs', [app, String(lifetimeMs)], { net: true }),
  );
}
