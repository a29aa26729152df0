/**
 * The Redis Cluster of `npm run bench:scale`: three redis-server masters of the bench's own (no replicas) on
 * free loopback ports whose port + 10000 (the cluster bus) is free too, in a temp directory, joined by
 * `redis-cli --cluster create --cluster-yes`, stopped (killed, directory removed) at the end of the run, or by
 * the exit of the process that started them. The shared Redis on 6379 is never touched; between runs the bench
 * empties its own nodes (FLUSHALL on these only). The tests have their own, fuller helper
 * (test/support/redis-cluster.ts: slots, kill and restart of a node); this one only starts and stops.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HOST = '127.0.0.1';
const START_MS = 15_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a command (bounded) and resolves with its output. */
function run(command, args, timeout = 10_000) {
  return new Promise((resolve, reject) =>
    execFile(command, args, { timeout, encoding: 'utf8' }, (error, stdout, stderr) =>
      error
        ? reject(new Error(`${command} ${args.join(' ')}: ${error.message} ${stdout}${stderr}`))
        : resolve(stdout),
    ),
  );
}

const cli = (port, ...args) => run('redis-cli', ['-h', HOST, '-p', String(port), ...args]);

function listens(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

async function freePortPair() {
  for (let tries = 0; tries < 100; tries++) {
    const port = await new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, HOST, () => {
        const { port: got } = server.address();
        server.close(() => resolve(got));
      });
    });
    if (port + 10000 <= 65535 && (await listens(port + 10000))) return port;
  }
  throw new Error('no free loopback port whose port + 10000 is free too');
}

function answers(port) {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, HOST, () => done(true));
  });
}

/** Why no cluster can be started here (undefined: it can). */
export async function clusterUnavailable() {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return undefined;
  } catch {
    return 'redis-server or redis-cli is not installed (the bench starts its own cluster nodes)';
  }
}

/** Starts the cluster: `{ ports, flush(), stop() }`. */
export async function startCluster(masters = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'teller-scale-cluster-'));
  const children = [];
  const kill = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  const stop = async () => {
    kill();
    await Promise.all(
      children.map((child) => (child.exitCode === null ? new Promise((r) => child.once('exit', r)) : null)),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = [];
    while (ports.length < masters) {
      const port = await freePortPair();
      // biome-ignore format: one flag and its value a line
      const child = spawn('redis-server', [
        '--port', String(port), '--bind', HOST,
        '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--dir', dir, '--logfile', join(dir, `${port}.log`),
        '--save', '', '--appendonly', 'no', '--daemonize', 'no',
      ], { stdio: 'ignore' });
      children.push(child);
      let up = false;
      for (let waited = 0; waited < START_MS && child.exitCode === null; waited += 50) {
        if ((up = await answers(port))) break;
        await sleep(50);
      }
      if (up) ports.push(port);
      else if (children.length > masters + 3) throw new Error('the cluster nodes did not start');
    }
    await run(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-yes'],
      START_MS,
    );
    for (let waited = 0; ; waited += 100) {
      const infos = await Promise.all(ports.map((p) => cli(p, 'CLUSTER', 'INFO').catch(String)));
      if (infos.every((info) => info.includes('cluster_state:ok') && info.includes(`known_nodes:${masters}`)))
        break;
      if (waited > START_MS)
        throw new Error(`the cluster did not reach cluster_state:ok: ${infos.join(' ')}`);
      await sleep(100);
    }
    return {
      ports,
      /** Empties the bench's own nodes (never the shared Redis). */
      flush: () => Promise.all(ports.map((p) => cli(p, 'FLUSHALL'))),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
