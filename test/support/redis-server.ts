/**
 * A redis-server of a test's own, on a free loopback port: for the tests that kill, restart or flush Redis,
 * which must never do that to the shared server (`REDIS_URL`). `stop()` is a SIGKILL (a crash, not a clean
 * shutdown); `start()` brings a new server up on the same port, so clients reconnect by themselves. Without
 * `dir` nothing is kept across a restart; with it, an append-only file fsynced before every reply (what a
 * client was told was written survives the SIGKILL). Every server is also killed when the test process exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { freePort } from './net.js';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** SIGKILLs the server and resolves once it exited: performance.now() then (nothing sent later reached it). */
  stop(): Promise<number>;
  /** Starts the server again on the same port (after `stop()`); resolves once it answers PING. */
  start(): Promise<void>;
}

export interface RedisServerOptions {
  /** A directory for an append-only file (`appendfsync always`): data survives `stop()` + `start()`. */
  dir?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The servers still running, killed when the test process exits (a failed test never leaves one behind). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Whether `command --version` runs on this machine. */
export function commandRuns(command: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

/** Whether a `redis-server` binary runs on this machine. */
export function redisServerAvailable(): Promise<boolean> {
  return commandRuns('redis-server');
}

/** Whether the server on `port` answers PING with PONG within 1 s (not while it is still loading its data). */
export function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

/** Starts a redis-server of the test's own; it answers PING when this resolves. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', ''];
  if (options.dir === undefined) args.push('--appendonly', 'no');
  else args.push('--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.dir);
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      throw new Error(`redis-server on port ${port} is still running`);
    }
    let output = '';
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    running.add(started);
    started.once('exit', () => running.delete(started));
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-2000);
    };
    started.stdout?.on('data', keep);
    started.stderr?.on('data', keep);
    for (let i = 0; i < 200; i++) {
      if (started.exitCode !== null) break;
      if (await pings(port)) return;
      await sleep(25);
    }
    started.kill('SIGKILL');
    throw new Error(
      `redis-server did not come up on port ${port}: ${output.trim().split('\n').at(-1) ?? ''}`,
    );
  }

  function stop(): Promise<number> {
    const current = child;
    return new Promise((resolve) => {
      if (current === undefined || current.exitCode !== null || current.signalCode !== null) {
        resolve(performance.now());
        return;
      }
      current.once('exit', () => resolve(performance.now()));
      current.kill('SIGKILL');
    });
  }

  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
