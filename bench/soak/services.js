/**
 * The soak's own store servers (bench/soak.js), never the shared ones: it stops and starts them.
 *
 * - Redis: a redis-server on a free loopback port, its append-only file fsynced before every reply
 *   (`appendfsync always`) in a temp directory, so what a client was told was written survives a stop. A stop is
 *   a SIGKILL (a crash, the harder case); a start brings it up again on the same port from that file.
 * - PostgreSQL: a cluster of its own (`initdb` from /usr/lib/postgresql/<newest>/bin) in a temp directory owned
 *   by the `postgres` user (commands run as that user through `runuser` when we are root), listening on a free
 *   loopback port with its socket in that directory; stop is `pg_ctl stop -m fast`, start is `pg_ctl start`.
 *
 * Every server is also stopped, and its directory removed, when the process exits (a failed or interrupted run
 * leaves nothing behind): `cleanupSync()` does that synchronously, for the exit and signal handlers.
 * (The tests have their own TypeScript helper, test/support/redis-server.ts; plain Node cannot import it.)
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const HOST = '127.0.0.1';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What to undo at exit, newest first: synchronous functions. */
const undo = [];
/** Stops every server this module started and removes their directories; safe to call more than once. */
export function cleanupSync() {
  while (undo.length > 0) {
    try {
      undo.pop()();
    } catch {
      // Best effort: the next step still runs.
    }
  }
}

/** A loopback port free now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether a redis-server on `port` answers PING with PONG within 1 s. */
function pings(port) {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = '';
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.connect(port, HOST, () => socket.write('PING\r\n'));
  });
}

/** Whether `command --version` runs here. */
export function commandRuns(command) {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts a redis-server of the soak's own: `{ url, stop(), start() }`, up when this resolves. */
export async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'teller-soak-redis-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', HOST, '--save', '', '--dir', dir];
  args.push('--appendonly', 'yes', '--appendfsync', 'always');
  let child;
  undo.push(() => rmSync(dir, { recursive: true, force: true }));
  undo.push(() => child?.kill('SIGKILL'));

  async function start() {
    let output = '';
    child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => {
      output = (output + chunk.toString('utf8')).slice(-2000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    for (let i = 0; i < 400; i++) {
      if (child.exitCode !== null) break;
      if (await pings(port)) return;
      await sleep(25);
    }
    child.kill('SIGKILL');
    throw new Error(
      `redis-server did not come up on port ${port}: ${output.trim().split('\n').at(-1) ?? ''}`,
    );
  }

  function stop() {
    const current = child;
    return new Promise((resolve) => {
      if (current.exitCode !== null || current.signalCode !== null) return resolve();
      current.once('exit', () => resolve());
      current.kill('SIGKILL');
    });
  }

  await start();
  return { kind: 'redis', url: `redis://${HOST}:${port}`, stop, start };
}

/** The newest PostgreSQL server binaries on this machine, or undefined. */
export function postgresBin() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? undefined : join(base, versions[0], 'bin');
}

/** Runs a PostgreSQL command as the `postgres` user (through runuser when we are root), bounded. */
function asPostgres(bin, command, args, timeout = 60_000) {
  const root = process.getuid?.() === 0;
  const program = root ? 'runuser' : join(bin, command);
  const argv = root ? ['-u', 'postgres', '--', join(bin, command), ...args] : args;
  return new Promise((resolve, reject) =>
    execFile(program, argv, { timeout, encoding: 'utf8' }, (error, stdout, stderr) =>
      error
        ? reject(new Error(`${command} ${args.join(' ')}: ${error.message.trim()} ${stderr}`))
        : resolve(stdout),
    ),
  );
}

/** Starts a PostgreSQL cluster of the soak's own: `{ url, stop(), start() }`, accepting connections. */
export async function startPostgres() {
  const bin = postgresBin();
  if (bin === undefined) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const dir = mkdtempSync(join(tmpdir(), 'teller-soak-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
  }
  const user = process.getuid?.() === 0 ? 'postgres' : userInfo().username;
  const port = await freePort();
  let running = false;
  undo.push(() => rmSync(dir, { recursive: true, force: true }));
  undo.push(() => {
    if (!running) return;
    const root = process.getuid?.() === 0;
    const pgCtl = join(bin, 'pg_ctl');
    const argv = ['-D', data, '-m', 'immediate', '-w', 'stop'];
    spawnSync(root ? 'runuser' : pgCtl, root ? ['-u', 'postgres', '--', pgCtl, ...argv] : argv, {
      stdio: 'ignore',
      timeout: 30_000,
    });
  });
  await asPostgres(bin, 'initdb', ['-D', data, '-U', user, '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=${HOST} -c max_connections=100`;

  async function start() {
    running = true;
    await asPostgres(bin, 'pg_ctl', ['-D', data, '-l', log, '-o', options, '-w', '-t', '60', 'start']);
  }
  async function stop() {
    await asPostgres(bin, 'pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
    running = false;
  }

  await start();
  return { kind: 'postgres', url: `postgres://${user}@${HOST}:${port}/postgres`, stop, start };
}
