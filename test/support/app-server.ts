/**
 * Child processes running `test/fixtures/app-server.mjs` (a Teller app on node:http over the built package):
 * started together over one store, stopped together (SIGTERM, then SIGKILL after a bound) even when a test
 * failed, and killed when the test process exits. What each one wrote on stderr is kept for the tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('../fixtures/app-server.mjs', import.meta.url));

/** One app-server child. */
export interface AppProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** Whether it is still running. */
  alive(): boolean;
}

/** The children still running, killed when the test process exits. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts one child with `env` added to this process's environment; resolves once it listens. `command` is the
 * program and its arguments (default: this Node on the app-server fixture); any program that prints
 * `listening <port>` (or, as the demo does, `… listening on http://host:<port>/`) on stdout and exits on SIGTERM fits (test/support/runtimes.ts starts Bun and Deno so).
 */
export function startApp(
  env: Record<string, string>,
  startTimeoutMs = 15_000,
  command: readonly [string, ...string[]] = [process.execPath, FIXTURE],
): Promise<AppProcess> {
  const [program, ...args] = command;
  const label = basename(args.find((arg) => /\.m?[jt]s$/.test(arg)) ?? program);
  const child = spawn(program, args, {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const app = (port: number): AppProcess => ({
    port,
    child,
    stderr: () => err,
    alive: () => child.exitCode === null && child.signalCode === null,
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${label} ${why}${err === '' ? '' : `: ${err.trim()}`}`));
    };
    const timer = setTimeout(() => fail(`did not listen within ${startTimeoutMs} ms`), startTimeoutMs);
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before listening`));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /^(?:listening |.*\blistening on http:\/\/\S+?:)(\d+)\b/m.exec(out);
      if (match === null) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.once('exit', () => running.delete(child));
      resolve(app(Number(match[1])));
    });
  });
}

/** Starts `count` children with the same `env`, or none (the ones started are stopped on a failure). */
export async function startApps(count: number, env: (index: number) => Record<string, string>) {
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startApp(env(i))));
  const apps = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await stopApps(apps);
    throw failed.reason;
  }
  return apps;
}

/**
 * Stops the children: SIGTERM (a clean shutdown closes the server, the manager and the store's client), SIGKILL
 * for one still running after `graceMs`. Resolves with how each ended: an exit code, or the signal's name.
 */
export function stopApps(apps: readonly AppProcess[], graceMs = 5_000): Promise<Array<number | string>> {
  return Promise.all(
    apps.map(
      ({ child }) =>
        new Promise<number | string>((resolve) => {
          const ended = () => resolve(child.signalCode ?? child.exitCode ?? 'unknown');
          if (child.exitCode !== null || child.signalCode !== null) return ended();
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            ended();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}
